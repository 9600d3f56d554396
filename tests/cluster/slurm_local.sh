#!/usr/bin/env bash
# A real Slurm on this one machine, for tests/cluster (issue #18): munged + slurmctld + slurmd, every
# file under DIR (its own munge key and socket, state, spool, logs, pid files) and its own free ports,
# so that parallel runs do not meet. Needs root (slurmd), Debian's slurm-wlm and munge.
#
#   slurm_local.sh start DIR   prints `export SLURM_CONF=DIR/slurm.conf` once the node is idle
#   slurm_local.sh stop DIR    stops exactly the daemons started in DIR (their pid files)
#
# Exit 77 from start: Slurm cannot run here (not root, packages missing). The configuration follows
# /work/shared/spec/cluster.md: proctrack/linuxproc, task/none, select/cons_tres with CR_Core,
# munge socket directory 0755, no accounting.
set -euo pipefail

cmd=$1 DIR=$(realpath -m "$2")

stop() {
  for d in slurmd slurmctld munged; do
    local f="$DIR/run/$d.pid"
    [ -s "$f" ] || continue
    local pid
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

free_port() {  # a TCP port nobody listens on, from a range apart from the ephemeral one
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}

start() {
  if [ "$(id -u)" -ne 0 ] || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "slurm_local: needs root, slurm-wlm and munge (ops/install_deps.sh)" >&2
    exit 77
  fi
  mkdir -p "$DIR"/{munge,run,state,spool,log}
  chmod 0755 "$DIR" "$DIR/run"
  # munge: a key of its own (0400, owned by munge) and a socket directory others can enter (0755).
  chown munge: "$DIR/munge"
  chmod 0700 "$DIR/munge"
  dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
  chown munge: "$DIR/munge/munge.key"
  chmod 0400 "$DIR/munge/munge.key"
  mkdir -p "$DIR/munge-sock"
  chown munge: "$DIR/munge-sock"
  chmod 0755 "$DIR/munge-sock"
  touch "$DIR/run/munged.pid" && chown munge: "$DIR/run/munged.pid"
  runuser -u munge -- /usr/sbin/munged --key-file="$DIR/munge/munge.key" \
    --socket="$DIR/munge-sock/munge.socket" --pid-file="$DIR/run/munged.pid" \
    --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed" --force
  local ctld_port slurmd_port
  ctld_port=$(free_port)
  slurmd_port=$(free_port)
  cat >"$DIR/slurm.conf" <<CONF
ClusterName=stridetest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge-sock/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmdParameters=config_overrides
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ReturnToService=2
MpiDefault=none
NodeName=localhost CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  export SLURM_CONF="$DIR/slurm.conf"
  /usr/sbin/slurmctld -f "$SLURM_CONF"
  /usr/sbin/slurmd -f "$SLURM_CONF" -N localhost
  for _ in $(seq 100); do
    if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
      echo "export SLURM_CONF=$SLURM_CONF"
      return
    fi
    sleep 0.1
  done
  echo "slurm_local: the node did not become idle within 10 s; logs in $DIR/log" >&2
  sinfo >&2 || true
  stop
  exit 1
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) echo "usage: slurm_local.sh start|stop DIR" >&2; exit 2 ;;
esac
