#!/usr/bin/env bash
# The one-run knee study of docs/results.md (issue 22): every learnable cell x 3 seeds, the stop
# methods and the fixed TF-MOT grid, rows merged into docs/results/knee/<dataset>/<cell>/knee_study.csv
# as each run finishes; then the noise measurement and the tables of docs/results.md.
#   usage: docs/results/run_knee.sh [SEEDS]     (about 90 min on 2 idle cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
seeds=${1:-"0 1 2"}
cells=("mnist_5k lstm" "mnist_5k gru" "mnist_5k simplernn" "digits lstm" "digits gru"
       "digits simplernn" "mnist1d lstm" "mnist1d gru")  # mnist1d simplernn cannot learn (24 %)
for seed in $seeds; do
  for cell in "${cells[@]}"; do
    set -- $cell
    $PY -m tf_expander_pruning.research.experiments.knee_study --dataset "$1" --cell "$2" \
      --seeds "$seed" --out docs/results/knee
  done
done
for dataset in digits mnist_5k mnist1d; do
  $PY -m tf_expander_pruning.research.experiments.knee_study --dataset $dataset --cell lstm \
    --seeds $seeds --noise --out docs/results/knee
done
$PY -m tf_expander_pruning.research.experiments.knee_tables docs/results/knee docs/results.md
