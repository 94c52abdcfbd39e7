"""Checks by hand that directories neuro-divergent writes with `save(dir, { format: 'neuralforecast' })` load in
NeuralForecast 3.3 (`NeuralForecast.load(dir)`) and predict what neuro-divergent predicted.

    node bench/neuralforecast_interop_write.js OUT     # writes OUT/<model>/ and OUT/<model>/ours.csv
    /work/nfvenv/bin/python bench/neuralforecast_interop_check.py OUT

Prints, per directory, the largest absolute and relative difference of every forecast column.
"""
import logging
import pathlib
import sys
import warnings

import pandas as pd

logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
logging.getLogger("lightning_fabric").setLevel(logging.ERROR)
warnings.filterwarnings("ignore")

import torch  # noqa: E402
from neuralforecast import NeuralForecast  # noqa: E402

torch.set_num_threads(2)
root = pathlib.Path(sys.argv[1])
worst_all = 0.0
for directory in sorted(p for p in root.iterdir() if p.is_dir()):
    ours = pd.read_csv(directory / "ours.csv")
    history = pd.read_csv(directory / "history.csv", parse_dates=["ds"])
    futr = directory / "futr.csv"
    try:
        nf = NeuralForecast.load(str(directory / "nf"))
    except Exception as e:  # report every directory, not only the first failure
        print(f"{directory.name}: NeuralForecast.load failed: {type(e).__name__}: {e}")
        continue
    kwargs = {}
    if futr.exists():
        kwargs["futr_df"] = pd.read_csv(futr, parse_dates=["ds"])
        kwargs["static_df"] = pd.read_csv(directory / "static.csv")
    theirs = nf.predict(df=history, **kwargs)
    columns = [c for c in ours.columns if c not in ("unique_id", "ds")]
    missing = [c for c in columns if c not in theirs.columns]
    if missing:
        print(f"{directory.name}: NeuralForecast has no column {missing}; it has {list(theirs.columns)}")
        continue
    report = []
    for column in columns:
        a, b = ours[column].to_numpy(), theirs[column].to_numpy()
        absolute = abs(a - b).max()
        relative = (abs(a - b) / abs(b).clip(min=1e-3)).max()
        worst_all = max(worst_all, relative)
        report.append(f"{column}: max abs {absolute:.3g}, max rel {relative:.3g}")
    print(f"{directory.name}: " + "; ".join(report))
print(f"worst relative difference over every column: {worst_all:.3g}")
