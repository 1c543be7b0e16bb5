#!/usr/bin/env bash
# Starts or stops a one-node SLURM cluster on this machine for the slurm-mode tests
# (../shared/slurm-behavior.md says what it takes). Needs root and the Debian packages
# slurm-wlm, munge and tini (`install` fetches them).
#   cluster.sh install        apt-get the packages if missing
#   cluster.sh start DIR      config, state and pid files under DIR; prints SLURM_CONF=...
#   cluster.sh stop DIR       stops every daemon start started (by their pid files)
set -euo pipefail

cmd=${1:?usage: cluster.sh install|start DIR|stop DIR}

case "$cmd" in
install)
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v tini >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge tini >/dev/null
  fi
  ;;
start)
  dir=$(realpath -m "${2:?start needs a folder}")
  mkdir -p "$dir"/{state,spool,log}
  host=$(hostname -s 2>/dev/null || cut -d. -f1 /proc/sys/kernel/hostname)
  layout="CPUs=8 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=1"
  mem=$(slurmd -C | head -1 | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  cat >"$dir/slurm.conf" <<CONF
ClusterName=stata-mcp-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
# Eight cores declared whatever the machine has, so a test can run several jobs at once on a
# 2-core machine (the double uses no CPU to speak of).
SlurmdParameters=config_overrides
SchedulerParameters=batch_sched_delay=0
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=1
JobAcctGatherParams=OverMemoryKill
KillWait=5
MinJobAge=2
MailProg=/bin/true
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 $layout RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  mkdir -p /run/munge
  chown munge:munge /run/munge 2>/dev/null || true
  [ -f /etc/munge/munge.key ] || mungekey --create
  if ! munge -n </dev/null >/dev/null 2>&1; then
    # munged runs as munge, which cannot write in $dir: its pid file goes in its own folder.
    runuser -u munge -- munged --pid-file=/run/munge/stata-mcp-test.pid
    for _ in $(seq 1 50); do
      munge -n </dev/null >/dev/null 2>&1 && break
      sleep 0.1
    done
    cp /run/munge/stata-mcp-test.pid "$dir/munged.pid"
  fi
  export SLURM_CONF="$dir/slurm.conf"
  # Each daemon in the foreground under tini, which reaps what it leaves behind: a cancelled
  # job does not linger in COMPLETING, and no exited daemon stays a zombie.
  setsid tini -s -- slurmctld -D -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 &
  echo $! >"$dir/tini-ctld.pid"
  setsid tini -s -- slurmd -D -f "$SLURM_CONF" >"$dir/log/slurmd.out" 2>&1 &
  echo $! >"$dir/tini.pid"
  for _ in $(seq 1 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
      echo "SLURM_CONF=$SLURM_CONF"
      exit 0
    fi
    sleep 0.5
  done
  echo "the node did not become idle within 30 s:" >&2
  sinfo >&2 || true
  tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  exit 1
  ;;
stop)
  dir=$(realpath -m "${2:?stop needs a folder}")
  for f in slurmctld.pid slurmd.pid tini.pid tini-ctld.pid; do
    [ -f "$dir/$f" ] && kill "$(cat "$dir/$f")" 2>/dev/null || true
  done
  [ -f "$dir/munged.pid" ] && kill "$(cat "$dir/munged.pid")" 2>/dev/null || true
  # Wait for them to go, so the next start finds the ports free.
  for _ in $(seq 1 50); do
    alive=0
    for f in slurmctld.pid slurmd.pid tini.pid tini-ctld.pid munged.pid; do
      [ -f "$dir/$f" ] && kill -0 "$(cat "$dir/$f")" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  ;;
*)
  echo "usage: cluster.sh install|start DIR|stop DIR" >&2
  exit 2
  ;;
esac
