"""Multi-layer perceptrons, bounded in size and epochs, with early stopping."""
from __future__ import annotations

from typing import Any

from genoml_search.search.families.linear import standardized_target
from genoml_search.search.registry import (
    TASKS, CategoricalParam, FloatParam, IntParam, ModelFamily, Param, Task, register,
)

MAX_EPOCHS = 200


@register
class MLP(ModelFamily):
    """Multi-layer perceptron (adam), 1-3 equal hidden layers, early stopping on 10 % of the training part."""

    name = "mlp"
    tasks = frozenset(TASKS)
    needs_scaling = True

    def space(self, task: str) -> list[Param]:
        return [
            IntParam("n_layers", 1, 3, limits=(1, 5)),
            IntParam("n_units", 16, 512, log=True, limits=(1, 4096)),
            CategoricalParam("activation", ("relu", "tanh")),
            FloatParam("alpha", 1e-6, 1.0, log=True, limits=(0.0, None)),
            FloatParam("learning_rate_init", 1e-4, 1e-2, log=True, limits=(0.0, None)),
            CategoricalParam("batch_size", (32, 64, 128, 256)),
        ]

    def build(self, params: dict[str, Any], task: str, random_state: int = 0, n_jobs: int = 1) -> Any:
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        params = dict(params)
        layers = (params.pop("n_units"),) * params.pop("n_layers")
        options = dict(
            params, hidden_layer_sizes=layers, max_iter=MAX_EPOCHS, early_stopping=True,
            validation_fraction=0.1, n_iter_no_change=10, random_state=random_state,
        )
        if task == Task.REGRESSION:
            return standardized_target(MLPRegressor(**options))
        return MLPClassifier(**options)
