#!/usr/bin/env bash
# One prepared check of an accelerator (GPU or TPU) machine, in the order a
# session with little device time needs: the ops' tests against their float64
# references, the conv/pool timings, the training throughput, the main job,
# the fast recipe's time to 99% (benchmarks/fast_recipe.py) and the pooling
# experiment whole (7 variants x 3 seeds x 3 epochs, its wall time the row's). Each step's exit status and wall time go in a table,
# device_check_<platform>.md, beside the benchmarks' own tables; a failing
# step does not stop the later ones, but the script then exits 1.
#
#   bash benchmarks/device_check.sh            # the full check, into results/benchmarks/
#   bash benchmarks/device_check.sh --short    # a smoke run (a few minutes on a CPU),
#                                              # into runs/device_check_short/
#   bash benchmarks/device_check.sh --short --out=DIR
#
# CONVNETS_SHORT=1 is --short. MNIST is found as by run_experiment.py
# ($CONVNETS_DATA_DIR, else ~/.cache/convnets/mnist).
set -uo pipefail
cd "$(dirname "$0")/.."

short="${CONVNETS_SHORT:-0}"
out=""
for arg in "$@"; do
  case "$arg" in
    --short) short=1 ;;
    --out=*) out="${arg#--out=}" ;;
    *) echo "error: unknown argument $arg (usage: benchmarks/device_check.sh [--short] [--out=DIR])" >&2
       exit 2 ;;
  esac
done
if [[ "$short" == 1 ]]; then out="${out:-runs/device_check_short}"; else out="${out:-results/benchmarks}"; fi
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
platform="$(python -c 'import jax; print(jax.default_backend())')" || {
  echo "error: JAX does not import: pip install -r requirements.txt" >&2; exit 2; }

if [[ "$short" == 1 ]]; then
  op_tests=(tests/test_ops_misc.py)
  conv_pool=(--quick --reps=1 --warmup=1)
  throughput=(--models=mlp_300 --batch_sizes=128 --epochs=1)
  main_job=(--model=mlp_300 --config.epochs=1 --config.data.train_subset=1000)
  fast_recipe=(--seeds=0 --nomain_job)
  experiment=(--experiment=pooling --quick --variants=max --config.data.train_subset=500)
else
  op_tests=(tests/test_ops_conv.py tests/test_ops_pool.py tests/test_ops_misc.py)
  conv_pool=()
  throughput=()
  main_job=()
  fast_recipe=()
  experiment=(--experiment=pooling --seeds=3)
fi

rows=()
failed=0
# step NAME COMMAND...: run it, its output to $out/device_check_NAME.log, one table row.
step() {
  local name="$1"; shift
  local start=$SECONDS
  echo "== $name: $*"
  "$@" > "$out/device_check_$name.log" 2>&1
  local status=$?
  tail -n 3 "$out/device_check_$name.log"
  rows+=("| $name | \`$*\` | $status | $((SECONDS - start)) |")
  if [[ $status != 0 ]]; then failed=1; fi
}

step op_tests python -m pytest -q "${op_tests[@]}"
step conv_pool python benchmarks/conv_pool.py --out="$out" "${conv_pool[@]}"
step train_throughput python benchmarks/train_throughput.py --out="$out" "${throughput[@]}"
step main_job python run_experiment.py --workdir="$work/main" "${main_job[@]}"
step fast_recipe python benchmarks/fast_recipe.py --out="$out" "${fast_recipe[@]}"
step experiment python run_experiment.py --workdir="$work/experiment" "${experiment[@]}"

table="$out/device_check_$platform.md"
{
  echo "# Device check on $platform$([[ "$short" == 1 ]] && echo " (--short: a smoke run, not a measurement)")"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ); logs: device_check_<step>.log beside this file."
  echo
  echo "| step | command | exit status | seconds |"
  echo "| --- | --- | --- | --- |"
  printf '%s\n' "${rows[@]}"
} > "$table"
echo "== table: $table"
cat "$table"
exit "$failed"
