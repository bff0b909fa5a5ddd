process RUN_STATUS {
    tag "${assets.name}"
    label 'process_single'
    container "${params.container_emflow}"

    input:
    path assets

    output:
    path "run_status.txt", emit: status
    tuple val("${task.process}"), val('emflow'), eval('emflow --version | sed "s/^.* //"'), emit: versions_emflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    // Exit 1 (so the run exits 1, SPEC §10) when any input failed, although assets.json's status is then
    // still "success" (the portal's any-file rule, SPEC §8); assets.json says which failed and why.
    """
    emflow validate-assets ${assets} > run_status.txt
    cat run_status.txt
    if ! grep -q '(status success, .*, 0 failed)\$' run_status.txt; then
        echo "emflow: not every input succeeded (see assets.json and report.html in the output folder)" >&2
        exit 1
    fi
    """

    stub:
    """
    touch run_status.txt
    """
}
