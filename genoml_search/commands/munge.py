"""`genoml-search munge`: PLINK genotypes + phenotype + covariates -> a QC'd, pruned Dataset directory."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from genoml_search.flags import FRACTION, NON_NEGATIVE, in_range, refuse_together
from genoml_search.tasks import Task

QC_FLAGS = {"mind": "--mind", "geno": "--geno", "maf": "--maf", "hwe": "--hwe",
            "hwe_controls_only": "--hwe-controls-only"}


def munge(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Dataset directory to write (replaced atomically).")],
    bfile: Annotated[Optional[str], typer.Option(help="PLINK 1 prefix of .bed/.bim/.fam.")] = None,
    pfile: Annotated[Optional[str], typer.Option(help="PLINK 2 prefix of .pgen/.pvar/.psam (needs pgenlib).")] = None,
    pheno: Annotated[Optional[str], typer.Option(help="Phenotype file (ID or FID IID column + phenotype).")] = None,
    pheno_name: Annotated[Optional[str], typer.Option(help="Phenotype column (default PHENO, else the first).")] = None,
    task: Annotated[str, typer.Option(help="binary, regression, multiclass or auto.")] = "auto",
    covar: Annotated[Optional[str], typer.Option(help="Covariate file (ID + columns).")] = None,
    max_covar_levels: Annotated[int, typer.Option(help="Most levels a text covariate may have.",
                                                  callback=in_range(2))] = 10,
    gwas: Annotated[Optional[str], typer.Option(help="External GWAS summary statistics (SNP and P columns).")] = None,
    gwas_p: Annotated[Optional[float], typer.Option(help="Keep SNPs with GWAS p <= this.",
                                                    callback=in_range(0.0, 1.0, low_open=True))] = None,
    extract: Annotated[Optional[str], typer.Option(help="Keep only the SNP IDs listed in this file.")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Drop the SNP IDs listed in this file.")] = None,
    keep: Annotated[Optional[str], typer.Option(help="Keep only the samples listed (ID or FID IID).")] = None,
    remove: Annotated[Optional[str], typer.Option(help="Drop the samples listed (ID or FID IID).")] = None,
    mind: Annotated[float, typer.Option(help="Drop samples with missing call rate above this.",
                                        callback=FRACTION)] = 0.1,
    geno: Annotated[float, typer.Option(help="Drop variants with missing call rate above this.",
                                        callback=FRACTION)] = 0.05,
    maf: Annotated[float, typer.Option(help="Drop variants with minor allele frequency below this.",
                                       callback=in_range(0.0, 0.5))] = 0.01,
    hwe: Annotated[float, typer.Option(help="Drop variants with HWE exact test p below this.",
                                       callback=FRACTION)] = 1e-6,
    hwe_controls_only: Annotated[bool, typer.Option(help="HWE on controls only (PLINK 1.9 style).")] = False,
    no_qc: Annotated[bool, typer.Option("--no-qc", help="Skip --mind/--geno/--maf/--hwe.")] = False,
    indep_pairwise: Annotated[Optional[tuple[str, str, str]], typer.Option(
        help="LD pruning WINDOW[kb] STEP R2 (PLINK semantics; PLINK 2's WINDOWkb R2 means step 1; "
             "default 50 5 0.9).")] = None,
    skip_prune: Annotated[bool, typer.Option("--skip-prune", help="No LD pruning.")] = False,
    ld_masks: Annotated[Optional[str], typer.Option(
        "--ld-masks", help="LD-pruning r2 thresholds stored as column masks over the QC'd variants, for `run` "
                           "to search (comma-separated; default 0.9,0.5 without --indep-pairwise; with it, none "
                           "unless given: the dataset holds its pruned set only).")] = None,
    like: Annotated[Optional[Path], typer.Option(help="Harmonize to this training dataset instead of QC/pruning.")] = None,
    fill_missing: Annotated[bool, typer.Option(help="With --like: allow training SNPs absent here.")] = False,
    no_kinship: Annotated[bool, typer.Option("--no-kinship", help="Skip KING kinship (related pairs) of a "
                                             "training cohort.")] = False,
    kinship_max_samples: Annotated[int, typer.Option(help="Skip kinship above this many samples (memory grows "
                                                     "with n^2: ~2.3 GB at 10,000).", callback=NON_NEGATIVE)] = 10_000,
    king_table: Annotated[Optional[Path], typer.Option(help="Kinship of a training cohort from this plink2 "
                                                       "--make-king-table file instead of computing it (any "
                                                       "number of samples).")] = None,
    pcs: Annotated[Optional[int], typer.Option("--pcs", help="Genetic PCs to fit on a training cohort "
                                               "(default 10 when it has >= 100 SNPs; 0: none).",
                                               callback=NON_NEGATIVE)] = None,
    table: Annotated[Optional[list[str]], typer.Option("--table", help="Feature table (CSV, TSV or Parquet; one "
                                                       "row per sample), alone or beside genotypes; repeatable.")] = None,
    id_column: Annotated[Optional[str], typer.Option(help="Sample ID column of the --table files (default ID, "
                                                     "IID, ...).")] = None,
    categorical: Annotated[Optional[list[str]], typer.Option("--categorical", help="Table columns to treat as "
                                                             "categorical (COL,COL,...), besides text ones.")] = None,
) -> None:
    """Turn PLINK genotypes and/or feature tables + phenotype + covariates into a Dataset directory."""
    from genoml_search.data.munge import DEFAULT_LD_MASKS, MungeOptions, PruneParams, munge as run_munge
    from genoml_search.data.qc import QCParams

    refuse_together(ctx, "--skip-prune", {"indep_pairwise": "--indep-pairwise"} if skip_prune else {},
                    "give one of them")
    refuse_together(ctx, "--skip-prune", {"ld_masks": "--ld-masks"} if skip_prune else {},
                    "--ld-masks stores pruning thresholds")
    refuse_together(ctx, "--no-qc", QC_FLAGS if no_qc else {}, "--no-qc skips these filters")
    refuse_together(ctx, "--like", {**QC_FLAGS, "indep_pairwise": "--indep-pairwise", "skip_prune": "--skip-prune",
                                    "gwas": "--gwas", "gwas_p": "--gwas-p", "pcs": "--pcs",
                                    "ld_masks": "--ld-masks"} if like else {},
                    "a cohort munged --like a training dataset takes that dataset's SNPs and PCs (no QC, no pruning)")
    refuse_together(ctx, "--king-table", {"no_kinship": "--no-kinship", "like": "--like"} if king_table else {},
                    "--king-table gives the kinship of a training cohort")
    if gwas_p is not None and not gwas:
        raise typer.BadParameter("--gwas-p filters the SNPs of a --gwas FILE; give both", ctx=ctx, param_hint="--gwas-p")
    qc = QCParams.disabled() if no_qc else QCParams(mind, geno, maf, hwe, hwe_controls_only)
    prune = None if skip_prune else PruneParams.parse(*(indep_pairwise or ("50", "5", "0.9")))
    # an explicit --indep-pairwise alone keeps its documented meaning: the dataset holds the pruned set only
    masks = parse_ld_masks(ctx, ld_masks) if ld_masks is not None else (() if indep_pairwise else DEFAULT_LD_MASKS)
    options = MungeOptions(out=out, bfile=bfile, pfile=pfile, pheno=pheno, pheno_name=pheno_name, task=task,
                           covar=covar, max_covar_levels=max_covar_levels, gwas=gwas, gwas_p=gwas_p,
                           extract=extract, exclude=exclude, keep=keep, remove=remove, qc=qc, prune=prune, ld_masks=masks,
                           like=str(like) if like else None, fill_missing=fill_missing, kinship=not no_kinship,
                           kinship_max_samples=kinship_max_samples, king_table=str(king_table) if king_table else None,
                           pcs=pcs, tables=list(table or []),
                           id_column=id_column, categorical=list(categorical or []))
    from genoml_search.progress import log_steps
    from genoml_search.terminal import err_console

    with log_steps(err_console, "munge"):  # read, QC, prune, kinship, PCA: steps on a terminal only
        manifest = run_munge(options)
    print_munge_summary(manifest, out)


def parse_ld_masks(ctx: typer.Context, text: str) -> tuple[float, ...]:
    """``--ld-masks 0.9,0.5`` as a tuple of thresholds, each strictly between 0 and 1."""
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        values = ()
    if not values or not all(0.0 < v < 1.0 for v in values):
        raise typer.BadParameter(f"{text!r}: expected r2 thresholds between 0 and 1, e.g. 0.9,0.5", ctx=ctx,
                                 param_hint="--ld-masks")
    return values


def print_munge_summary(manifest: dict[str, Any], out: Path) -> None:
    """The steps table, the counts and the cohort-structure lines of a munged dataset."""
    from rich.table import Table

    from genoml_search.terminal import console

    table = Table(title=f"munge -> {out}")
    for column in ("step", "unit", "removed", "remaining", "reason"):
        table.add_column(column, justify="right" if column in ("removed", "remaining") else "left")
    for step in manifest["steps"]:
        table.add_row(step["step"], step["unit"], str(step["removed"]),
                      "" if step.get("remaining") is None else str(step["remaining"]), step["reason"])
    console.print(table)
    console.print(f"{manifest['n_samples']} samples x {manifest['n_variants']} variants, "
                  f"task {manifest['phenotype']['task']}, hash {manifest['content_hash']}")
    if manifest.get("feature_table"):  # munge --table
        from genoml_search.data.table_munge import table_lines

        for line in table_lines(manifest):
            console.print(line, markup=False, highlight=False)
    if manifest["phenotype"]["task"] == Task.BINARY:  # case/control counts of the written dataset
        from genoml_search.data.dataset import Dataset
        from genoml_search.evaluation.binary import case_control_counts

        counts = case_control_counts(Dataset.open(out).phenotype)
        console.print(f"cases/controls: {counts['n_cases']}/{counts['n_controls']}")
    print_structure(manifest)


def print_structure(manifest: dict[str, Any]) -> None:
    """Kinship and PCA lines of a manifest, and a warning on samples related to the training cohort."""
    from genoml_search.data.cohort_structure import warning_text
    from genoml_search.terminal import console, err_console

    related, pca = manifest.get("relatedness"), manifest.get("pca") or {}
    if related:
        from genoml_search.data.kinship_noise import noise_warning

        n_called = sum(n for d, n in (related.get("n_pairs_by_degree") or {}).items() if d != "duplicate/MZ twin")
        noisy = noise_warning(related.get("noise"), n_called) if related.get("computed") else None
        if noisy:  # not hundreds of chance pairs, but why they cannot be trusted and how many SNPs would do
            console.print(f"kinship (KING, {related['n_snps']} SNPs): {related['n_duplicate_pairs']} duplicate pairs")
            err_console.print(f"warning: {noisy}", soft_wrap=True)
        elif related.get("computed"):
            degrees = ", ".join(f"{n} {d}" for d, n in related["n_pairs_by_degree"].items() if n)
            source = related.get("source") or {}
            what = (f"from {source['path']}" if source.get("kind") == "king-table" else
                    f"KING, {related['n_snps']} SNPs")
            console.print(f"kinship ({what}): {related['n_related_pairs']} related pairs "
                          f"(second degree or closer; {related['n_duplicate_pairs']} duplicates) among "
                          f"{related['n_related_samples']} samples; pairs by degree: {degrees or 'none'}",
                          markup=False, highlight=False)
            if source.get("kind") == "king-table":
                console.print(f"king table: {source['rows']} rows, {source['pairs_in_dataset']} pairs of dataset "
                              f"samples, {source['pairs_ignored_not_in_dataset']} with a sample not in the dataset "
                              "ignored", markup=False, highlight=False)
        else:
            console.print(f"kinship: {related['reason']}")
    if pca.get("computed"):
        how = "projected onto the training PCs" if pca.get("projected") else "fitted"
        console.print(f"genetic PCs: {pca['n_components']} {how}")
    elif pca.get("reason"):
        console.print(f"genetic PCs: {pca['reason']}")
    text = warning_text(manifest.get("related_to_training"), "cohort",
                        "validating on them measures memorization, not generalization")
    if text:
        err_console.print(f"warning: {text}", soft_wrap=True)


def register(app: Any) -> None:
    """Add the `munge` command to the CLI."""
    app.command(name="munge")(munge)
