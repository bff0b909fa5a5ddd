process ENCODE_MOVIE {
    tag "${meta.id} ${kind}"
    label 'process_low'
    container "${params.container_emflow}"
    // SPEC §9 layout: OUT/<BASENAME>/ (status records in OUT/<BASENAME>/.emflow/)
    publishDir "${params.outdir}/${meta.id}", mode: params.publish_dir_mode, saveAs: { filename -> filename.endsWith('.status.json') ? ".emflow/${filename}" : filename }

    input:
    tuple val(meta), path(stats), path(frames, stageAs: 'frames/*'), val(kind)
    val options  // --fps N --size PX

    output:
    tuple val(meta), path("*.mp4"), emit: movie, optional: true
    tuple val(meta), path("keyimg_*.jpg"), emit: images, optional: true
    tuple val(meta), path("*.status.json"), emit: status
    tuple val("${task.process}"), val('emflow'), eval('emflow --version | sed "s/^.* //"'), emit: versions_emflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    // Tilt movie + key image + thumbnail (SPEC §4), or the reconstruction movie (SPEC §5).
    def step = kind == 'tilt' ? 'tilt_movie' : 'rec_movie'
    def movie = kind == 'tilt' ? "tiltMov_${meta.id}.mp4" : "keyMov_${meta.id}.mp4"
    def images = kind == 'tilt' ? "--key-image keyimg_${meta.id}.jpg --thumbnail keyimg_${meta.id}_s.jpg" : ''
    def slabs = (frames instanceof List ? frames : [frames]).join(' ')
    """
    emflow record --series ${meta.id} --step ${step} --status-dir . -- \\
        encode-movie --stats ${stats} --output ${movie} ${options} ${images} ${args} ${slabs}
    """

    stub:
    def step = kind == 'tilt' ? 'tilt_movie' : 'rec_movie'
    def movie = kind == 'tilt' ? "tiltMov_${meta.id}.mp4" : "keyMov_${meta.id}.mp4"
    def images = kind == 'tilt' ? "keyimg_${meta.id}.jpg keyimg_${meta.id}_s.jpg" : ''
    """
    touch ${movie} ${images}
    touch ${meta.id}.${step}.status.json
    """
}
