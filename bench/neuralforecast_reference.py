"""NeuralForecast's (and Prophet's) accuracy on the baselines' AirPassengers task over several seeds, for comparison with
neuro-divergent's `cargo test --release --lib engine::tests::air_passengers -- --ignored --nocapture`.

Task and model configurations as in shared/reference/baselines.md: train on the first 132 months, forecast the last 12
(freq 'MS'), h=12, input_size=24, scaler_type='standard', Adam lr 1e-3, 200 steps, batch_size=32,
windows_batch_size=32, MAE loss, no validation, CPU with 2 torch threads; library defaults otherwise (so NBEATS and
NHITS keep their default num_lr_decays=3, VanillaTransformer its dropout 0.05 and conv_hidden_size 32).

Not part of the test suite (it needs Python with `pip install 'neuralforecast==3.3.*' torch`, and `pip install prophet`
for the Prophet rows; a virtual environment outside the repository is best):
    python bench/neuralforecast_reference.py [data/air_passengers.csv] [seeds] [--first-seed N] [--models LSTM,GRU,...]

--models is a comma-separated subset of LSTM, GRU, TCN, NBEATS, NHITS, VanillaTransformer, MLP, DLinear, NLinear,
RNN, TiDE, KAN, PatchTST, iTransformer, BiTCN, DeepAR, DeepARStudentT, TFT, Prophet (default: all).
Prophet is deterministic, so it runs once per seasonality mode (multiplicative, additive) whatever the seed count.
Prints one line per (model, seed) with MAE and fit seconds, then the mean MAE per model.
"""
import argparse
import logging
import time

import numpy as np
import pandas as pd
import torch
from neuralforecast import NeuralForecast
from neuralforecast.models import GRU, LSTM, MLP, NBEATS, NHITS, TCN, VanillaTransformer
from neuralforecast.models import KAN, RNN, DLinear, NLinear, PatchTST, TiDE
from neuralforecast.models import iTransformer
from neuralforecast.models import BiTCN
from neuralforecast.models import DeepAR
from neuralforecast.losses.pytorch import MAE
from neuralforecast.models import TFT

logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
torch.set_num_threads(2)

COMMON = dict(h=12, input_size=24, scaler_type="standard", learning_rate=1e-3, max_steps=200, batch_size=32,
              windows_batch_size=32, enable_progress_bar=False, enable_model_summary=False, logger=False,
              accelerator="cpu")
RECURRENT = dict(encoder_n_layers=2, encoder_hidden_size=64, decoder_hidden_size=64, decoder_layers=2)
NEURAL = {
    "LSTM": (LSTM, RECURRENT),
    "GRU": (GRU, RECURRENT),
    "TCN": (TCN, dict(kernel_size=2, dilations=[1, 2, 4, 8, 16], encoder_hidden_size=64, decoder_hidden_size=64)),
    "NBEATS": (NBEATS, dict(stack_types=["identity", "trend", "seasonality"], mlp_units=3 * [[512, 512]])),
    "NHITS": (NHITS, dict(mlp_units=3 * [[512, 512]])),
    "VanillaTransformer": (VanillaTransformer, dict(hidden_size=64, n_head=4, encoder_layers=2, decoder_layers=1)),
    "MLP": (MLP, dict(num_layers=2, hidden_size=1024)),
    "DLinear": (DLinear, dict()),
    "NLinear": (NLinear, dict()),
    "RNN": (RNN, RECURRENT),
    "TiDE": (TiDE, dict()),
    "KAN": (KAN, dict()),
    "PatchTST": (PatchTST, dict()),
    # Multivariate, on AirPassengers' one series.
    "iTransformer": (iTransformer, dict(n_series=1)),
    "BiTCN": (BiTCN, dict()),
    # Its defaults (lstm 2 x 128, linear decoder) with the baselines' MAE loss instead of its DistributionLoss.
    "DeepAR": (DeepAR, dict(loss=MAE())),
    # Its defaults with its own default loss, DistributionLoss(StudentT, level=[80, 90]); the point column is the mean
    # of its trajectory_samples=100 ancestral sample paths.
    "DeepARStudentT": (DeepAR, dict()),
    "TFT": (TFT, dict()),
}
ALL = list(NEURAL) + ["Prophet"]

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("path", nargs="?", default="data/air_passengers.csv")
parser.add_argument("seeds", nargs="?", type=int, default=5)
parser.add_argument("--first-seed", type=int, default=1, help="run seeds first-seed .. first-seed + seeds - 1")
parser.add_argument("--models", default=",".join(ALL), help="comma-separated subset of " + ", ".join(ALL))
args = parser.parse_args()
selected = [name.strip() for name in args.models.split(",") if name.strip()]
unknown = [name for name in selected if name not in ALL]
if unknown:
    parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(ALL)}")

df = pd.read_csv(args.path, parse_dates=["ds"])
train, test = df.iloc[:132], df.iloc[132:]
actual = test["y"].to_numpy()


def run_neural(name):
    cls, config = NEURAL[name]
    maes, fits = [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        model = cls(**COMMON, **config, random_seed=seed)
        nf = NeuralForecast(models=[model], freq="MS")
        started = time.perf_counter()
        nf.fit(train)
        fit_s = time.perf_counter() - started
        forecast = nf.predict()
        mae = float(np.mean(np.abs(forecast[cls.__name__].to_numpy() - actual)))
        maes.append(mae)
        fits.append(fit_s)
        print(f"{name} seed {seed}: MAE {mae:.2f}, fit {fit_s:.2f} s", flush=True)
    params = sum(p.numel() for p in nf.models[0].parameters())
    print(f"{name}: mean MAE {np.mean(maes):.2f} over {args.seeds} seeds, mean fit {np.mean(fits):.2f} s, "
          f"{params:,} params", flush=True)


def run_prophet():
    from prophet import Prophet

    stan_log = logging.getLogger("cmdstanpy")  # a handler of ours keeps cmdstanpy from adding its INFO one
    stan_log.addHandler(logging.NullHandler())
    stan_log.setLevel(logging.ERROR)

    for mode in ("multiplicative", "additive"):
        model = Prophet(seasonality_mode=mode)
        started = time.perf_counter()
        model.fit(train[["ds", "y"]])
        fit_s = time.perf_counter() - started
        forecast = model.predict(test[["ds"]])
        mae = float(np.mean(np.abs(forecast["yhat"].to_numpy() - actual)))
        print(f"Prophet {mode}: MAE {mae:.2f}, fit {fit_s * 1000:.0f} ms", flush=True)


for name in selected:
    try:
        run_prophet() if name == "Prophet" else run_neural(name)
    except Exception as error:  # report and go on with the other models
        print(f"{name}: FAILED: {type(error).__name__}: {error}", flush=True)
