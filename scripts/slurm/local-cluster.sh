#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, from Debian's packages (slurm-wlm 22.05, munge),
# for CI and for trying `-profile slurm` by hand. No systemd: munged, slurmctld and slurmd are
# started directly, with their own munge socket, config, spool and logs under one state folder,
# so nothing in /etc is touched and a system-wide Slurm (if any) is left alone.
#
#   scripts/slurm/local-cluster.sh start    # idempotent; prints the `export SLURM_CONF=...` to use
#   scripts/slurm/local-cluster.sh status   # the daemons, sinfo, the queue
#   scripts/slurm/local-cluster.sh stop     # ends only the daemons it started (recorded PIDs)
#   scripts/slurm/local-cluster.sh env      # the export line alone (eval "$(... env)")
#
# The node's size follows the machine: CPUs = nproc, RealMemory = a little under `free -m`
# (slurmd refuses a node that reports less than configured). It has one fake GPU (GRES gpu,
# File=/dev/null) so that a job asking `--gres=gpu:1` can be scheduled on a machine without one.
# Completed jobs are logged by jobcomp/filetxt in $EMFLOW_SLURM_DIR/jobcomp.log (no slurmdbd).
# Needs root (slurmd starts jobs as their user). Install: apt-get install slurm-wlm munge
set -euo pipefail

state="${EMFLOW_SLURM_DIR:-/tmp/emflow-slurm}"
conf="$state/etc/slurm.conf"
daemons=(munged slurmctld slurmd)

say() { echo "local-cluster: $*"; }
die() { echo "local-cluster: ERROR: $*" >&2; exit 1; }

pid_of() {  # the recorded PID of a daemon we started, if it is still that daemon
    local pid
    pid="$(cat "$state/run/$1.pid" 2>/dev/null)" || return 1
    [[ -n "$pid" && "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$1" ]] || return 1
    echo "$pid"
}

write_config() {
    local host cpus mem_mb
    host="$(hostname -s)"
    cpus="$(nproc)"
    # 95% of the memory free now (other processes keep theirs), at least 1 GB
    mem_mb="$(free -m | awk '/^Mem:/ { m = int($7 * 0.95); print (m < 1024 ? 1024 : m) }')"
    mkdir -p "$state"/{etc,run,log,spool/ctld,spool/d}
    cat >"$conf" <<EOF
# written by scripts/slurm/local-cluster.sh: one node, $cpus CPUs, $mem_mb MB
ClusterName=emflow
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$state/run/munge.socket
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$state/spool/ctld
SlurmdSpoolDir=$state/spool/d
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
# no cgroups in containers or without systemd: track processes by /proc, bind nothing
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# a job asking more than the node has is refused at submission instead of pending forever
EnforcePartLimits=ALL
DefMemPerCPU=1024
# quick turnaround for short CI jobs
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MessageTimeout=30
InactiveLimit=0
KillWait=10
MinJobAge=600
JobCompType=jobcomp/filetxt
JobCompLoc=$state/jobcomp.log
GresTypes=gpu
NodeName=$host CPUs=$cpus RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    echo "Name=gpu File=/dev/null" >"$state/etc/gres.conf"
}

start() {
    command -v slurmctld >/dev/null && command -v munged >/dev/null \
        || die "slurmctld/munged not found: apt-get install slurm-wlm munge"
    [[ $EUID == 0 ]] || die "run as root (slurmd starts jobs as their submitting user)"
    if pid_of slurmctld >/dev/null && pid_of slurmd >/dev/null && pid_of munged >/dev/null; then
        say "already running (state in $state)"
    else
        stop quiet
        write_config
        [[ -s /etc/munge/munge.key ]] || die "no /etc/munge/munge.key (reinstall munge)"
        munged --socket="$state/run/munge.socket" --pid-file="$state/run/munged.pid" \
            --log-file="$state/log/munged.log" --seed-file="$state/run/munged.seed" --force
        export SLURM_CONF="$conf"
        slurmctld -i
        slurmd
        say "started munged, slurmctld, slurmd (state in $state)"
    fi
    export SLURM_CONF="$conf"
    local i up=""
    for i in $(seq 60); do  # the node registers within a few seconds
        # one of them died (its PID file is written a moment after start): see its log
        (( i > 6 )) && ! { pid_of slurmctld && pid_of slurmd; } >/dev/null && break
        timeout 5 sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)' && { up=1; break; }
        sleep 0.5
    done
    if [[ -z "$up" ]]; then
        tail -n 5 "$state/log/slurmctld.log" "$state/log/slurmd.log" >&2
        stop
        die "the node did not come up (logs above, in $state/log)"
    fi
    say "$(sinfo -h -N -o 'node %N: %T, %c CPUs, %m MB, %G, partition %P')"
    say "use it with: export SLURM_CONF=$conf"
}

stop() {
    local name pid i stopped=()
    if pid_of slurmctld >/dev/null; then  # end the jobs first: their slurmstepd outlive slurmd
        SLURM_CONF="$conf" squeue -h -o %i 2>/dev/null | xargs -r env SLURM_CONF="$conf" scancel || true
        for i in $(seq 50); do  # cancelled jobs leave the queue once their processes are gone
            [[ -z "$(SLURM_CONF="$conf" squeue -h -o %i 2>/dev/null)" ]] && break
            sleep 0.2
        done
    fi
    for name in slurmd slurmctld munged; do
        pid="$(pid_of "$name")" || continue
        kill "$pid"
        for i in $(seq 50); do [[ -d "/proc/$pid" ]] || break; sleep 0.2; done
        [[ -d "/proc/$pid" ]] && kill -9 "$pid"
        stopped+=("$name($pid)")
    done
    rm -f "$state"/run/*.pid
    [[ "${1:-}" == quiet ]] || say "stopped: ${stopped[*]:-nothing was running}"
}

status() {
    local name pid rc=0
    for name in "${daemons[@]}"; do
        if pid="$(pid_of "$name")"; then say "$name running (pid $pid)"; else say "$name not running"; rc=3; fi
    done
    if [[ $rc == 0 ]]; then
        SLURM_CONF="$conf" sinfo -N -l
        SLURM_CONF="$conf" squeue
    fi
    return $rc
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) echo "export SLURM_CONF=$conf" ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
