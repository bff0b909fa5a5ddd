process BRT_ADOC {
    tag "${meta.id}"
    label 'process_single'
    container "${params.container_emflow}"
    // SPEC §9 layout: OUT/<BASENAME>/ (status records in OUT/<BASENAME>/.emflow/)
    publishDir "${params.outdir}/${meta.id}/.emflow", mode: params.publish_dir_mode, pattern: '*.status.json'

    input:
    tuple val(meta), path(stack), path(companions), path(user_adoc, stageAs: 'user/*')

    output:
    tuple val(meta), path("${meta.id}.adoc"), emit: adoc, optional: true
    tuple val(meta), path("*.status.json"), emit: status
    tuple val("${task.process}"), val('emflow'), eval('emflow --version | sed "s/^.* //"'), emit: versions_emflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    // The directive options (SPEC §2) come from params here, not from conf/modules.config:
    // Nextflow 25.04's strict config parser evaluates config closures with the config's
    // defaults instead of the command line's values. task.ext.args is appended.
    def options = [
        params.pixel_size_nm != null ? "--pixel-size-nm ${params.pixel_size_nm}" : '',
        "--bead-size-nm ${params.bead_size_nm}",
        "--bin ${params.bin}",
        "--light-beads ${params.light_beads}",
        "--thickness ${params.thickness}",
        "--montage ${params.montage}",
        params.adoc_template ? "--template ${params.adoc_template}" : '',
        params.scope_template ? "--scope-template ${params.scope_template}" : '',
        params.system_template ? "--system-template ${params.system_template}" : '',
        params.user_template ? "--user-template ${params.user_template}" : '',
        params.adoc_set ? params.adoc_set.toString().tokenize(' ').collect { kv -> "--set ${kv}" }.join(' ') : '',
    ].findAll { option -> option }.join(' ')
    def args = task.ext.args ?: ''
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
            adoc ${stack} --outdir . ${options} ${args}
        """
    }

    stub:
    """
    touch ${meta.id}.adoc
    touch ${meta.id}.adoc.status.json
    """
}
