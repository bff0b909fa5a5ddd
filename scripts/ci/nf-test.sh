#!/usr/bin/env bash
# CI: the nf-core schema lint and nf-test (every module, the BRT workflow, the pipeline) against
# the committed .nf.test.snap files. Run after pytest (emflow installed; java 17 and mvn on PATH,
# as .ci/run provides). Prints each step's time and "nf-test: N tests passed"; exits non-zero on
# any failing test, on a missing snapshot (nf-test --ci) or on a schema lint error.
#   bash scripts/ci/nf-test.sh
# EMFLOW_NFCORE_VENV: where nf-core/tools lives (a venv of its own, built once and cached).
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
step() { printf '\n=== [%4ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }
die() { echo "scripts/ci/nf-test.sh: $*" >&2; exit 1; }

command -v emflow >/dev/null || die "emflow is not on PATH (pip install -e .)"
command -v java >/dev/null || die "java 17+ is not on PATH (apt-get install -y openjdk-17-jre-headless)"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# `nextflow` for nf-core/tools: the project's launcher (pinned release)
mkdir -p "$scratch/bin"
printf '#!/usr/bin/env bash\nexec "%s/scripts/nextflow" "$@"\n' "$PWD" >"$scratch/bin/nextflow"
chmod +x "$scratch/bin/nextflow"

NFCORE_VERSION=4.2.1
venv="${EMFLOW_NFCORE_VENV:-$HOME/.cache/emflow/nfcore-$NFCORE_VERSION}"
if [[ ! -f "$venv/.emflow-complete" ]]; then
    step "building $venv (nf-core==$NFCORE_VERSION from PyPI; not a dependency of emflow)"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install -y python3-venv)"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "nf-core==$NFCORE_VERSION"
    echo "nf-core==$NFCORE_VERSION" >"$venv/.emflow-complete"
fi

step "nf-core pipelines schema lint nextflow_schema.json (nf-core $NFCORE_VERSION)"
set +e
PATH="$scratch/bin:$PATH" COLUMNS=160 "$venv/bin/python" -m nf_core --hide-progress pipelines schema lint nextflow_schema.json \
    >"$scratch/schema.log" 2>&1
rc=$?
set -e
# its findings, without the banner
grep -vE '^\s*$|,--\./,-\.|___|\\`|`\._|nf-core/tools version|\|\\ \||\| \\\|' "$scratch/schema.log" || true
[[ $rc -eq 0 ]] || die "nf-core pipelines schema lint failed (exit $rc)"
echo "nf-core pipelines schema lint: passed"

step "nf-test (scripts/nf-test test --ci: a failing test or a missing snapshot fails)"
t0=$(date +%s)
set +e
scripts/nf-test test --ci --silent --junitxml "$scratch/nf-test.xml"
rc=$?
set -e
[[ -f "$scratch/nf-test.xml" ]] || die "nf-test wrote no results (exit $rc)"
read -r total failed <<<"$(python3 - "$scratch/nf-test.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
cases = [case for suite in suites for case in suite.iter("testcase")]
bad = [case for case in cases if case.find("failure") is not None or case.find("error") is not None]
print(len(cases), len(bad))
PY
)"
echo "nf-test: $(( total - failed )) tests passed, $failed failed, in $(( $(date +%s) - t0 ))s"
[[ $rc -eq 0 && $failed -eq 0 && $total -gt 0 ]] || die "nf-test failed (exit $rc)"

step "done"
