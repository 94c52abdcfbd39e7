"""NeuralForecast's training step and single-window forecast at the baselines' configuration, for the side-by-side
speed rows of BENCHMARKS.md (the models of bench/neuralforecast_reference.py's table).

step: (fit of 220 steps - fit of 20 steps) / 200, so that Lightning's fixed start-up cost cancels; window: the
module's bare forward on one scaled window (`torch.no_grad`, eval mode), median of 2,000 calls. CPU, 2 torch threads.
    python bench/neuralforecast_speed.py [data/air_passengers.csv] --models DLinear,NLinear,RNN
"""
import argparse
import logging
import pathlib
import time

import numpy as np
import pandas as pd
import torch

logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
torch.set_num_threads(2)

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("path", nargs="?", default="data/air_passengers.csv")
parser.add_argument("--models", required=True)
args = parser.parse_args()

# The model table and common options of the accuracy script: its part before the argument parsing.
script = pathlib.Path(__file__).with_name("neuralforecast_reference.py")
reference = {}
exec(compile(script.read_text().split("parser = argparse.ArgumentParser")[0], str(script), "exec"), reference)
from neuralforecast import NeuralForecast  # noqa: E402

df = pd.read_csv(args.path, parse_dates=["ds"]).iloc[:132]


def fit_seconds(cls, config, steps):
    model = cls(**{**reference["COMMON"], "max_steps": steps}, **config, random_seed=1)
    nf = NeuralForecast(models=[model], freq="MS")
    started = time.perf_counter()
    nf.fit(df)
    return time.perf_counter() - started, nf.models[0]


for name in args.models.split(","):
    cls, config = reference["NEURAL"][name]
    short, _ = fit_seconds(cls, config, 20)
    long, model = fit_seconds(cls, config, 220)
    model.eval()
    window = {
        "insample_y": torch.randn(1, 24, 1), "insample_mask": torch.ones(1, 24, 1),
        "futr_exog": torch.empty(1, 36, 0), "hist_exog": torch.empty(1, 24, 0), "stat_exog": torch.empty(1, 0),
    }
    times = []
    with torch.no_grad():
        for i in range(2200):
            started = time.perf_counter()
            model(window)
            if i >= 200:
                times.append(time.perf_counter() - started)
    print(f"{name}: step {(long - short) / 200 * 1000:.2f} ms, 1-window forward {np.median(times) * 1e6:.0f} us", flush=True)
