"""The search: model-family registry, cross-validated objective, studies and storages."""
