process VALIDATE_PARAMS {
    tag "${params_json.name}"
    label 'process_single'
    container "${params.container_emflow}"

    input:
    path params_json
    path schema
    path samplesheet  // the --input samplesheet (staged), or [] for a folder

    output:
    path "params_validation.txt", emit: report
    path "series.json", emit: series  // the checked samplesheet rows ([] for a folder)
    tuple val("${task.process}"), val('emflow'), eval('emflow --version | sed "s/^.* //"'), emit: versions_emflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    // Paths were resolved and checked in the head job, where they are; this task sees only staged files.
    def sheet = samplesheet ? "--samplesheet '${samplesheet.name.replace("'", "'\\''")}'" : ''
    """
    emflow validate-params ${params_json} --schema ${schema} --no-path-checks ${sheet} --series-json series.json ${args} > params_validation.txt
    """

    stub:
    // the real check (cheap): the samplesheet rows it writes are what the stub run's series come from
    def stub_sheet = samplesheet ? "--samplesheet '${samplesheet.name.replace("'", "'\\''")}'" : ''
    """
    emflow validate-params ${params_json} --schema ${schema} --no-path-checks ${stub_sheet} --series-json series.json > params_validation.txt
    """
}
