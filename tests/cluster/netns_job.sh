#!/usr/bin/env bash
# Several hosts on one machine, for real (issue #18): one network namespace per role, joined by veth
# pairs to a bridge in a hub namespace, each role with its own address in 198.18.0.0/24 (the range
# reserved for network benchmarking), its own PID namespace and /proc (so no role can open another's
# files through /proc, as the same-host weight memory file would) and its own run directory; the roles
# find each other only through the scheduler's registry. The config and tokenizer (inputs) are read
# from the one filesystem. Everything this script creates is named stride-<pid>-*, and is
# removed on exit, also on failure.
#
# Usage: netns_job.sh STRIDE_BIN CONFIG WORKDIR
#   $STRIDE_NETNS_OVERRIDES: key=value overrides for every role (e.g. trainer.steps=10).
#   $STRIDE_NETNS_PARTITION=ROLE:STEPS:SECONDS: once the trainer has logged STEPS steps, ROLE's link
#     goes down for SECONDS (a network partition: its packets are dropped, no connection is reset), then
#     up again; the script prints "partition: ROLE cut off" and "partition: ROLE reconnected".
# Exit: 0 when every role exited 0; 77 when network namespaces cannot be made here (no CAP_NET_ADMIN);
# otherwise the first failing role's code. Writes WORKDIR/<role>/ (run directories) and
# WORKDIR/<role>.log, and WORKDIR/namespaces (the names it made, for the caller to check they are gone).
set -uo pipefail

BIN=$1 CONFIG=$2 WORK=$3
P="stride-$$"
HUB="$P-hub"
ROLES=(scheduler buffer trainer rollout0 rollout1)
declare -A ADDR=([scheduler]=198.18.0.1 [buffer]=198.18.0.2 [trainer]=198.18.0.3 [rollout0]=198.18.0.4
                 [rollout1]=198.18.0.5)
PIDS=() NAMES=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for r in "${ROLES[@]}"; do ip netns del "$P-$r" 2>/dev/null; done
  ip netns del "$HUB" 2>/dev/null
}
trap cleanup EXIT

mkdir -p "$WORK"
printf '%s\n' "$HUB" "${ROLES[@]/#/$P-}" > "$WORK/namespaces"
if ! ip netns add "$HUB" 2>"$WORK/netns.err"; then
  echo "netns_job: cannot create a network namespace here: $(cat "$WORK/netns.err")"
  exit 77
fi
set -e
ip -n "$HUB" link add br0 type bridge
ip -n "$HUB" link set br0 up
i=0
for r in "${ROLES[@]}"; do
  ns="$P-$r"
  ip netns add "$ns"
  ip -n "$HUB" link add "v$i" type veth peer name eth0 netns "$ns"
  ip -n "$HUB" link set "v$i" master br0 up
  ip -n "$ns" addr add "${ADDR[$r]}/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  i=$((i + 1))
done
set +e

SCHED="tcp://${ADDR[scheduler]}:7400"
read -r -a OVERRIDES <<<"${STRIDE_NETNS_OVERRIDES:-}"
start_role() {  # NAME ROLE [ARGS...]
  local name=$1 role=$2
  shift 2
  ip netns exec "$P-$name" unshare --pid --fork --mount-proc --kill-child=SIGTERM \
    "$BIN" role "$role" --config "$CONFIG" --scheduler "$SCHED" \
    --advertise "${ADDR[$name]}" "$@" "${OVERRIDES[@]}" "run_dir=$WORK/$name" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  NAMES+=("$name")
}
start_role scheduler scheduler
start_role rollout0 rollout --worker 0
start_role rollout1 rollout --worker 1
start_role trainer trainer
start_role buffer buffer

# The partition: eth0 of ROLE's namespace down (its side of the veth pair), then up again.
partition() {  # ROLE STEPS SECONDS
  local n=0
  for _ in $(seq 1 6000); do
    for f in "$WORK"/trainer/*/metrics.jsonl; do [ -f "$f" ] && n=$(wc -l <"$f"); done
    [ "$n" -ge "$2" ] && break
    sleep 0.1
  done
  ip -n "$P-$1" link set eth0 down && echo "partition: $1 cut off after step $n"
  sleep "$3"
  ip -n "$P-$1" link set eth0 up && echo "partition: $1 reconnected after $3 s"
}
if [ -n "${STRIDE_NETNS_PARTITION:-}" ]; then
  IFS=: read -r PROLE PSTEPS PSECONDS <<<"$STRIDE_NETNS_PARTITION"
  partition "$PROLE" "$PSTEPS" "$PSECONDS" &
  PART_PID=$!
fi

rc=0
for k in "${!PIDS[@]}"; do
  wait "${PIDS[$k]}"
  code=$?
  echo "role ${NAMES[$k]} (${ADDR[${NAMES[$k]}]}): exit $code"
  [ $rc -eq 0 ] && [ $code -ne 0 ] && rc=$code
done
PIDS=()
if [ -n "${PART_PID:-}" ]; then  # every role ended: a partition still waiting for its step never comes
  kill "$PART_PID" 2>/dev/null
  wait "$PART_PID" 2>/dev/null
fi
exit $rc
