process RENDER_FRAMES {
    tag "${meta.id} ${kind} ${start}-${stop}"
    label 'process_single'
    container "${params.container_emflow}"
    // SPEC §9 layout: OUT/<BASENAME>/ (status records in OUT/<BASENAME>/.emflow/)
    publishDir "${params.outdir}/${meta.id}/.emflow", mode: params.publish_dir_mode, pattern: '*.status.json'

    input:
    tuple val(meta), path(volume), path(stats), val(kind), val(start), val(stop)

    output:
    tuple val(meta), val(start), path("${meta.id}.${kind}.${start}.frames"), emit: frames, optional: true
    tuple val(meta), path("*.status.json"), emit: status
    tuple val("${task.process}"), val('emflow'), eval('emflow --version | sed "s/^.* //"'), emit: versions_emflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def step = "${kind == 'tilt' ? 'tilt_movie' : 'rec_movie'}_frames_${start}"
    """
    emflow record --series ${meta.id} --step ${step} --status-dir . -- \\
        render-frames ${volume} --stats ${stats} --start ${start} --stop ${stop} --output ${meta.id}.${kind}.${start}.frames ${args}
    """

    stub:
    def step = "${kind == 'tilt' ? 'tilt_movie' : 'rec_movie'}_frames_${start}"
    """
    touch ${meta.id}.${kind}.${start}.frames
    touch ${meta.id}.${step}.status.json
    """
}
