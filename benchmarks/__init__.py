"""Benchmarks: each module writes benchmarks/results/NAME.json; `make bench` runs them and updates README."""
