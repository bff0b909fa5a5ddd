process SECTION_STATS {
    tag "${meta.id} ${kind}"
    label 'process_low'
    container "${params.container_emflow}"
    // SPEC §9 layout: OUT/<BASENAME>/ (status records in OUT/<BASENAME>/.emflow/)
    publishDir "${params.outdir}/${meta.id}/.emflow", mode: params.publish_dir_mode, pattern: '*.status.json'

    input:
    tuple val(meta), path(volume), val(kind)

    output:
    tuple val(meta), path(volume), path("${meta.id}.${kind}.stats.json"), emit: stats, optional: true
    tuple val(meta), path("*.status.json"), emit: status
    tuple val("${task.process}"), val('emflow'), eval('emflow --version | sed "s/^.* //"'), emit: versions_emflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def step = kind == 'tilt' ? 'tilt_movie_stats' : 'rec_movie_stats'
    """
    emflow record --series ${meta.id} --step ${step} --status-dir . -- \\
        section-stats ${volume} --output ${meta.id}.${kind}.stats.json --kind ${kind} --workers ${task.cpus} ${args}
    """

    stub:
    def step = kind == 'tilt' ? 'tilt_movie_stats' : 'rec_movie_stats'
    """
    echo '{"shape": [3, 8, 8]}' > ${meta.id}.${kind}.stats.json
    touch ${meta.id}.${step}.status.json
    """
}
