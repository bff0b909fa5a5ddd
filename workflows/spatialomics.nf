/*
 * Spatialomics workflow (SPEC §7): a session folder with HQ_Images/*.czi and
 * Pre_ROI_Selection/*.png; one task per file, published to OUT/<group>/<stem>/, then the
 * per-file asset records are merged into OUT/assets.json and report.html
 * (`emflow spatialomics-manifest`).
 */

include { SPATIALOMICS_FILE     } from '../modules/local/spatialomics_file/main'
include { SPATIALOMICS_MANIFEST } from '../modules/local/spatialomics_manifest/main'

workflow SPATIALOMICS {
    take:
    ch_ready     // one item once the parameters are valid
    session_dir  // $lab/$pi/$project/$session
    callback     // '' or --callback-url URL

    main:
    ch_czi = channel.fromPath("${session_dir}/HQ_Images/*", type: 'file')
        .filter { f -> f.name ==~ /(?i).+\.czi/ }
        .map { f -> [[id: f.baseName, group: 'HQ_Images'], f] }
    ch_png = channel.fromPath("${session_dir}/Pre_ROI_Selection/*", type: 'file')
        .filter { f -> f.name ==~ /(?i).+\.png/ }
        .map { f -> [[id: f.baseName, group: 'Pre_ROI_Selection'], f] }
    ch_files = ch_czi.mix(ch_png)
        .filter { meta, f ->
            def ok = meta.id ==~ /[A-Za-z0-9][A-Za-z0-9._+-]*/
            if (!ok) {
                log.warn("skipping ${f}: the name must be letters, digits and ._+- only")
            }
            return ok
        }
    SPATIALOMICS_FILE(ch_ready.combine(ch_files).map { _ok, meta, f -> [meta, f] })

    SPATIALOMICS_MANIFEST(
        SPATIALOMICS_FILE.out.outdir
            .toSortedList { a, b -> "${a[0].group}/${a[0].id}" <=> "${b[0].group}/${b[0].id}" }
            .map { items -> [items.collect { item -> item[0].group }, items.collect { item -> item[1] }] },
        file(session_dir, type: 'dir'),
        callback
    )
    assets = SPATIALOMICS_MANIFEST.out.assets

    emit:
    assets  // OUT/assets.json
}
