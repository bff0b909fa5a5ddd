process REC_VOLUMES {
    tag "${meta.id}"
    label 'process_low'
    container "${params.container_emflow}"
    // SPEC §9 layout: OUT/<BASENAME>/ (status records in OUT/<BASENAME>/.emflow/)
    publishDir "${params.outdir}/${meta.id}", mode: params.publish_dir_mode, saveAs: { filename -> filename.endsWith('.status.json') ? ".emflow/${filename}" : filename }

    input:
    tuple val(meta), path(rec)

    output:
    tuple val(meta), path("ave_${meta.id}.mrc"), emit: ave, optional: true
    tuple val(meta), path("avebin8_${meta.id}.mrc"), emit: avebin8, optional: true
    tuple val(meta), path("*.status.json"), emit: status
    tuple val("${task.process}"), val('emflow'), eval('emflow --version | sed "s/^.* //"'), emit: versions_emflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    """
    emflow record --series ${meta.id} --step rec_movie_volumes --status-dir . -- \\
        rec-volumes ${rec} --outdir . --workers ${task.cpus} ${args}
    """

    stub:
    """
    touch ave_${meta.id}.mrc avebin8_${meta.id}.mrc
    touch ${meta.id}.rec_movie_volumes.status.json
    """
}
