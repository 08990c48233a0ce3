#!/usr/bin/env bash
# Criterion variants of RamanujanConstraint on the protocol of run_protocol.sh (same model, data,
# budget; no fixed targets rerun): rows are added to docs/results/<dataset>/<cell>/stopping_rule.csv
# next to the defaults ("ramanujan").
#   usage: docs/results/run_variants.sh DATASET "SEEDS" [CELLS]
set -euo pipefail
dataset=$1; seeds=$2; cells=${3:-"lstm gru simplernn"}
case $dataset in
  digits)   model=(--units 64 --rounds 14 --prune-fraction 0.2 --dense-epochs 40 --finetune-epochs 4) ;;
  mnist_5k) model=(--units 32 --rounds 9 --prune-fraction 0.3 --dense-epochs 15 --finetune-epochs 1) ;;
  mnist1d)  model=(--units 32 --rounds 9 --prune-fraction 0.3 --dense-epochs 30 --finetune-epochs 1) ;;
  *) echo "unknown data set $dataset" >&2; exit 2 ;;
esac
variants=(
  --constraint whole_matrix:per_gate=false
  --constraint undefined_skip:undefined=skip
  --constraint delta_s:criterion=spectral_gap
  --constraint margin_minus1:margin=-1
  --constraint margin_plus1:margin=1
)
for seed in $seeds; do
  for cell in $cells; do
    tf-expander reproduce --experiment stopping-rule --dataset "$dataset" --cell $cell \
      "${model[@]}" --seeds "$seed," --stop-targets "${variants[@]}" --quiet \
      --out docs/results/$dataset/$cell
  done
done
