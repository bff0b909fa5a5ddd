#!/usr/bin/env bash
# CI check of `-profile slurm` on a real (single-node) Slurm cluster (issue 17):
#   0. start the cluster (scripts/slurm/local-cluster.sh; stopped on exit, whatever happens)
#   1. -profile test,slurm --max_cpus 2 --max_memory 6.GB --site_config <site file>: every task a
#      Slurm job that completed (job-completion log), none asked more than the node has, data
#      files identical to the bare local run; one job is cancelled with scancel while it runs
#      and the task must be retried (exit 143, in conf/base.config's retry set)
#   2. the same with -resume: every task cached
#   3. -stub-run --gpus 1 under the legacy config parser (NXF_SYNTAX_PARSER=v1; step 1 used the
#      strict one): the reconstruction job asks for the GPU (#SBATCH --gres=gpu:1) and runs on
#      the node's GRES; the site file's settings are in every job
#   4. the Nextflow head killed (SIGKILL) mid-run, then -resume: finishes, reuses every task the
#      first run had finished, same data files
#   5. (optional) -profile test,slurm,<engine>: jobs through sbatch, tasks inside the image
#
# Usage: bash scripts/ci/slurm.sh LOCAL_OUTDIR [WORKDIR] [IMAGE [PROFILE]]
#   LOCAL_OUTDIR  --outdir of a finished bare `-profile test` run (scripts/nextflow-runtime/ci.sh
#                 makes one: WORKDIR/out-test); the Slurm runs must give the same data files
#   IMAGE         e.g. localhost/emflow:test (containers/build.sh); step 5 is skipped when the image
#                 or the profile (default: podman) is absent
# Needs root, slurm-wlm + munge (installed here when missing), java 17+, emflow installed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
nf="$repo/scripts/nextflow"
cluster="$repo/scripts/slurm/local-cluster.sh"
local_out="$(realpath "${1:?usage: slurm.sh LOCAL_OUTDIR [WORKDIR] [IMAGE [PROFILE]]}")"
work="$(mkdir -p "${2:-$(mktemp -d)}" && realpath "${2:-$(mktemp -d)}")"
image="${3:-}"
engine="${4:-podman}"
export EMFLOW_NXF_QUIET=1
t0=$SECONDS
say() { echo "slurm-ci: $*"; }
fail() { echo "slurm-ci: FAILED: $*" >&2; exit 1; }
count() { grep -c "$1 process >" "$2" || true; }
[[ -f "$local_out/assets.json" ]] || fail "$local_out is not the output of a finished -profile test run"

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    step=$SECONDS
    apt-get -o DPkg::Lock::Timeout=900 install -y -q slurm-wlm munge >"$work/apt.log" 2>&1 \
        || { tail -20 "$work/apt.log"; fail "apt-get install slurm-wlm munge"; }
    say "installed slurm-wlm and munge, $((SECONDS - step)) s"
fi

step=$SECONDS
export EMFLOW_SLURM_DIR="$work/cluster"
left_behind() {  # after stop: no Slurm or munge process of this machine should be left
    local left
    left="$(ps -eo pid=,comm= | grep -E " (munged|slurmctld|slurmd|slurmstepd|slurmscriptd)$" | tr -s ' \n' ' ' || true)"
    say "after stop, Slurm/munge processes left: ${left:-none}"
}
trap '"$cluster" stop; left_behind' EXIT
"$cluster" start
eval "$("$cluster" env)"
say "cluster started, $((SECONDS - step)) s"
jobcomp="$EMFLOW_SLURM_DIR/jobcomp.log"
node_cpus="$(sinfo -h -o %c)"
node_mem_mb="$(sinfo -h -o %m)"

# An institution's settings, as a site would write them (README "Running on a Slurm cluster"),
# with CI's short polling; site-fault.config adds one fault: REC_VOLUMES' first attempt waits
# (to be cancelled by scancel, or to be running when the head is killed) until WORKDIR/no-fault exists.
site="$work/site.config"
cat >"$site" <<'EOF'
params.slurm_queue = 'debug'
executor {
    pollInterval      = '1 sec'
    queueStatInterval = '2 sec'
    submitRateLimit   = '50/1s'
}
process.beforeScript = 'export EMFLOW_SITE=ci-site'
EOF
# the legacy parser applies the slurm profile's polling after the site file: -c overrides it
poll="$work/poll.config"
sed -n '/^executor {/,/^}/p' "$site" >"$poll"
fault="$work/site-fault.config"
cat >"$fault" <<'EOF'
includeConfig 'site.config'
process {
    withName: 'BRT:REC_VOLUMES' {
        beforeScript = { task.attempt == 1 ? 'export EMFLOW_SITE=ci-site; [ -e NO_FAULT ] || sleep 300' : 'export EMFLOW_SITE=ci-site' }
    }
}
EOF
# (a -resume must see the same config, or the parameter check reruns: the fault is switched off
# by a file instead)
no_fault="$work/no-fault"
sed -i "s|NO_FAULT|$no_fault|" "$fault"

run() {  # run NAME ARGS... (from WORKDIR/launch-NAME-prefix) -> exit status in $rc, log in WORKDIR/NAME.log
    local name="$1"; shift
    local dir="$work/launch-${name%%-*}"
    mkdir -p "$dir"
    rc=0
    (cd "$dir" && "$nf" ${NF_CONFIG:+-c "$NF_CONFIG"} run "$repo" -ansi-log false "$@") >"$work/$name.log" 2>&1 || rc=$?
    echo "$rc" >"$work/$name.rc"
}

trace_of() { ls -t "$1"/pipeline_info/execution_trace_*.txt | head -n1; }

jobs_of() {  # the Slurm job ids (native_id) of a run's trace, one per line
    python3 - "$(trace_of "$1")" <<'PY'
import csv, sys
for row in csv.DictReader(open(sys.argv[1]), delimiter="\t"):
    if row["native_id"] not in ("", "-"):
        print(row["native_id"])
PY
}

check_jobs() {  # check_jobs OUTDIR: every job of the run's trace is in the completion log, on the node's size
    python3 - "$(trace_of "$1")" "$jobcomp" "$node_cpus" "$node_mem_mb" <<'PY'
import csv, re, sys
trace, jobcomp, node_cpus, node_mem_mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
done = {}
for line in open(jobcomp):
    fields = dict(re.findall(r"(\w+)=(\S*)", line))
    done[fields["JobId"]] = fields
rows = list(csv.DictReader(open(trace), delimiter="\t"))
bad = []
for row in rows:
    job = done.get(row["native_id"])
    if job is None:
        bad.append(f"{row['name']}: job {row['native_id']} not in the completion log")
        continue
    want = "COMPLETED" if row["status"] == "COMPLETED" else "CANCELLED"
    if job["JobState"] != want:
        bad.append(f"{row['name']}: job {row['native_id']} {job['JobState']}, trace {row['status']}")
    tres = dict(kv.split("=") for kv in job["Tres"].split(","))
    mem_mb = float(tres["mem"][:-1]) * {"M": 1, "G": 1024, "T": 1 << 20}[tres["mem"][-1]]
    if int(tres["cpu"]) > node_cpus or mem_mb > node_mem_mb:
        bad.append(f"{row['name']}: job {row['native_id']} asked {job['Tres']}, more than the node")
print("slurm-ci:   jobs " + " ".join(f"{r['native_id']}:{r['process'].split(':')[-1]}:{r['status']}" for r in rows))
if bad:
    sys.exit("slurm-ci: " + "; ".join(bad))
PY
}

same_data() {  # same_data OUTDIR: the data files equal the bare local run's (scripts/ci/compare_outputs.py)
    python3 "$repo/scripts/ci/compare_outputs.py" "$local_out" "$1" | sed 's/^/slurm-ci:   /'
    return "${PIPESTATUS[0]}"
}

# 1. the pipeline through Slurm, capped to the node, with one job cancelled mid-run
step=$SECONDS
out1="$work/out-slurm"
run slurm -profile test,slurm --max_cpus 2 --max_memory 6.GB --site_config "$fault" --outdir "$out1" &
head_pid=$!
cancelled=""
for _ in $(seq 600); do  # wait for REC_VOLUMES' first attempt to run (it sleeps), then cancel it
    cancelled="$(squeue -h -t R -n 'nf-BRT_REC_VOLUMES_(etspy_HAADF_bin2)' -o %i | head -n1)"
    [[ -n "$cancelled" ]] && break
    kill -0 "$head_pid" 2>/dev/null || break
    sleep 0.5
done
[[ -n "$cancelled" ]] && sleep 1 && scancel "$cancelled"
wait "$head_pid" 2>/dev/null || true  # (its "Killed" notice is expected)
rc="$(cat "$work/slurm.rc")"
say "slurm: $(count Submitted "$work/slurm.log") tasks submitted, job $cancelled cancelled by scancel, $((SECONDS - step)) s"
[[ $rc == 0 && -n "$cancelled" ]] || { tail -40 "$work/slurm.log"; fail "-profile test,slurm (with one scancel)"; }
tasks=$(count Submitted "$work/slurm.log")  # the retry is "Re-submitted"
! grep -i "undefined parameter" "$work/slurm.log" || fail "parameter warnings in -profile test,slurm"
check_jobs "$out1" || fail "the Slurm jobs of -profile test,slurm"
python3 - "$(trace_of "$out1")" "$cancelled" <<'PY' || fail "the cancelled task was not retried"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
tries = [r for r in rows if r["process"] == "BRT:REC_VOLUMES"]
first = next(r for r in tries if r["native_id"] == sys.argv[2])
assert first["status"] == "FAILED" and first["exit"] == "143", first
assert any(r["attempt"] == "2" and r["status"] == "COMPLETED" for r in tries), tries
assert sum(r["status"] == "COMPLETED" for r in rows) == len(rows) - 1, "other tasks failed"
print(f"slurm-ci:   scancel {sys.argv[2]}: REC_VOLUMES exit {first['exit']}, retried as attempt 2: COMPLETED")
PY
grep -l "^#SBATCH -p debug" "$work"/launch-slurm/work/*/*/.command.run >/dev/null || fail "the site file's partition is not in the jobs"
same_data "$out1" || fail "-profile test,slurm data files"

# 2. -resume: all cached
step=$SECONDS
run slurm-resume -profile test,slurm --max_cpus 2 --max_memory 6.GB --site_config "$fault" --outdir "$out1" -resume
say "slurm-resume: exit $rc, $(count Submitted "$work/slurm-resume.log") run, $(count Cached "$work/slurm-resume.log") cached, $((SECONDS - step)) s"
[[ $rc == 0 && $(count Submitted "$work/slurm-resume.log") == 0 && $(count Cached "$work/slurm-resume.log") == "$tasks" ]] \
    || fail "-resume did not find all $tasks tasks cached"

# 3. GPU request (stub), legacy config parser, site file
step=$SECONDS
NXF_SYNTAX_PARSER=v1 NF_CONFIG="$poll" run gpu -profile test,slurm -stub-run --gpus 1 --max_cpus 2 --max_memory 6.GB \
    --site_config "$site" --outdir "$work/out-gpu"
say "gpu (stub, NXF_SYNTAX_PARSER=v1): exit $rc, $(count Submitted "$work/gpu.log") tasks, $((SECONDS - step)) s"
[[ $rc == 0 ]] || { tail -40 "$work/gpu.log"; fail "-stub-run --gpus 1"; }
check_jobs "$work/out-gpu" || fail "the Slurm jobs of the GPU stub run"
brt_run="$(grep -l "^### name: 'BRT:BATCHRUNTOMO" "$work"/launch-gpu/work/*/*/.command.run)"
grep -q "^#SBATCH --gres=gpu:1" "$brt_run" || fail "no GPU request in $brt_run"
brt_job="$(python3 -c "import csv,sys; print(next(r['native_id'] for r in csv.DictReader(open(sys.argv[1]), delimiter='\t') if r['process'] == 'BRT:BATCHRUNTOMO'))" "$(trace_of "$work/out-gpu")")"
# (Slurm starts a job asking a GRES only once it has allocated it: COMPLETED means it got the GPU)
job_info="$(scontrol show job "$brt_job")"
grep -q "TresPerNode=gres:gpu:1" <<<"$job_info" && grep -q "JobState=COMPLETED" <<<"$job_info" \
    || fail "job $brt_job did not ask for or get the GPU: $job_info"
grep -q "EMFLOW_SITE=ci-site" "$brt_run" && grep -q "^#SBATCH -p debug" "$brt_run" || fail "site settings missing under v1"
say "  BATCHRUNTOMO job $brt_job: $(grep '^#SBATCH --gres' "$brt_run"), $(grep -o 'TresPerNode=[^ ]*' <<<"$job_info"), COMPLETED"

# 4. the head killed mid-run, then -resume
step=$SECONDS
out4="$work/out-kill"
run kill -profile test,slurm --site_config "$fault" --outdir "$out4" &
head_pid=$!
for _ in $(seq 600); do  # REC_VOLUMES' first attempt waits: by then the tasks before it are done
    squeue -h -t R -n 'nf-BRT_REC_VOLUMES_(etspy_HAADF_bin2)' -o %i | grep -q . && break
    sleep 0.5
done
java_pid=""
for pid in $(pgrep -x java); do  # the head of this run: the java whose working folder is its launch folder
    [[ "$(readlink "/proc/$pid/cwd")" == "$work/launch-kill" ]] && java_pid="$pid"
done
[[ -n "$java_pid" ]] || fail "no Nextflow head to kill"
kill -9 "$java_pid"
wait "$head_pid" 2>/dev/null || true  # (its "Killed" notice is expected)
finished="$(cd "$work/launch-kill" && "$nf" log "$(cd "$work/launch-kill" && "$nf" log -q | tail -n1)" -f hash,status | awk '$2 == "COMPLETED" {print $1}' | sort)"
scancel --name 'nf-BRT_REC_VOLUMES_(etspy_HAADF_bin2)' || true  # the killed head's orphan
say "kill: Nextflow head (pid $java_pid) killed with $(wc -w <<<"$finished") tasks finished, $((SECONDS - step)) s"
[[ -n "$finished" ]] || fail "no task had finished before the head was killed"
step=$SECONDS
touch "$no_fault"
run kill-resume -profile test,slurm --site_config "$fault" --outdir "$out4" -resume
say "kill-resume: exit $rc, $(count Submitted "$work/kill-resume.log") run, $(count Cached "$work/kill-resume.log") cached, $((SECONDS - step)) s"
[[ $rc == 0 ]] || { tail -40 "$work/kill-resume.log"; fail "-resume after killing the head"; }
for hash in $finished; do
    grep -q "^\[$hash\] Cached process" "$work/kill-resume.log" || fail "task $hash finished before the kill but was not cached"
done
same_data "$out4" || fail "data files after the head was killed and resumed"

# 5. the production shape: jobs through sbatch, tasks inside the image
step=$SECONDS
if [[ -z "$image" ]]; then
    say "containers: SKIPPED (no image given: slurm.sh LOCAL_OUTDIR WORKDIR IMAGE [PROFILE])"
elif ! "$engine" image exists "$image" 2>/dev/null && ! "$engine" image inspect "$image" >/dev/null 2>&1; then
    say "containers: SKIPPED ($engine has no image $image)"
elif ! grep -Eq "^\s+$engine \{" "$repo/nextflow.config"; then
    say "containers: SKIPPED (no '$engine' profile in nextflow.config)"
else
    # the engine settings these machines need (containers/engine/containers.conf, if present)
    [[ -z "${CONTAINERS_CONF:-}" && -f "$repo/containers/engine/containers.conf" ]] \
        && export CONTAINERS_CONF="$repo/containers/engine/containers.conf"
    run containers -profile "test,slurm,$engine" --container_emflow "$image" --site_config "$site" --outdir "$work/out-containers"
    say "containers (-profile test,slurm,$engine, $image): exit $rc, $(count Submitted "$work/containers.log") tasks, $((SECONDS - step)) s"
    [[ $rc == 0 ]] || { tail -40 "$work/containers.log"; fail "-profile test,slurm,$engine"; }
    check_jobs "$work/out-containers" || fail "the Slurm jobs of the container run"
    grep -q "$engine run" "$(ls "$work"/launch-containers/work/*/*/.command.run | head -n1)" || fail "tasks did not run in $engine"
    same_data "$work/out-containers" || fail "-profile test,slurm,$engine data files"
fi

say "all Slurm checks passed ($tasks tasks per run), $((SECONDS - t0)) s in all"
