"""NeuralForecast's accuracy on the baselines' AirPassengers task over several seeds, for comparison with
neuro-divergent's `cargo test --release --lib engine::tests::air_passengers -- --ignored --nocapture`.

Not part of the test suite (it needs Python with `pip install neuralforecast`):
    python bench/neuralforecast_reference.py [data/air_passengers.csv] [seeds]
"""
import logging
import sys
import time

import numpy as np
import pandas as pd
import torch
from neuralforecast import NeuralForecast
from neuralforecast.models import GRU, LSTM

logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
torch.set_num_threads(2)

path = sys.argv[1] if len(sys.argv) > 1 else "data/air_passengers.csv"
seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
df = pd.read_csv(path, parse_dates=["ds"])
train, test = df.iloc[:132], df.iloc[132:]

for cls in (LSTM, GRU):
    maes = []
    for seed in range(1, seeds + 1):
        model = cls(h=12, input_size=24, encoder_n_layers=2, encoder_hidden_size=64, decoder_hidden_size=64,
                    decoder_layers=2, scaler_type="standard", learning_rate=1e-3, max_steps=200, batch_size=32,
                    windows_batch_size=32, random_seed=seed, enable_progress_bar=False, enable_model_summary=False,
                    logger=False, accelerator="cpu")
        nf = NeuralForecast(models=[model], freq="MS")
        started = time.perf_counter()
        nf.fit(train)
        fit_s = time.perf_counter() - started
        forecast = nf.predict()
        mae = float(np.mean(np.abs(forecast[cls.__name__].to_numpy() - test["y"].to_numpy())))
        maes.append(mae)
        print(f"{cls.__name__} seed {seed}: MAE {mae:.2f}, fit {fit_s:.2f} s", flush=True)
    print(f"{cls.__name__}: mean MAE {np.mean(maes):.2f} over {seeds} seeds", flush=True)
