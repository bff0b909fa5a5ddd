#!/usr/bin/env bash
# CI check of the container images and the engine profiles (issue 16), as root on Debian 12:
#   1. install podman (runc), mmdebstrap and Apptainer (vendored) when missing
#   2. build the emflow image with containers/build.sh --engine podman --debian-base (time, size, labels)
#   3. `pip freeze` in the image equals containers/emflow/requirements.lock
#   4. `emflow demo` in the image writes the same data files as a native `emflow demo`
#   5. -profile podman,test and test,podman resolve to the same engine settings (nextflow config)
#   6. -profile test,podman with emflow NOT on the host PATH: every task's .command.run runs
#      `podman run` on the image; data files identical to the bare -profile test run
#   7. the image converted to an Apptainer sandbox; -profile test,apptainer likewise (`apptainer exec`)
#   8. IMOD image from the stand-in installer: a wrong SHA-256 is refused; -profile test,podman
#      --recon imod: BATCHRUNTOMO in the IMOD image, every other task in the emflow image
#
# Usage: bash scripts/ci/containers.sh [--bare-out DIR] [--work DIR] [-- NEXTFLOW ARGS...]
#   --bare-out DIR  the published folder of a bare `-profile test` run made by this checkout
#                   (e.g. scripts/nextflow-runtime/ci.sh's WORKDIR/out-test); without it the
#                   bare run is made here (needs emflow on PATH, as for scripts/nextflow-runtime).
#   NEXTFLOW ARGS   appended to every pipeline run (the bare one made here included).
# Needs: root (apt-get), java 17+ and mvn (scripts/nextflow), emflow on PATH for the native runs,
# ../shared/vendor/apptainer-1.5.3/ (or APPTAINER_TARBALL) when /opt/apptainer is missing.
# Measured on a shared 2-core machine: 5.3-6.6 min with --bare-out and the podman build cache
# warm; a cold image build adds ~3 min (+ ~1 min mmdebstrap for the base), a bare run here ~1-2 min.
# Leaves the image localhost/emflow:test (and localhost/emflow-imod:standin) in root's podman
# store for reuse; starts no daemon.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
nf="$repo/scripts/nextflow"
image=localhost/emflow:test
imod_image=localhost/emflow-imod:standin
work="" bare_out="" nf_args=()
while (($#)); do
    case "$1" in
        --bare-out) bare_out="$(readlink -f "${2:?}")"; shift 2 ;;
        --work) work="${2:?}"; shift 2 ;;
        --) shift; nf_args=("$@"); break ;;
        *) echo "containers-ci: unknown option $1" >&2; exit 2 ;;
    esac
done
work="$(readlink -f "${work:-$(mktemp -d)}")"
mkdir -p "$work"
export EMFLOW_NXF_QUIET=1
export CONTAINERS_CONF="$repo/containers/engine/containers.conf"
say() { echo "containers-ci: $*"; }
fail() { echo "containers-ci: FAILED: $*" >&2; exit 1; }
started=$SECONDS
step() {  # step NAME FUNCTION: run it, print its time
    local name="$1" t=$SECONDS; shift
    say "== $name"
    "$@"
    say "$name: ok, $((SECONDS - t)) s"
}

install_engines() {
    local need=() p
    for p in podman runc mmdebstrap uidmap libseccomp2 libsubid4 fuse3 squashfs-tools squashfuse fuse2fs fuse-overlayfs; do
        dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
    done
    if ((${#need[@]})); then
        say "apt-get install ${need[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${need[@]}" >"$work/apt.log" 2>&1 \
            || { tail -20 "$work/apt.log"; fail "apt-get install"; }
    fi
    if [[ ! -x /opt/apptainer/bin/apptainer ]]; then
        local tarball="${APPTAINER_TARBALL:-$repo/../shared/vendor/apptainer-1.5.3/apptainer-1.5.3-opt.tar.xz}"
        [[ -f $tarball ]] || fail "no /opt/apptainer and no vendored Apptainer at $tarball"
        tar -C /opt -xJf "$tarball"
    fi
    say "$(podman --version), runc $(runc --version | sed -n 's/^runc version //p'), $(/opt/apptainer/bin/apptainer --version), CONTAINERS_CONF=$CONTAINERS_CONF"
}

build_image() {
    local t=$SECONDS
    "$repo/containers/build.sh" --engine podman --debian-base --tag "$image" >"$work/build.log" 2>&1 \
        || { tail -30 "$work/build.log"; fail "containers/build.sh"; }
    local printed; printed="$(tail -1 "$work/build.log")"
    [[ $printed == "$image" ]] || fail "build.sh printed '$printed' last, not $image"
    local size labels
    size="$(podman image inspect "$image" --format '{{.Size}}')"
    labels="$(podman image inspect "$image" --format '{{index .Labels "org.opencontainers.image.version"}} {{index .Labels "org.opencontainers.image.revision"}}')"
    [[ $labels == "$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/pyproject.toml") $(git -C "$repo" rev-parse HEAD)"* ]] \
        || fail "image labels (version revision) are '$labels'"
    say "built $printed in $((SECONDS - t)) s: $((size / 1000000)) MB; labels version/revision: $labels"
}

check_lock() {
    grep -v '^#' "$repo/containers/emflow/requirements.lock" >"$work/lock.txt"
    podman run --rm "$image" pip freeze --all --exclude emflow | LC_ALL=C sort -f >"$work/freeze.txt"
    diff "$work/lock.txt" "$work/freeze.txt" || fail "pip freeze in $image differs from requirements.lock"
    say "pip freeze in the image = requirements.lock ($(wc -l <"$work/lock.txt") packages)"
}

demo_in_image() {
    rm -rf "$work/demo-native" "$work/demo-image" && mkdir -p "$work/demo-image"
    emflow demo "$work/demo-native" >"$work/demo-native.log" 2>&1 || { tail "$work/demo-native.log"; fail "native emflow demo"; }
    podman run --rm -u "$(id -u):$(id -g)" -v "$work/demo-image:/out" "$image" emflow demo /out >"$work/demo-image.log" 2>&1 \
        || { tail "$work/demo-image.log"; fail "emflow demo in $image"; }
    python3 "$repo/scripts/ci/compare_outputs.py" "$work/demo-native" "$work/demo-image" || fail "emflow demo: image vs native"
}

engine_lines() {  # the engine settings `nextflow config` resolves for a -profile list
    (cd "$repo" && "$nf" config -profile "$1" . 2>/dev/null) | grep -E '^\s+(enabled|runOptions) =|^\s+recon =' | tr -s ' '
}

profile_order() {
    local a b
    a="$(engine_lines podman,test)"; b="$(engine_lines test,podman)"
    [[ $a == "$b" ]] || { diff <(echo "$a") <(echo "$b"); fail "-profile podman,test and test,podman resolve differently"; }
    grep -q "recon = 'preview'" <<<"$a" || fail "-profile podman,test lacks the test profile's params"
    (cd "$repo" && "$nf" config -profile podman,test . 2>/dev/null) | grep -A2 '^podman {' | grep -q 'enabled = true' \
        || fail "-profile podman,test: podman.enabled is not true"
    say "-profile podman,test = test,podman: podman.enabled = true, recon = 'preview'"
}

path_without_emflow() {  # the PATH minus every folder holding an emflow command
    local dir out=()
    IFS=: read -ra dirs <<<"$PATH"
    for dir in "${dirs[@]}"; do [[ -x $dir/emflow ]] || out+=("$dir"); done
    (IFS=:; echo "${out[*]}")
}

nf_run() {  # nf_run NAME [ENV=VALUE...] -- ARGS...: run the pipeline from its own launch folder
    local name="$1" envs=(); shift
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done; shift
    mkdir -p "$work/launch-$name"
    local t=$SECONDS rc=0
    (cd "$work/launch-$name" && env "${envs[@]}" "$nf" run "$repo" -ansi-log false "$@" --outdir "$work/out-$name" \
        ${nf_args[@]+"${nf_args[@]}"}) >"$work/$name.log" 2>&1 || rc=$?
    say "$name: exit $rc, $(grep -c 'Submitted process >' "$work/$name.log" || true) tasks, $((SECONDS - t)) s"
    [[ $rc == 0 ]] || { tail -40 "$work/$name.log"; fail "nextflow run $*"; }
}

task_dirs() {  # the work folders of a run's tasks, from its trace
    local trace; trace="$(ls "$work/out-$1"/pipeline_info/execution_trace_*.txt)"
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "workdir") c = i; next } { print $c }' "$trace"
}

every_task_in() {  # every_task_in RUN PATTERN [PROCESS PATTERN]...: .command.run of each task matches
    local run="$1" default="$2" n=0 dir process pattern; shift 2
    while read -r dir; do
        process="$(awk -F'\t' -v d="$dir" 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "workdir") w = i; if ($i == "process") p = i }; next } $w == d { print $p }' \
            "$(ls "$work/out-$run"/pipeline_info/execution_trace_*.txt)")"
        pattern="$default"
        local i
        for ((i = 1; i < $#; i += 2)); do [[ $process == *"${!i}" ]] && { local j=$((i + 1)); pattern="${!j}"; }; done
        grep -qE -- "$pattern" "$dir/.command.run" || fail "$run: $process ($dir) has no '$pattern' in .command.run"
        n=$((n + 1))
    done < <(task_dirs "$run")
    ((n > 0)) || fail "$run: no tasks in the trace"
    say "$run: all $n tasks' .command.run hold the engine's run line with their image ('$default'${*:+; $*})"
}

bare_run() {
    if [[ -z $bare_out ]]; then
        nf_run bare -- -profile test
        bare_out="$work/out-bare"
    fi
    say "bare -profile test output: $bare_out"
}

podman_run() {
    local clean; clean="$(path_without_emflow)"
    if PATH="$clean" command -v emflow; then fail "emflow is still on the PATH for the container run"; fi
    say "emflow is not on the PATH of the container runs (command -v emflow fails)"
    nf_run podman "PATH=$clean" -- -profile test,podman --container_emflow "$image"
    every_task_in podman "podman run .*$image"
    python3 "$repo/scripts/ci/compare_outputs.py" "$bare_out" "$work/out-podman" || fail "-profile test,podman vs bare run"
}

apptainer_run() {
    local t=$SECONDS sandbox="$work/emflow-sandbox"
    rm -rf "$sandbox" "$work/emflow-oci.tar"
    podman save --quiet --format oci-archive -o "$work/emflow-oci.tar" "$image"
    /opt/apptainer/bin/apptainer build --sandbox "$sandbox" "oci-archive:$work/emflow-oci.tar" >"$work/apptainer-build.log" 2>&1 \
        || { tail "$work/apptainer-build.log"; fail "apptainer build --sandbox"; }
    rm -f "$work/emflow-oci.tar"
    say "Apptainer sandbox $sandbox in $((SECONDS - t)) s"
    local opts=()  # root lacks CAP_SYS_RESOURCE on these machines (../shared/vendor/README.md)
    [[ $(id -u) == 0 ]] && opts=('--apptainer_run_options=--drop-caps CAP_SYS_RESOURCE')
    nf_run apptainer "PATH=$(path_without_emflow):/opt/apptainer/bin" -- -profile test,apptainer --container_emflow "$sandbox" "${opts[@]}"
    every_task_in apptainer "apptainer exec .*$sandbox"
    python3 "$repo/scripts/ci/compare_outputs.py" "$bare_out" "$work/out-apptainer" || fail "-profile test,apptainer vs bare run"
    rm -rf "$sandbox"
}

imod_run() {
    local installer="$work/imod_standin_NOT_IMOD.sh" sha
    "$repo/tests/fakes/make-imod-installer-standin.sh" "$installer"
    sha="$(sha256sum "$installer" | cut -d' ' -f1)"
    if "$repo/containers/build.sh" --engine podman --from "$image" --imod-installer "$installer" \
        --imod-sha256 "$(printf '0%.0s' {1..64})" --imod-version 0.0-standin --tag "$imod_image-refused" >"$work/imod-refused.log" 2>&1; then
        fail "the IMOD build accepted an installer with the wrong SHA-256"
    fi
    grep -q '^refusing to build: .* does not have SHA-256' "$work/imod-refused.log" || { tail "$work/imod-refused.log"; fail "IMOD build failed, but not by refusing the checksum"; }
    say "IMOD build refuses a wrong SHA-256: $(grep -m1 '^refusing to build' "$work/imod-refused.log")"
    "$repo/containers/build.sh" --engine podman --from "$image" --imod-installer "$installer" --imod-sha256 "$sha" \
        --imod-version 0.0-standin --tag "$imod_image" >"$work/imod-build.log" 2>&1 || { tail -30 "$work/imod-build.log"; fail "IMOD stand-in image build"; }
    say "built $(tail -1 "$work/imod-build.log") from the stand-in installer (sha256 $sha)"
    nf_run imod "PATH=$(path_without_emflow)" -- -profile test,podman --recon imod --container_emflow "$image" --container_imod "$imod_image"
    every_task_in imod "podman run .*$image " BATCHRUNTOMO "podman run .*$imod_image "
    grep -rq 'TEST DOUBLE, not IMOD' "$work"/out-imod/*/brt/brt_run.log || fail "BATCHRUNTOMO did not run the stand-in batchruntomo"
    say "BATCHRUNTOMO ran the stand-in batchruntomo in $imod_image"
}

step "install engines" install_engines
step "build the emflow image" build_image
step "lock file = pip freeze in the image" check_lock
step "emflow demo in the image vs native" demo_in_image
step "profile order (nextflow config)" profile_order
step "bare -profile test run" bare_run
step "-profile test,podman" podman_run
step "-profile test,apptainer" apptainer_run
step "IMOD image (stand-in installer)" imod_run
say "all container checks passed in $((SECONDS - started)) s (work folder $work)"
