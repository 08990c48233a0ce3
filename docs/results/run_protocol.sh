#!/usr/bin/env bash
# The protocol behind docs/results.md, one data set per call, seed by seed (rows merge into
# docs/results/<dataset>/<cell>/ as each run finishes, so partial results are kept).
#   usage: docs/results/run_protocol.sh DATASET "SEEDS" [stop|curves|both] [CELLS]
#   e.g.   docs/results/run_protocol.sh mnist_5k "0 1 2" both
set -euo pipefail
dataset=$1; seeds=$2; what=${3:-both}; cells=${4:-"lstm gru simplernn"}
case $dataset in
  digits)   model=(--units 64 --rounds 14 --prune-fraction 0.2 --dense-epochs 40 --finetune-epochs 4) ;;
  mnist_5k) model=(--units 32 --rounds 9 --prune-fraction 0.3 --dense-epochs 15 --finetune-epochs 1) ;;
  mnist1d)  model=(--units 32 --rounds 9 --prune-fraction 0.3 --dense-epochs 30 --finetune-epochs 1) ;;
  *) echo "unknown data set $dataset" >&2; exit 2 ;;
esac
for seed in $seeds; do
  for cell in $cells; do
    out=docs/results/$dataset/$cell
    if [[ $what == stop || $what == both ]]; then
      tf-expander reproduce --experiment stopping-rule --dataset "$dataset" --cell $cell \
        "${model[@]}" --seeds "$seed," --quiet --out "$out"
    fi
    if [[ $what == curves || $what == both ]]; then
      tf-expander reproduce --experiment curves --dataset "$dataset" --cell $cell \
        "${model[@]}" --seeds "$seed," --quiet --out "$out/curves"
    fi
  done
done
