process SPATIALOMICS_MANIFEST {
    tag "assets.json"
    label 'process_single'
    container "${params.container_emflow}"

    input:
    path outdirs, stageAs: 'staged/?/*'

    output:
    path "assets.json", emit: assets
    tuple val("${task.process}"), val('emflow'), eval('emflow --version | sed "s/^.* //"'), emit: versions_emflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    // Merge the per-file entries (<group>/<stem>/<stem>.asset.json, written by
    // `emflow spatialomics-file`) into OUT/assets.json with the SPEC §8 top-level status.
    """
    python3 - <<'PYEOF'
    import glob, json
    files = [json.load(open(p)) for p in sorted(glob.glob("staged/*/*/*.asset.json"))]
    failed = sum(f.get("status") != "success" for f in files)
    status = "error" if not files or failed == len(files) else ("partial" if failed else "success")
    with open("assets.json", "w") as out:
        json.dump({"status": status, "files": files}, out, indent=2)
        out.write("\\n")
    PYEOF
    emflow validate-assets assets.json
    """

    stub:
    """
    touch assets.json
    """
}
