process BRT_ADOC {
    tag "${meta.id}"
    label 'process_single'
    container "${params.container_emflow}"
    // SPEC §9 layout: OUT/<BASENAME>/ (status records in OUT/<BASENAME>/.emflow/)
    publishDir "${params.outdir}/${meta.id}/.emflow", mode: params.publish_dir_mode, pattern: '*.status.json'

    input:
    tuple val(meta), path(stack), path(companions), path(user_adoc, stageAs: 'user/*')
    val options  // emflow adoc options from the pipeline parameters (an input, so -resume sees changes)

    output:
    tuple val(meta), path("${meta.id}.adoc"), emit: adoc, optional: true
    tuple val(meta), path("*.status.json"), emit: status
    tuple val("${task.process}"), val('emflow'), eval('emflow --version | sed "s/^.* //"'), emit: versions_emflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    // a samplesheet row's values (checked: plain numbers and words) and where they came from
    def row = meta.row ? (meta.row.collect { column, value -> "--row ${column}=${value}" } + ["--row-source '${meta.row_source}'"]).join(' ') : ''
    if (user_adoc) {
        // The user's BASENAME.adoc beside the stack: validated as BRT reads it, then used as is.
        """
        emflow record --series ${meta.id} --step adoc --status-dir . -- \\
            adoc-check ${user_adoc}
        if grep -q '"status": *"done"' ${meta.id}.adoc.status.json; then
            cp ${user_adoc} ${meta.id}.adoc
        fi
        """
    } else {
        """
        emflow record --series ${meta.id} --step adoc --status-dir . -- \\
            adoc ${stack} --outdir . ${options} ${row} ${args}
        """
    }

    stub:
    """
    touch ${meta.id}.adoc
    touch ${meta.id}.adoc.status.json
    """
}
