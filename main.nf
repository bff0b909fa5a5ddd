#!/usr/bin/env nextflow
/*
 * emflow: electron-tomography processing (IMOD batchruntomo or the preview backend, tilt and
 * reconstruction movies, Neuroglancer precomputed / OME-Zarr pyramids) and spatialomics slide
 * sessions. Every task calls the `emflow` command line (one implementation, see docs/DEVELOPING.md).
 *
 *   nextflow run . -profile test --outdir results                      (bundled sample, preview)
 *   nextflow run <repo> -profile apptainer,slurm --input tilts/ --outdir results
 *   nextflow run <repo> -profile docker --workflow spatialomics --input session/ --outdir results
 */

include { VALIDATE_PARAMS } from './modules/local/validate_params/main'
include { MANIFEST        } from './modules/local/manifest/main'
include { RUN_STATUS      } from './modules/local/run_status/main'
include { BRT; launchPath } from './workflows/brt'
include { SPATIALOMICS    } from './workflows/spatialomics'

// --callback-url for the manifest tasks (a task input, so that -resume sees a change)
def callbackOption(p) {
    return p.callback_url ? "--callback-url ${p.callback_url}".toString() : ''
}

def checkedInput(value) {
    if (!value) {
        error("emflow: --input is required (a folder of tilt series, a samplesheet .csv/.tsv, or a spatialomics session)")
    }
    def path = launchPath(value)
    if (!path.exists()) {
        error("emflow: --input ${value}: does not exist (looked for ${path})")
    }
    return path
}

workflow {
    main:
    // Parameters are checked by emflow itself (JSON Schema in nextflow_schema.json) in the first task;
    // every other task waits for it.
    // (the report-name timestamp is left out, so that -resume finds this task cached)
    def input = checkedInput(params.input)
    def pathParams = ['adoc_template', 'scope_template', 'system_template', 'user_template']
    def checked = params.findAll { name, _value -> name != 'trace_report_suffix' }
        .collectEntries { name, value -> [name, name == 'input' ? input.toString() : value] }
    pathParams.findAll { name -> params[name] && params[name].toString().contains('/') }.each { name ->
        if (!launchPath(params[name]).exists()) {
            error("emflow: --${name} ${params[name]}: does not exist (looked for ${launchPath(params[name])})")
        }
    }
    ch_params = channel.of(groovy.json.JsonOutput.prettyPrint(groovy.json.JsonOutput.toJson(checked)))
        .collectFile(name: 'params.json', newLine: true)
    def sheet = params.workflow != 'spatialomics' && input.isFile() ? input : []
    VALIDATE_PARAMS(ch_params, file("${projectDir}/nextflow_schema.json", checkIfExists: true), sheet)
    ch_ready = VALIDATE_PARAMS.out.report.first()

    if (params.workflow == 'spatialomics') {
        SPATIALOMICS(ch_ready, input.toString(), callbackOption(params))
        ch_assets = SPATIALOMICS.out.assets
    } else {
        BRT(ch_ready, input, VALIDATE_PARAMS.out.series.first())
        // sorted, so that the manifest's inputs (and its -resume hash) do not depend on task order
        ch_tree = BRT.out.tree
            .toSortedList { a, b -> a[0] <=> b[0] }
            .map { items -> [items.collect { item -> item[0] }, items.collect { item -> item[1] }] }
        ch_status = BRT.out.status.toSortedList { a, b -> a.name <=> b.name }
        MANIFEST(ch_tree, ch_status, BRT.out.inputs, callbackOption(params))
        ch_assets = MANIFEST.out.assets
    }
    RUN_STATUS(ch_assets)

    // Software versions of every task (topic channel) -> pipeline_info/emflow_software_versions.yml
    channel.topic('versions')
        .unique()
        .map { process, tool, version -> "${process.tokenize(':')[-1]}:\n  ${tool}: ${version}".toString() }
        .mix(channel.of("Workflow:\n  Nextflow: ${workflow.nextflow.version}\n  emflow-pipeline: ${workflow.manifest.version}".toString()))
        .collectFile(storeDir: "${params.outdir}/pipeline_info", name: 'emflow_software_versions.yml', sort: true, newLine: true)

    workflow.onComplete = {
        log.info(workflow.success
            ? "emflow: done, outputs in ${params.outdir} (assets.json, report.html)"
            : "emflow: finished with errors; see ${params.outdir}/assets.json and ${params.outdir}/pipeline_info/")
    }
}
