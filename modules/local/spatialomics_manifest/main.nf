process SPATIALOMICS_MANIFEST {
    tag "${session_dir.name}"
    label 'process_single'
    container "${params.container_emflow}"
    publishDir "${params.outdir}", mode: params.publish_dir_mode

    input:
    tuple val(groups), path(outdirs, stageAs: 'staged/?/*')
    path session_dir, stageAs: 'session'
    val options  // --callback-url URL or '' (the token comes from $EMFLOW_TOKEN)

    output:
    path "assets.json", emit: assets
    path "report.html", emit: report
    tuple val("${task.process}"), val('emflow'), eval('emflow --version | sed "s/^.* //"'), emit: versions_emflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    // Rebuild OUT/<group>/<stem>/ from the staged per-file folders (validated names only).
    def staged = outdirs instanceof List ? outdirs : [outdirs]
    def links = [groups, staged].transpose().collect { group, folder ->
        "mkdir -p 'tree/${group}' && ln -s \"\$PWD/${folder}\" 'tree/${group}/${folder.toString().tokenize('/')[-1]}'"
    }.join('\n')
    """
    mkdir -p tree
    ${links}
    emflow spatialomics-manifest tree --session session ${options} ${args}
    mv tree/assets.json tree/report.html .
    """

    stub:
    """
    touch assets.json report.html
    """
}
