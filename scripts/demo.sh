#!/usr/bin/env bash
# `make demo`: first an honest result on a simulated cohort with an unrelated validation cohort, then the
# bundled GenoML2 example as the leakage showcase (its validation samples are copies of training samples).
# Usage: scripts/demo.sh GENOML_SEARCH_BIN EXAMPLE_DIR OUT_DIR N_TRIALS   (TIMEOUT=seconds per search, default 60)
set -euo pipefail
bin=$1 ex=$2 out=$3 trials=$4
budget=${TIMEOUT:-60}
mkdir -p "$out"

echo "== 1. A simulated cohort: 1,000 training + 500 unrelated validation samples, 14,000 SNPs, h2 0.5 =="
sim="$out/simulated"
"$bin" simulate --out "$sim/cohort" --n-train 1000 --n-validation 500 --n-snps 14000 --n-causal 20 --h2 0.5 \
  --seed 1 --overwrite
"$bin" munge --bfile "$sim/cohort/train" --pheno "$sim/cohort/train_pheno.csv" \
  --covar "$sim/cohort/train_covar.csv" --out "$sim/dataset"
"$bin" run "$sim/dataset" --out "$sim/run" --n-trials "$trials" --timeout "$budget" \
  --validation-bfile "$sim/cohort/validation" --validation-pheno "$sim/cohort/validation_pheno.csv" \
  --validation-covar "$sim/cohort/validation_covar.csv"
"$bin" report "$sim/run"
"$bin" predict --model "$sim/run" --bfile "$sim/cohort/validation" --covar "$sim/cohort/validation_covar.csv" \
  --pheno "$sim/cohort/validation_pheno.csv" --out "$sim/validation_predictions.csv"
echo "what the simulation allows (truth.json):"
python3 -c "import json,sys; e=json.load(open(sys.argv[1]))['expected']; print(f\"  best possible AUC {e['max_auc_with_covariates']:.3f}, expected at this sample size {e['expected_auc_with_covariates']:.3f}\")" \
  "$sim/cohort/truth.json" || true

echo
echo "== 2. The GenoML2 example: its validation cohort is 100 copies of training samples (leakage showcase) =="
gex="$out/genoml2-example"
"$bin" munge --bfile "$ex/training" --pheno "$ex/training_pheno.csv" --covar "$ex/training_addit.csv" \
  --out "$gex/dataset"
"$bin" run "$gex/dataset" --task binary --out "$gex/run" --n-trials "$trials" --timeout "$budget" \
  --validation-bfile "$ex/validation" --validation-pheno "$ex/validation_pheno.csv" \
  --validation-covar "$ex/validation_addit.csv"
"$bin" status "$gex/run"
"$bin" report "$gex/run"
"$bin" predict --model "$gex/run" --bfile "$ex/validation" --covar "$ex/validation_addit.csv" \
  --out "$gex/validation_predictions.csv"

echo
echo "simulated: report $sim/run/report/report.html  model card $sim/run/model/MODEL_CARD.md"
echo "GenoML2 example: report $gex/run/report/report.html  metrics $gex/run/metrics.json"
echo "watch a study: optuna-dashboard sqlite:///$(cd "$sim/run" && pwd)/study.db   (pip install optuna-dashboard)"
