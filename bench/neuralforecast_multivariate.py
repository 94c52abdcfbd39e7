"""NeuralForecast's multivariate models on visnights (20 aligned quarterly series of Australian visitor nights,
1998-2016): cross-validated MAE over several seeds, for comparison with neuro-divergent's `node bench/multivariate.js`,
and each model's state-dict names, shapes and parameter count at h=12, input_size=24, n_series=1.

Protocol: h=4, input_size=12, n_series=20, the model's defaults otherwise (TSMixer: scaler_type='identity', RevIN,
dropout 0.9, windows_batch_size=32; TSMixerx: the same but dropout 0, no exogenous variables) but max_steps=300; cross_validation with n_windows=4, step_size=4 (the last four
years, one fit on the data before them, refit=False); MAE over every series, window and step. CPU, 2 torch threads.

Not part of the test suite (it needs Python with `pip install 'neuralforecast==3.3.*' torch`):
    python bench/neuralforecast_multivariate.py [examples/data/visnights.csv] [seeds] [--models TSMixer,TSMixerx,iTransformer]
(seeds 0: the training step and window timings alone)
"""
import argparse
import logging
import time

import numpy as np
import pandas as pd
import torch
from neuralforecast import NeuralForecast
from neuralforecast.losses.pytorch import MAE
from neuralforecast.models import TSMixer, TSMixerx, iTransformer

logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
torch.set_num_threads(2)

TRAINER = dict(enable_progress_bar=False, enable_model_summary=False, logger=False, accelerator="cpu")
MODELS = {"TSMixer": (TSMixer, {}), "TSMixerx": (TSMixerx, {}), "iTransformer": (iTransformer, {})}

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("path", nargs="?", default="examples/data/visnights.csv")
parser.add_argument("seeds", nargs="?", type=int, default=5)
parser.add_argument("--models", default=",".join(MODELS))
parser.add_argument("--steps", type=int, default=300)
args = parser.parse_args()

df = pd.read_csv(args.path, parse_dates=["ds"])
n_series = df["unique_id"].nunique()

for name in [m.strip() for m in args.models.split(",") if m.strip()]:
    cls, config = MODELS[name]
    reference = cls(h=12, input_size=24, n_series=1, **config)
    print(f"{name}(h=12, input_size=24, n_series=1): {sum(p.numel() for p in reference.parameters()):,} params")
    for key, tensor in reference.state_dict().items():
        print(f"  {key} {list(tensor.shape)}")
    maes, fits, steps = [], [], []
    for seed in range(1, args.seeds + 1):
        model = cls(h=4, input_size=12, n_series=n_series, max_steps=args.steps, random_seed=seed, loss=MAE(), **config, **TRAINER)
        nf = NeuralForecast(models=[model], freq="QS")
        started = time.perf_counter()
        cv = nf.cross_validation(df, n_windows=4, step_size=4, refit=False)
        fit_s = time.perf_counter() - started
        mae = float(np.mean(np.abs(cv[name].to_numpy() - cv["y"].to_numpy())))
        maes.append(mae)
        fits.append(fit_s)
        print(f"{name} seed {seed}: CV MAE {mae:.4f}, cross-validation {fit_s:.2f} s", flush=True)
    # A training step alone: forward, MAE, backward and Adam on one batch of 32 windows of all series.
    model = cls(h=4, input_size=12, n_series=n_series, random_seed=1, **config, **TRAINER)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = dict(insample_y=torch.randn(32, 12, n_series), insample_mask=torch.ones(32, 12, n_series),
                 futr_exog=None, hist_exog=None, stat_exog=None)
    target = torch.randn(32, 4, n_series)
    model.train()
    for i in range(220):
        if i == 20:
            started = time.perf_counter()
        optimizer.zero_grad()
        loss = (model(batch) - target).abs().mean()
        loss.backward()
        optimizer.step()
    step_ms = (time.perf_counter() - started) / 200 * 1e3
    model.eval()
    window = dict(batch, insample_y=batch["insample_y"][:1], insample_mask=batch["insample_mask"][:1])
    with torch.no_grad():
        for i in range(1100):
            if i == 100:
                started = time.perf_counter()
            model(window)
    window_us = (time.perf_counter() - started) / 1000 * 1e6
    accuracy = (f"mean CV MAE {np.mean(maes):.4f} over {args.seeds} seeds (min {np.min(maes):.4f}, max {np.max(maes):.4f}), "
                f"mean cross-validation {np.mean(fits):.2f} s; ") if maes else ""
    print(f"{name}: {accuracy}training step {step_ms:.3f} ms, one-window forward {window_us:.1f} us", flush=True)
