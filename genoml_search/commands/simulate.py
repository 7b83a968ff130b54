"""`genoml-search simulate`: cohorts with realistic LD and a known genetic architecture (truth.json)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from genoml_search.flags import COUNT, NON_NEGATIVE, OPEN_FRACTION, SEED, in_range


def simulate(
    out: Annotated[Path, typer.Option("--out", help="Directory to write (train.*, validation.*, truth.json).")],
    n_train: Annotated[int, typer.Option(help="Training samples.", callback=in_range(10))] = 2000,
    n_validation: Annotated[int, typer.Option(help="Validation samples (unrelated to training).",
                                              callback=in_range(10))] = 500,
    n_snps: Annotated[int, typer.Option(help="SNPs.", callback=COUNT)] = 10000,
    n_chromosomes: Annotated[int, typer.Option(help="Chromosomes.", callback=in_range(1, 22))] = 2,
    h2: Annotated[float, typer.Option(help="SNP heritability (liability scale for binary traits).",
                                      callback=in_range(0.0, 1.0, high_open=True))] = 0.3,
    n_causal: Annotated[int, typer.Option(help="Causal SNPs.", callback=NON_NEGATIVE)] = 100,
    effect_distribution: Annotated[str, typer.Option(help="normal or laplace.")] = "normal",
    task: Annotated[str, typer.Option(help="binary, regression or multiclass.")] = "binary",
    prevalence: Annotated[float, typer.Option(help="Binary traits: prevalence K (liability threshold).",
                                              callback=OPEN_FRACTION)] = 0.3,
    n_classes: Annotated[int, typer.Option(help="Multiclass traits: number of classes.",
                                           callback=in_range(2, 100))] = 3,
    covariate: Annotated[Optional[list[str]], typer.Option(
        "--covariate", help="NAME=EFFECT on the liability (repeatable; default AGE=0.01 SEX=0.2).")] = None,
    no_covariates: Annotated[bool, typer.Option("--no-covariates", help="Simulate no covariates.")] = False,
    ld_model: Annotated[str, typer.Option(help="blocks (fast LD blocks) or msprime (coalescent, slow).")] = "blocks",
    missing_rate: Annotated[float, typer.Option(help="Fraction of genotype calls set missing.",
                                                callback=in_range(0.0, 1.0, high_open=True))] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed.", callback=SEED)] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out directory.")] = False,
) -> None:
    """Simulate a training and a validation cohort (PLINK files, phenotype, covariates) and truth.json."""
    from genoml_search.data.simulate import DEFAULT_COVARIATES, SimulationSpec, simulate_cohorts
    from genoml_search.errors import UserError

    effects: tuple[tuple[str, float], ...] = () if no_covariates else DEFAULT_COVARIATES
    if covariate and not no_covariates:
        parsed = []
        for item in covariate:
            name, _, value = item.partition("=")
            try:
                parsed.append((name.strip(), float(value)))
            except ValueError:
                raise UserError(f"--covariate {item!r}: expected NAME=EFFECT, e.g. AGE=0.01") from None
        effects = tuple(parsed)
    spec = SimulationSpec(n_train=n_train, n_validation=n_validation, n_snps=n_snps, n_chromosomes=n_chromosomes,
                          h2=h2, n_causal=n_causal, effect_distribution=effect_distribution, task=task,
                          prevalence=prevalence, n_classes=n_classes, covariate_effects=effects, ld_model=ld_model,
                          missing_rate=missing_rate, seed=seed)
    truth = simulate_cohorts(spec, out, overwrite=overwrite)
    from genoml_search.terminal import console

    console.print(f"wrote {out}: train.bed/.bim/.fam ({n_train} x {n_snps}), validation.* ({n_validation}), "
                  "train_pheno.csv, train_covar.csv, validation_pheno.csv, validation_covar.csv, truth.json")
    for section in ("expected", "realized"):
        values = {k: v for k, v in truth.get(section, {}).items() if isinstance(v, (int, float))}
        if values:
            console.print(f"{section}: " + ", ".join(f"{k} {v:.4g}" for k, v in list(values.items())[:8]))


def register(app: Any) -> None:
    """Add the command to the CLI."""
    app.command()(simulate)
