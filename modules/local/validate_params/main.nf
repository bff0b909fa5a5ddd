process VALIDATE_PARAMS {
    tag "${params_json.name}"
    label 'process_single'
    container "${params.container_emflow}"

    input:
    path params_json
    path schema

    output:
    path "params_validation.txt", emit: report
    tuple val("${task.process}"), val('emflow'), eval('emflow --version | sed "s/^.* //"'), emit: versions_emflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    """
    emflow validate-params ${params_json} --schema ${schema} ${args} > params_validation.txt
    """

    stub:
    """
    touch params_validation.txt
    """
}
