"""NeuralForecast 3.3's DeepAR forecast of one window, the Python side of bench/deepar_paths.js: DeepAR at its
defaults (h=12, input_size=24, DistributionLoss(StudentT), trajectory_samples=100) fitted for 5 steps on
AirPassengers' first 132 months, then the median of `nf.predict()` end to end (one series, one window:
NeuralForecast 3.3 feeds back each step's mean and draws 100 samples per step).
CPU, 2 torch threads (as bench/neuralforecast_reference.py).
    python bench/neuralforecast_deepar_predict.py [data/air_passengers.csv] [repeats]
"""
import logging
import statistics
import sys
import time
import warnings

import pandas as pd
import torch
from neuralforecast import NeuralForecast
from neuralforecast.models import DeepAR

logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
logging.getLogger("lightning_fabric").setLevel(logging.ERROR)
warnings.filterwarnings("ignore")
torch.set_num_threads(2)

path = sys.argv[1] if len(sys.argv) > 1 else "data/air_passengers.csv"
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 30
df = pd.read_csv(path, parse_dates=["ds"]).iloc[:132]
model = DeepAR(h=12, input_size=24, max_steps=5, random_seed=1, enable_progress_bar=False, enable_model_summary=False,
               logger=False, accelerator="cpu")
nf = NeuralForecast(models=[model], freq="MS")
nf.fit(df)


def median_ms(call, repeats, warmup=3):
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


print(f"nf.predict() one window: {median_ms(nf.predict, repeats):.2f} ms (median of {repeats})", flush=True)
