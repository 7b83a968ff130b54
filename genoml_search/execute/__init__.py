"""Running trials: a central driver that asks/tells Optuna and executes objectives on Dask workers."""
