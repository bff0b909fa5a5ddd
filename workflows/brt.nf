/*
 * BRT workflow (SPEC §1-§6, §9): per tilt series
 *   adoc -> batchruntomo (IMOD or preview) -> tilt movie (stats -> frames per slab -> encode)
 *   -> averaged volumes -> reconstruction movie (stats -> frames -> encode) -> pyramid + min/max.
 * Every step runs under `emflow record`, so a failing series leaves an error record and its later
 * steps simply do not run; the other series go on. Emits `tree` ([path relative to OUT, file]) and
 * `status` (status records) for the manifest.
 */

include { BRT_ADOC                           } from '../modules/local/brt_adoc/main'
include { BATCHRUNTOMO                       } from '../modules/local/batchruntomo/main'
include { SECTION_STATS as TILT_SECTION_STATS } from '../modules/local/section_stats/main'
include { RENDER_FRAMES as TILT_RENDER_FRAMES } from '../modules/local/render_frames/main'
include { ENCODE_MOVIE  as TILT_ENCODE_MOVIE  } from '../modules/local/encode_movie/main'
include { REC_VOLUMES                        } from '../modules/local/rec_volumes/main'
include { SECTION_STATS as REC_SECTION_STATS  } from '../modules/local/section_stats/main'
include { RENDER_FRAMES as REC_RENDER_FRAMES  } from '../modules/local/render_frames/main'
include { ENCODE_MOVIE  as REC_ENCODE_MOVIE   } from '../modules/local/encode_movie/main'
include { NG_PYRAMID                         } from '../modules/local/ng_pyramid/main'

// SPEC §1: BASENAME starts with a letter or digit and holds only letters, digits and ._+-
def isValidBasename(name) {
    return name ==~ /[A-Za-z0-9][A-Za-z0-9._+-]*/
}

def basenameOf(stack) {
    def name = stack.name
    return name.substring(0, name.lastIndexOf('.'))
}

// Files beside a stack that belong to it: tilt angles (SPEC §0) are staged with the stack.
def companionsOf(stack) {
    def base = basenameOf(stack)
    return ["${base}.rawtlt", "${base}.tlt", "${stack.name}.mdoc", "${base}.mdoc"]
        .collect { name -> stack.resolveSibling(name) }
        .findAll { f -> f.exists() }
}

// One [meta, stack, companions, user adoc or []] per valid series; invalid or duplicate names
// are left to the manifest, which reports them from its own discovery of the input folder.
def seriesOf(stacks) {
    def seen = [:]
    def sorted = stacks.toSorted { a, b -> a.name <=> b.name }
    return sorted.findAll { stack ->
        def base = basenameOf(stack)
        def fresh = isValidBasename(base) && !seen.containsKey(base)
        seen[base] = true
        return fresh
    }.collect { stack ->
        def base = basenameOf(stack)
        def adoc = stack.resolveSibling("${base}.adoc")
        return [[id: base], stack, companionsOf(stack), adoc.exists() ? adoc : []]
    }
}

// Every path parameter resolved against the launch directory, in the head job (issue 16): tasks
// get only staged inputs, so relative paths work and containers see every file they read.
def launchPath(value) {
    def text = value.toString()
    return file(text.startsWith('/') || text.contains('://') ? text : "${workflow.launchDir}/${text}")
}

// A template parameter for a task's command line: a relative file made absolute (main.nf checked
// it exists), an absolute path or URL as given, a shipped template name such as 'cryo' as it is.
def launchFile(value) {
    def text = value.toString()
    if (text.startsWith('/') || text.contains('://')) {
        return text
    }
    def candidate = launchPath(text)
    return candidate.exists() ? candidate.toString() : text
}

// Run-wide parameters given on purpose (not their configured default) win over a samplesheet row.
def explicitParams(p) {
    return [tilt_axis_deg: p.tilt_axis_deg != null, pixel_size_nm: p.pixel_size_nm != null,
            thickness: p.thickness != 256, bin: p.bin != 4, recon: p.recon != 'auto']
}

// One [meta, stack, companions, user adoc or []] per samplesheet row (rows checked by
// `emflow samplesheet --check` in VALIDATE_PARAMS; here only the files, where they are). The row's
// values travel in meta.row (those no explicit parameter overrides), with meta.row_source.
def sheetSeries(seriesJson, sheet, p) {
    def rows = new groovy.json.JsonSlurper().parseText(seriesJson.text)
    def explicit = explicitParams(p)
    def folder = sheet.parent
    return rows.collect { row ->
        def located = [:]
        ['stack', 'adoc', 'tilt_angles'].findAll { column -> row[column] }.each { column ->
            def path = row[column].startsWith('/') ? file(row[column]) : folder.resolve(row[column])
            if (!path.isFile()) {
                error("emflow: ${sheet}: row ${row.line}, column ${column}: ${row[column]} is not an existing file (looked for ${path})")
            }
            located[column] = path
        }
        def meta = [id: row.id, row: row.values.findAll { column, _value -> !explicit[column] }, row_source: row.source]
        return [meta, located.stack, companionsOf(located.stack), located.adoc ?: []]
    }
}

// emflow options from the pipeline parameters. They are process inputs, not read inside the
// modules: Nextflow 25.04's strict parser leaves params used in a script out of the task hash, so
// only inputs make -resume re-run a step whose options changed.
def adocOptions(p) {
    return [
        p.pixel_size_nm != null ? "--pixel-size-nm ${p.pixel_size_nm}" : '',
        "--bead-size-nm ${p.bead_size_nm}",
        "--bin ${p.bin}",
        "--light-beads ${p.light_beads}",
        "--thickness ${p.thickness}",
        "--montage ${p.montage}",
        p.adoc_template ? "--template ${launchFile(p.adoc_template)}" : '',
        p.scope_template ? "--scope-template ${launchFile(p.scope_template)}" : '',
        p.system_template ? "--system-template ${launchFile(p.system_template)}" : '',
        p.user_template ? "--user-template ${launchFile(p.user_template)}" : '',
        p.adoc_set ? p.adoc_set.toString().tokenize(' ').collect { kv -> "--set ${kv}" }.join(' ') : '',
    ].findAll { option -> option }.join(' ')
}

def reconOptions(p) {
    return ("--recon ${p.recon}" + (p.tilt_axis_deg != null ? " --tilt-axis-deg ${p.tilt_axis_deg}" : '')).toString()
}

def pyramidOptions(p) {
    return "--mad ${p.mad} --chunk ${p.chunk} --ng-format ${p.ng_format}".toString()
}

// The frame fan-out: one [groupKey(meta, slabs), volume, stats, kind, start, stop] per slab.
def slabsOf(meta, volume, stats, kind, slabSize) {
    def nz = new groovy.json.JsonSlurper().parseText(stats.text).shape[0] as int
    def starts = (0..<nz).step(slabSize as int)
    return starts.collect { start ->
        [groupKey(meta, starts.size()), volume, stats, kind, start, Math.min(start + (slabSize as int), nz)]
    }
}

// Gather the slabs of one series in section order and join its stats for the encoder.
def gatherSlabs(frames, stats) {
    def grouped = frames
        .groupTuple()
        .map { key, starts, files ->
            def ordered = [starts, files].transpose().sort { a, b -> a[0] <=> b[0] }.collect { pair -> pair[1] }
            [key.getGroupTarget(), ordered]
        }
    return stats
        .map { meta, _volume, json -> [meta, json] }
        .join(grouped)
}

workflow BRT {
    take:
    ch_ready   // one item once the parameters are valid
    input      // the folder of tilt series (SPEC §1) or a samplesheet, absolute (resolved in main.nf)
    ch_sheet   // series.json: the checked samplesheet rows ([] for a folder)

    main:
    if (input.isDirectory()) {
        ch_series = channel.fromPath("${input}/*", type: 'file')
            .filter { f -> f.name ==~ /(?i).+\.(mrc|st)/ }
            .toList()
            .flatMap { stacks -> seriesOf(stacks) }
        // the manifest discovers the series (and reports bad names) in the staged folder entries
        ch_inputs = channel.value(input.listFiles().toList().toSorted { a, b -> a.name <=> b.name })
    } else {
        ch_series = ch_sheet.flatMap { json -> sheetSeries(json, input, params) }
        ch_inputs = ch_series.map { _meta, stack, _companions, _adoc -> stack }.toSortedList { a, b -> a.name <=> b.name }
    }
    ch_series = ch_ready.combine(ch_series).map { _ok, meta, stack, companions, adoc -> [meta, stack, companions, adoc] }

    BRT_ADOC(ch_series, adocOptions(params))

    ch_recon_in = ch_series
        .map { meta, stack, companions, _adoc -> [meta, stack, companions] }
        .join(BRT_ADOC.out.adoc)
    BATCHRUNTOMO(ch_recon_in, reconOptions(params))

    // Tilt movie, key image, thumbnail (SPEC §4) from BASENAME_ali.mrc
    TILT_SECTION_STATS(BATCHRUNTOMO.out.ali.map { meta, ali -> [meta, ali, 'tilt'] })
    TILT_RENDER_FRAMES(
        TILT_SECTION_STATS.out.stats.flatMap { meta, ali, stats -> slabsOf(meta, ali, stats, 'tilt', params.slab_size) }
    )
    TILT_ENCODE_MOVIE(
        gatherSlabs(TILT_RENDER_FRAMES.out.frames, TILT_SECTION_STATS.out.stats)
            .map { meta, stats, frames -> [meta, stats, frames, 'tilt'] },
        "--fps ${params.tilt_fps} --size ${params.movie_size}".toString()
    )

    // Averaged volumes and the reconstruction movie (SPEC §5) from BASENAME_rec.mrc
    REC_VOLUMES(BATCHRUNTOMO.out.rec)
    REC_SECTION_STATS(REC_VOLUMES.out.ave.map { meta, ave -> [meta, ave, 'rec'] })
    REC_RENDER_FRAMES(
        REC_SECTION_STATS.out.stats.flatMap { meta, ave, stats -> slabsOf(meta, ave, stats, 'rec', params.slab_size) }
    )
    REC_ENCODE_MOVIE(
        gatherSlabs(REC_RENDER_FRAMES.out.frames, REC_SECTION_STATS.out.stats)
            .map { meta, stats, frames -> [meta, stats, frames, 'rec'] },
        "--fps ${params.rec_fps} --size ${params.movie_size}".toString()
    )

    // Neuroglancer precomputed pyramid + min/max (SPEC §6), OME-Zarr with --ng_format zarr|both
    NG_PYRAMID(params.ng_source == 'rec' ? BATCHRUNTOMO.out.rec : BATCHRUNTOMO.out.full_rec, pyramidOptions(params))

    // What the manifest reads, at its place in OUT (SPEC §9)
    ch_top = TILT_ENCODE_MOVIE.out.movie
        .mix(TILT_ENCODE_MOVIE.out.images, REC_ENCODE_MOVIE.out.movie, REC_VOLUMES.out.ave,
             REC_VOLUMES.out.avebin8, NG_PYRAMID.out.precomputed, NG_PYRAMID.out.minmax,
             NG_PYRAMID.out.zarr, NG_PYRAMID.out.shader)
        .flatMap { meta, files -> (files instanceof List ? files : [files]).collect { f -> ["${meta.id}/${f.name}", f] } }
    ch_brt = BATCHRUNTOMO.out.rec
        .mix(BATCHRUNTOMO.out.files.flatMap { meta, files ->
            (files instanceof List ? files : [files]).findAll { f -> f.name == 'brt_run.log' }.collect { f -> [meta, f] }
        })
        .map { meta, f -> ["${meta.id}/brt/${f.name}", f] }
    status = BRT_ADOC.out.status
        .mix(BATCHRUNTOMO.out.status, TILT_SECTION_STATS.out.status, TILT_RENDER_FRAMES.out.status,
             TILT_ENCODE_MOVIE.out.status, REC_VOLUMES.out.status, REC_SECTION_STATS.out.status,
             REC_RENDER_FRAMES.out.status, REC_ENCODE_MOVIE.out.status, NG_PYRAMID.out.status)
        .map { _meta, record -> record }
    tree = ch_top.mix(ch_brt)

    inputs = ch_inputs

    emit:
    inputs  // the input files the manifest discovers the series in (staged as its input folder)
    tree    // [path relative to OUT, file] of every output the manifest reads
    status  // status records
}
