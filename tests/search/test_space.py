from __future__ import annotations

import optuna
import pytest

from genoml_search.errors import UserError
from genoml_search.search.registry import families_for, get_family
from genoml_search.search.space import default_sampler, family_and_params, make_sampler, suggest_pipeline


def test_suggest_pipeline_is_conditional_and_round_trips() -> None:
    families = families_for("binary")
    study = optuna.create_study(direction="maximize", sampler=default_sampler(seed=1))
    seen = set()
    for i in range(25):
        trial = study.ask()
        family, params = suggest_pipeline(trial, families, "binary")
        seen.add(family.name)
        assert trial.params["family"] == family.name
        assert all(k == "family" or k.startswith(family.name + "__") for k in trial.params)
        again, same = family_and_params(trial.params, families)
        assert again is family and same == params
        study.tell(trial, float(i % 7))
    assert len(seen) > 5


def test_default_sampler_is_deterministic() -> None:
    families = [get_family("logistic"), get_family("xgboost")]

    def run() -> list[dict]:
        study = optuna.create_study(sampler=default_sampler(seed=3))
        out = []
        for i in range(15):
            trial = study.ask()
            suggest_pipeline(trial, families, "binary")
            study.tell(trial, float(i % 4))
            out.append(trial.params)
        return out

    assert run() == run()


def test_errors() -> None:
    trial = optuna.create_study().ask()
    with pytest.raises(UserError, match="no model family"):
        suggest_pipeline(trial, [], "binary")
    with pytest.raises(UserError, match="not among"):
        family_and_params({"family": "svm"}, [get_family("logistic")])
    with pytest.raises(ValueError):
        make_sampler("nope")
