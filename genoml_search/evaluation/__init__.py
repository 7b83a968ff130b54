"""What a finished run is compared with: a covariates-only baseline, the best trial of other families, and
binary-trait summaries (case/control counts, threshold statistics, odds ratio per SD, risk by decile)."""
