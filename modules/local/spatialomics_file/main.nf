process SPATIALOMICS_FILE {
    tag "${meta.group}/${meta.id}"
    label 'process_medium'
    container "${params.container_emflow}"
    publishDir "${params.outdir}", mode: params.publish_dir_mode

    input:
    tuple val(meta), path(image)

    output:
    tuple val(meta), path("${meta.group}/${meta.id}"), emit: outdir
    tuple val("${task.process}"), val('emflow'), eval('emflow --version | sed "s/^.* //"'), emit: versions_emflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    // An unreadable file is recorded (status error in <stem>.asset.json) and exits 0.
    def args = task.ext.args ?: ''
    """
    emflow spatialomics-file ${image} --group ${meta.group} --outdir ${meta.group}/${meta.id} ${args}
    """

    stub:
    """
    mkdir -p ${meta.group}/${meta.id}
    touch ${meta.group}/${meta.id}/thumb_${meta.id}.jpg
    touch ${meta.group}/${meta.id}/keyimg_${meta.id}.jpg
    touch ${meta.group}/${meta.id}/${meta.id}.asset.json
    """
}
