process BATCHRUNTOMO {
    tag "${meta.id}"
    label 'process_gpu'
    // IMOD's batchruntomo (recon imod|auto) or emflow's preview backend (ASTRA) in the light image.
    container "${(meta.row?.recon ?: params.recon) == 'preview' ? params.container_emflow : params.container_imod}"
    accelerator params.gpus > 0 ? params.gpus : null
    // SPEC §9 layout: OUT/<BASENAME>/ (status records in OUT/<BASENAME>/.emflow/)
    publishDir "${params.outdir}/${meta.id}", mode: params.publish_dir_mode, saveAs: { filename ->
        filename.endsWith('.status.json') ? ".emflow/${filename}"
            : filename.toLowerCase() in ['mrc', 'st'].collect { ext -> "brt/${meta.id}.${ext}".toLowerCase() } ? null
            : (filename.endsWith('_ali.mrc') || filename.endsWith('_full_rec.mrc')) && !params.save_intermediates ? null
            : filename
    }

    input:
    tuple val(meta), path(stack), path(companions), path(adoc, stageAs: 'adoc/*')
    val options  // --recon auto|imod|preview [--tilt-axis-deg A]

    output:
    tuple val(meta), path("brt/${meta.id}_ali.mrc"), emit: ali, optional: true
    tuple val(meta), path("brt/${meta.id}_rec.mrc"), emit: rec, optional: true
    tuple val(meta), path("brt/${meta.id}_full_rec.mrc"), emit: full_rec, optional: true
    tuple val(meta), path("brt/*"), emit: files, optional: true
    tuple val(meta), path("*.status.json"), emit: status
    tuple val("${task.process}"), val('emflow'), eval('emflow --version | sed "s/^.* //"'), emit: versions_emflow, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def gpus = task.accelerator ? 1 : 0
    // a samplesheet row's values (checked: plain numbers and words) and where they came from
    def row = meta.row ? (meta.row.collect { column, value -> "--row ${column}=${value}" } + ["--row-source '${meta.row_source}'"]).join(' ') : ''
    """
    emflow record --series ${meta.id} --step brt --status-dir . -- \\
        brt ${stack} --adoc ${adoc} --workdir brt --cpus ${task.cpus} --gpus ${gpus} ${options} ${row} ${args}
    """

    stub:
    // brt_run.log records the command the script would run (the accelerator request included)
    def gpus = task.accelerator ? 1 : 0
    """
    mkdir -p brt
    touch brt/${meta.id}_ali.mrc
    touch brt/${meta.id}_rec.mrc
    touch brt/${meta.id}_full_rec.mrc
    echo "stub (accelerator ${task.accelerator ? task.accelerator.request : 0}): emflow brt ${stack} --adoc ${adoc} --workdir brt --cpus ${task.cpus} --gpus ${gpus} ${options}" > brt/brt_run.log
    touch ${meta.id}.brt.status.json
    """
}
