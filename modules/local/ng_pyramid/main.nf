process NG_PYRAMID {
    tag "${meta.id}"
    label 'process_medium'
    container "${params.container_emflow}"
    // SPEC §9 layout: OUT/<BASENAME>/ (status records in OUT/<BASENAME>/.emflow/)
    publishDir "${params.outdir}/${meta.id}", mode: params.publish_dir_mode, saveAs: { filename -> filename.endsWith('.status.json') ? ".emflow/${filename}" : filename }

    input:
    tuple val(meta), path(volume)
    val options  // --mad M --chunk N --ng-format precomputed|zarr|both

    output:
    tuple val(meta), path("neuro-${meta.id}"), emit: precomputed, optional: true
    tuple val(meta), path("${meta.id}_min_max.json"), emit: minmax, optional: true
    tuple val(meta), path("${meta.id}.ome.zarr"), emit: zarr, optional: true
    tuple val(meta), path("${meta.id}_shader.json"), emit: shader, optional: true
    tuple val(meta), path("${meta.id}_neuroglancer.json"), emit: state, optional: true
    tuple val(meta), path("*.status.json"), emit: status
    tuple val("${task.process}"), val('emflow'), eval('emflow --version | sed "s/^.* //"'), emit: versions_emflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def zarr = options =~ /--ng-format (zarr|both)/ ? "--zarr-out ${meta.id}.ome.zarr" : ''
    """
    emflow record --series ${meta.id} --step pyramid --status-dir . -- \\
        pyramid ${volume} neuro-${meta.id} --minmax-json ${meta.id}_min_max.json --neuroglancer-json ${meta.id}_neuroglancer.json --workers ${task.cpus} ${options} ${zarr} ${args}
    """

    stub:
    def zarr = options =~ /--ng-format (zarr|both)/ ? "mkdir -p ${meta.id}.ome.zarr && touch ${meta.id}_shader.json" : ''
    """
    ${zarr}
    mkdir -p neuro-${meta.id}
    touch neuro-${meta.id}/info
    touch ${meta.id}_min_max.json
    touch ${meta.id}_neuroglancer.json
    touch ${meta.id}.pyramid.status.json
    """
}
