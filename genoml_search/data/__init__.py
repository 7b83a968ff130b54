"""Genotype data: reading PLINK files, QC, LD pruning, the Dataset on disk, harmonization, simulation."""
