#!/usr/bin/env bash
# The whole flow on the bundled GenoML2 example: munge -> run (SQLite + local Dask) -> status -> report -> predict.
# Usage: scripts/demo.sh GENOML_SEARCH_BIN EXAMPLE_DIR OUT_DIR N_TRIALS
set -euo pipefail
bin=$1 ex=$2 out=$3 trials=$4
mkdir -p "$out"
"$bin" munge --bfile "$ex/training" --pheno "$ex/training_pheno.csv" --covar "$ex/training_addit.csv" \
  --out "$out/dataset"
"$bin" run "$out/dataset" --task binary --out "$out/run" --n-trials "$trials" \
  --validation-bfile "$ex/validation" --validation-pheno "$ex/validation_pheno.csv" \
  --validation-covar "$ex/validation_addit.csv"
"$bin" status "$out/run"
"$bin" report "$out/run"
"$bin" predict --model "$out/run" --bfile "$ex/validation" --covar "$ex/validation_addit.csv" \
  --out "$out/validation_predictions.csv"
echo "metrics: $out/run/metrics.json  model: $out/run/model/  report: $out/run/report/report.html"
echo "predictions: $out/validation_predictions.csv"
