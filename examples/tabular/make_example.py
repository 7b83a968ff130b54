"""Write the bundled tabular example from scikit-learn's breast-cancer data (a CSV inside the installed package).

    python examples/tabular/make_example.py OUT_DIR

writes ``OUT_DIR/training.csv`` (469 patients) and ``OUT_DIR/new_patients.csv`` (the other 100, without the
diagnosis, with one extra column and some clinic codes never seen in training) for::

    genoml-search munge --table OUT_DIR/training.csv --pheno-name diagnosis --out work/tabular
    genoml-search run work/tabular --out work/tabular-run --n-trials 20
    genoml-search predict --model work/tabular-run --table OUT_DIR/new_patients.csv --out predictions.csv

Besides the 30 numeric measurements the table has three columns of the other kinds, all derived
deterministically from the data: ``texture_band`` (text: low/mid/high tertiles of the mean texture),
``large_tumour`` (yes/no: mean area above its median) and ``clinic`` (text A-E, no signal). About 3% of
``mean smoothness`` is missing. ``diagnosis`` is 1 for malignant, 0 for benign. Nothing is downloaded.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def example_frame() -> pd.DataFrame:
    """The 569 patients with ID, diagnosis and the feature columns."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.data.copy()
    frame.insert(0, "ID", [f"patient{i:04d}" for i in range(len(frame))])
    frame.insert(1, "diagnosis", (data.target == 0).astype(int))  # sklearn: 0 = malignant
    texture = frame["mean texture"]
    frame["texture_band"] = np.where(texture < texture.quantile(1 / 3), "low",
                                     np.where(texture < texture.quantile(2 / 3), "mid", "high"))
    frame["large_tumour"] = np.where(frame["mean area"] > frame["mean area"].median(), "yes", "no")
    frame["clinic"] = np.array(list("ABCDE"))[np.arange(len(frame)) * 7 % 5]
    frame.loc[np.arange(len(frame)) % 33 == 5, "mean smoothness"] = np.nan
    return frame


def write_example(out: str | Path) -> tuple[Path, Path]:
    """Write training.csv and new_patients.csv into ``out``; return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame = example_frame()
    new = np.arange(len(frame)) % 5 == 0
    new[np.flatnonzero(new)[100:]] = False  # exactly 100 new patients
    training, later = frame[~new], frame[new].drop(columns=["diagnosis"]).copy()
    later["referring_doctor"] = "Dr X"  # a column the model never saw: ignored with a note
    later.iloc[:4, later.columns.get_loc("clinic")] = "F"  # a clinic never seen in training: counted, warned
    paths = out / "training.csv", out / "new_patients.csv"
    training.to_csv(paths[0], index=False, na_rep="NA")
    later.to_csv(paths[1], index=False, na_rep="NA")
    return paths


if __name__ == "__main__":
    for path in write_example(sys.argv[1] if len(sys.argv) > 1 else "examples/tabular/data"):
        print(path)
