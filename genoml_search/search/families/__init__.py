"""Built-in model families, one module per kind of model."""
