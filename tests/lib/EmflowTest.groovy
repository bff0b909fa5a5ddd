import groovy.json.JsonSlurper
import java.nio.file.Files
import java.nio.file.Path
import java.security.MessageDigest

/**
 * Snapshot helpers for emflow's nf-test tests (nf-test.config: libDir "tests/lib").
 * Each returns the stable facts of an output, so that snapshots fail on a real change only.
 */
class EmflowTest {

    /** Every file under a folder as "relative/path:md5,<hex>", sorted (pyramid chunks, OME-Zarr). */
    static List<String> folderChecksums(Object folder) {
        def root = Path.of(folder.toString())
        def files = []
        Files.walk(root).withCloseable { paths ->
            paths.filter { p -> Files.isRegularFile(p) }.forEach { p -> files << "${root.relativize(p)}:md5,${md5(p)}".toString() }
        }
        return files.sort()
    }

    /** Frame count, size and codec of each movie: not its bytes, which depend on the encoder build. */
    static List movieFacts(Object baseDir, List movies) {
        def command = ['python3', "${baseDir}/tests/fixtures/movie_info.py".toString()] + movies.collect { m -> m.toString() }
        def process = command.execute()
        def out = new StringBuilder()
        def err = new StringBuilder()
        process.waitForProcessOutput(out, err)
        if (process.exitValue() != 0) {
            throw new IllegalStateException("movie_info.py failed: ${err}")
        }
        return new JsonSlurper().parseText(out.toString()) as List
    }

    /** A step status record (emflow record) without its volatile fields (seconds, inputs, version). */
    static Map statusRecord(Object file) {
        def record = new JsonSlurper().parse(Path.of(file.toString()).toFile()) as Map
        return record.subMap(['series', 'step', 'status', 'message'])
    }

    /** The per-file entries of an assets.json: path, status and message (other fields grow over time). */
    static List fileStatuses(Object assetsJson) {
        def assets = new JsonSlurper().parse(Path.of(assetsJson.toString()).toFile()) as Map
        return assets.files.collect { f -> f.subMap(['primaryFilePath', 'status', 'message']) }
    }

    static String md5(Path file) {
        def digest = MessageDigest.getInstance('MD5')
        file.withInputStream { stream ->
            byte[] buffer = new byte[65536]
            int n
            while ((n = stream.read(buffer)) > 0) {
                digest.update(buffer, 0, n)
            }
        }
        return digest.digest().encodeHex().toString()
    }
}
