"""NeuralForecast's AutoNHITS (backend='optuna', num_samples=20, its default space, torch on 2 threads) on AirPassengers:
trained on the first 132 months, forecasting the last 12. Prints the wall time of fit + predict and the test MAE,
the side of BENCHMARKS.md's Auto row that bench/auto_nhits.js measures for us.

Run: /work/nfvenv/bin/python bench/auto_nhits_neuralforecast.py [seed]
"""
import logging
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch

warnings.filterwarnings("ignore")
logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
torch.set_num_threads(2)

import optuna  # noqa: E402
from neuralforecast import NeuralForecast  # noqa: E402
from neuralforecast.auto import AutoNHITS  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
here = os.path.dirname(os.path.abspath(__file__))
df = pd.read_csv(os.path.join(here, "..", "data", "air_passengers.csv"), parse_dates=["ds"])
train, test = df.iloc[:132], df.iloc[132:]

# NeuralForecast 3.3 rejects `cpus` (a Ray option since 3.2); optuna runs the trials one after another, on
# torch's 2 threads.
model = AutoNHITS(h=12, backend="optuna", num_samples=20, verbose=False)
nf = NeuralForecast(models=[model], freq="MS")
started = time.perf_counter()
nf.fit(train)
forecast = nf.predict()
wall = time.perf_counter() - started
mae = float(np.mean(np.abs(forecast["AutoNHITS"].to_numpy() - test["y"].to_numpy())))
print(f"neuralforecast AutoNHITS optuna num_samples=20 threads=2 wall_s={wall:.1f} test_mae={mae:.2f}")
