"""CSV outputs: integers stay integers, floats are rounded, predictions keep FID and IID."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from genoml_search.export.tables import family_ids, with_family_ids, write_csv


def test_integers_stay_integers_and_floats_are_rounded():
    frame = pd.DataFrame({"best_trial": [3.0, np.nan], "n_pruned": [2.0, 0.0], "cv_mean": [0.712345678, 1.0],
                          "pos": [12345.0, 678.0]})
    buffer = io.StringIO()
    write_csv(frame, buffer)
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "best_trial,n_pruned,cv_mean,pos"
    assert lines[1] == "3,2,0.712346,12345" and lines[2] == ",0,1,678"


def test_full_precision_for_predictions():
    buffer = io.StringIO()
    write_csv(pd.DataFrame({"ID": ["a"], "probability": [0.12345678901234]}), buffer, full_precision=True)
    assert "0.12345678901234" in buffer.getvalue()


def test_predictions_keep_fid_and_iid(tmp_path):
    (tmp_path / "c.fam").write_text("famA s1 0 0 1 -9\nfamB s2 0 0 2 -9\n")
    frame = pd.DataFrame({"ID": ["s2", "s1"], "probability": [0.2, 0.8]})
    out = with_family_ids(frame, family_ids(str(tmp_path / "c"), None))
    assert list(out.columns) == ["ID", "FID", "IID", "probability"]
    assert out["FID"].tolist() == ["famB", "famA"] and out["IID"].tolist() == ["s2", "s1"]
    (tmp_path / "p.psam").write_text("#IID\tSEX\ns1\t1\n")
    assert family_ids(None, str(tmp_path / "p")) is None  # a .psam without FIDs: only ID
