#!/usr/bin/env bash
# Runs the quickstart (configs/quickstart.yaml) on several seeds and prints, per seed, the SFT stop
# point, the held-out greedy accuracy at the first and last RL step, the gain and the times; the
# headline line (smallest / largest gain over the seeds) comes last.
#
#   bench/quickstart_seeds.sh                      # seeds 1-5, one after another
#   SEEDS="1 2 3 4 5 6 7 8" PARALLEL=2 bench/quickstart_seeds.sh trainer.steps=100
#
# Extra arguments are passed to `stride run` as key=value overrides. Runs are named qs_seed<S>
# (NAME_PREFIX changes the prefix) under runs/ and started with overwrite=true. PARALLEL > 1 runs
# that many seeds at once: their accuracies are the same as one at a time (a run is deterministic
# for a seed, a machine and STRIDE_THREADS), their wall times are not comparable.
set -euo pipefail
cd "$(dirname "$0")/.."
STRIDE=${STRIDE:-build/bin/stride}
SEEDS=${SEEDS:-"1 2 3 4 5"}
PARALLEL=${PARALLEL:-1}
PREFIX=${NAME_PREFIX:-qs_seed}
CONFIG=${CONFIG:-configs/quickstart.yaml}
[ -x "$STRIDE" ] || { echo "no $STRIDE: build first (make build)" >&2; exit 1; }
command -v jq >/dev/null || { echo "needs jq" >&2; exit 1; }
mkdir -p runs

run_one() {
    local s=$1; shift
    local t0 t1
    t0=$(date +%s.%N)
    "$STRIDE" run "$CONFIG" seed="$s" name="$PREFIX$s" overwrite=true "$@" >"runs/$PREFIX$s.out" 2>&1 ||
        { echo "seed $s: stride run failed, see runs/$PREFIX$s.out" >&2; return 1; }
    t1=$(date +%s.%N)
    echo "$t0 $t1" >"runs/$PREFIX$s.wall"
}

pids=()
for s in $SEEDS; do
    run_one "$s" "$@" &
    pids+=($!)
    while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do wait -n || true; done
done
for p in "${pids[@]}"; do wait "$p" || true; done

gains=()
for s in $SEEDS; do
    d="runs/$PREFIX$s"
    m="$d/metrics.jsonl"
    if [ ! -s "$m" ] || [ ! -f "$d.wall" ]; then echo "seed $s: no result (runs/$PREFIX$s.out)"; continue; fi
    read -r first last <<<"$(jq -s '[.[] | select(has("eval/accuracy"))] | "\(.[0]["eval/accuracy"]) \(.[-1]["eval/accuracy"])"' -r "$m")"
    steps=$(jq -s 'length' "$m")
    rl_s=$(jq -s '[.[]["time/step_s"]] | add' "$m")
    reward0=$(jq -s '[.[:10][]["reward/mean"]] | add / length' "$m")
    reward1=$(jq -s '[.[-10:][]["reward/mean"]] | add / length' "$m")
    sft=$(jq -s '[.[] | select(has("eval/accuracy"))][-1] | "\(.sft_step) steps, greedy \(.["eval/accuracy"])" + (if has("eval/sampled_accuracy") then ", sampled \(.["eval/sampled_accuracy"])" else "" end)' -r "$d/sft_metrics.jsonl")
    read -r t0 t1 <"$d.wall"
    wall=$(echo "$t1 - $t0" | bc)
    gain=$(echo "$last - $first" | bc -l)
    gains+=("$gain")
    printf 'seed %s: SFT %s; eval accuracy %.3f -> %.3f (%d RL steps), gain %+.3f; reward %.3f (first 10 steps) -> %.3f (last 10); trainer %.0f s, wall %.0f s\n' \
        "$s" "$sft" "$first" "$last" "$steps" "$gain" "$reward0" "$reward1" "$rl_s" "$wall"
done
[ ${#gains[@]} -gt 0 ] || { echo "no run finished" >&2; exit 1; }
printf '%s\n' "${gains[@]}" | sort -g | awk -v n="${#gains[@]}" -v seeds="$SEEDS" \
    '{g[NR]=$1; s+=$1} END {printf "quickstart gain over seeds %s: %+.3f to %+.3f (mean %+.3f, %d runs, %s)\n", seeds, g[1], g[NR], s/NR, n, "'"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"', " "'"$(nproc)"' cores"}'
