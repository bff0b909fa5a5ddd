#!/usr/bin/env bash
# CI check of the real Nextflow pipeline (issue 12), with a readable log:
#   1. -profile test on the bundled sample (preview backend, local executor, no container)
#   2. the same with -resume: every task must be cached
#   3. -stub-run of the full pipeline
#   4. mixed input: the sample + a truncated MRC, a text file named .mrc, a 2D MRC and
#      `bad name.mrc`: exit 1, assets.json "success" (the portal's any-file rule, SPEC §8) with
#      failedFiles 4, the sample "success", four one-line errors
#   5. a relative two-row samplesheet --input launched from another folder; one row edited, -resume
# Usage: bash scripts/nextflow-runtime/ci.sh [WORKDIR]   (needs java 17+, mvn, emflow installed)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
nf="$repo/scripts/nextflow"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
export EMFLOW_NXF_QUIET=1
fail() { echo "nextflow-ci: FAILED: $*" >&2; exit 1; }
count() { grep -c "$1 process >" "$2" || true; }

echo "nextflow-ci: $("$nf" -version | grep -m1 version | sed 's/^ *//') in $work"

run() {  # run NAME ARGS... -> exit status in $rc, log in $work/NAME.log
    local name="$1"; shift
    local start=$SECONDS
    local dir="$work/launch-${name%%-*}"  # test-resume reuses test's launch folder (.nextflow/, work/)
    mkdir -p "$dir"
    rc=0
    (cd "$dir" && "$nf" run "$repo" -ansi-log false "$@") >"$work/$name.log" 2>&1 || rc=$?
    echo "nextflow-ci: $name: exit $rc, $(count Submitted "$work/$name.log") tasks run," \
         "$(count Cached "$work/$name.log") cached, $((SECONDS - start)) s"
}

run test -profile test --outdir "$work/out-test"
[[ $rc == 0 ]] || { tail -40 "$work/test.log"; fail "nextflow run . -profile test"; }
tasks=$(count Submitted "$work/test.log")

run test-resume -profile test --outdir "$work/out-test" -resume
[[ $rc == 0 && $(count Submitted "$work/test-resume.log") == 0 && $(count Cached "$work/test-resume.log") == "$tasks" ]] \
    || fail "-resume did not find all $tasks tasks cached"

run stub -profile test --outdir "$work/out-stub" -stub-run
[[ $rc == 0 ]] || { tail -40 "$work/stub.log"; fail "-stub-run"; }

mixed="$work/mixed-input"
rm -rf "$mixed" && mkdir -p "$mixed"
cp "$repo"/src/emflow/data/demo/etspy_HAADF_bin2.* "$mixed/"
cp "$repo/src/emflow/data/demo/etspy_HAADF_bin2.mrc" "$mixed/bad name.mrc"
echo "not an MRC file" >"$mixed/text.mrc"
python3 - "$mixed" <<'PY'
import sys
from pathlib import Path
import numpy as np
from emflow.mrc import write_volume
d = Path(sys.argv[1])
write_volume(d / "flat2d.mrc", np.ones((1, 16, 16), np.int16), voxel_size_angstrom=(10.0, 10.0, 10.0))
write_volume(d / "truncated.mrc", np.zeros((8, 16, 16), np.int16), voxel_size_angstrom=(10.0, 10.0, 10.0))
data = (d / "truncated.mrc").read_bytes()
(d / "truncated.mrc").write_bytes(data[:-300])
(d / "truncated.rawtlt").write_text("".join(f"{a}\n" for a in range(8)))
PY
run mixed -profile test --input "$mixed" --outdir "$work/out-mixed"
[[ $rc == 1 ]] || fail "mixed input: expected exit 1 (some inputs failed), got $rc"
python3 - "$work/out-mixed/assets.json" <<'PY' || fail "mixed input: assets.json is not as SPEC §8 says"
import json, sys
assets = json.load(open(sys.argv[1]))
files = {f["primaryFilePath"]: f for f in assets["files"]}
for name, f in sorted(files.items()):
    print(f"nextflow-ci:   {name}: {f['status']} {f['message']}")
errors = {n for n, f in files.items() if f["status"] == "error" and f["message"] and "\n" not in f["message"]}
assert (assets["status"], assets["failedFiles"]) == ("success", 4), (assets["status"], assets.get("failedFiles"))
assert files["etspy_HAADF_bin2.mrc"]["status"] == "success"
assert errors == {"truncated.mrc", "text.mrc", "flat2d.mrc", "bad name.mrc"}, errors
print(f"nextflow-ci: mixed: assets.json status {assets['status']} (failedFiles {assets['failedFiles']}), 1 success, {len(errors)} errors")
PY
# 5. issue 16/19: a RELATIVE --input from another launch folder, as a two-row samplesheet with
#    different thickness, bin and tilt axis; then one row edited and -resume: only that series runs
sheetdir="$work/launch-sheet/rel"
mkdir -p "$sheetdir"
for id in A B; do
    ln -sf "$repo/src/emflow/data/demo/etspy_HAADF_bin2.mrc" "$sheetdir/$id.mrc"
    cp "$repo/src/emflow/data/demo/etspy_HAADF_bin2.rawtlt" "$sheetdir/$id.rawtlt"
done
printf 'id,stack,tilt_axis_deg,thickness,bin\nA,A.mrc,90,128,1\nB,B.mrc,85,96,2\n' > "$sheetdir/sheet.csv"
run sheet -profile test --input rel/sheet.csv --outdir out-sheet
[[ $rc == 0 ]] || { tail -40 "$work/sheet.log"; fail "relative samplesheet --input from another folder"; }
grep -q 'THICKNESS=96' "$work/launch-sheet/out-sheet/B/brt/B.adoc" \
    && grep -q '"source": "sheet.csv row 3"' "$work/launch-sheet/out-sheet/assets.json" \
    || fail "row values or their sources missing from B.adoc / assets.json"
printf 'id,stack,tilt_axis_deg,thickness,bin\nA,A.mrc,90,128,1\nB,B.mrc,85,64,2\n' > "$sheetdir/sheet.csv"
run sheet-resume -profile test --input rel/sheet.csv --outdir out-sheet -resume
[[ $rc == 0 ]] || { tail -40 "$work/sheet-resume.log"; fail "-resume after editing one row"; }
if grep -E 'Submitted process > BRT:[A-Z_]+ \(A[ )]' "$work/sheet-resume.log"; then
    fail "-resume re-ran series A, whose row did not change"
fi
grep -q 'THICKNESS=64' "$work/launch-sheet/out-sheet/B/brt/B.adoc" || fail "edited row B not re-run"

echo "nextflow-ci: all Nextflow checks passed ($tasks tasks per run of -profile test)"
