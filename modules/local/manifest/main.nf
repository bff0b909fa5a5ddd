process MANIFEST {
    tag "assets.json"
    label 'process_single'
    container "${params.container_emflow}"
    publishDir "${params.outdir}", mode: params.publish_dir_mode

    input:
    tuple val(relpaths), path(files, stageAs: 'staged/?/*')
    path status_files, stageAs: 'status/*'
    path inputs, stageAs: 'input/*'  // the input folder's entries, or the samplesheet's stacks
    val options  // --callback-url URL or '' (the token comes from $EMFLOW_TOKEN, never from params or files)

    output:
    path "assets.json", emit: assets
    path "report.html", emit: report
    path "run_log.txt", emit: log
    tuple val("${task.process}"), val('emflow'), eval('emflow --version | sed "s/^.* //"'), emit: versions_emflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    // Rebuild the published SPEC §9 tree (OUT/<series>/...) from the staged outputs; the
    // relative paths come from the workflow and hold only validated series names.
    def staged = files instanceof List ? files : [files]
    def links = [relpaths, staged].transpose().collect { rel, f ->
        "mkdir -p \"\$(dirname 'tree/${rel}')\" && ln -s \"\$PWD/${f}\" 'tree/${rel}'"
    }.join('\n')
    """
    mkdir -p tree status input
    ${links}
    emflow manifest tree --input-dir input --status-dir status ${options} ${args} > manifest.txt 2> >(tee manifest.log >&2)
    mv tree/assets.json tree/report.html .
    {
        echo "emflow pipeline run: \$(cat manifest.txt)"
        cat manifest.log
        for record in status/*.status.json; do
            [ -e "\$record" ] && echo "\$(basename "\$record" .status.json): \$(grep -o '"status": *"[a-z]*"' "\$record" | head -n1)"
        done
    } > run_log.txt
    cat run_log.txt
    """

    stub:
    """
    touch assets.json report.html run_log.txt
    """
}
