"""Ensembles of a study's best trials (issue #21).

Every complete trial keeps its out-of-fold (OOF) predictions (:mod:`genoml_search.search.oof`, written by the
driver through Optuna's artifact store). After the search, :mod:`.selection` combines the top K trials' OOF predictions by
greedy selection with replacement (Caruana et al. 2004) or :mod:`.stacking` fits a regularized linear
meta-model on them; :mod:`.nested` estimates the combination's CV score honestly (chosen on K-1 folds, scored
on the held-out fold); :mod:`.model` is the refitted ensemble that ``predict`` uses; :mod:`.build` ties them
together for the run's finalization.
"""
