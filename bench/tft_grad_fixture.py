"""Writes src/engine/tft_nf33_training.safetensors: NeuralForecast 3.3's training of the TFT whose weights
src/models/tft_nf33_forward.safetensors holds (bench/tft_forward_fixture.py: h=12, input_size=24, hidden_size=8,
n_head=2, no exogenous inputs, seed 1), with dropout 0, scaler_type='standard' and the MAE loss, on AirPassengers'
first 132 months (data/air_passengers.csv), windows_batch_size=None (every training window, each step):
- `loss` and `grad.<parameter>`: one call of its own `training_step` on the 108 training windows (the series padded
  with h zeros: the last 11 windows' padded targets are masked out of the loss and of the scaling), backpropagated;
- `trained.<steps>`: `nf.predict()`'s forecast of the 12 months after those 132 once `nf.fit` has trained those
  weights for that many steps (without dropout and with every window each step, training draws nothing at random).
src/engine/tft_training_tests.rs compares ours.

    /work/nfvenv/bin/python bench/tft_grad_fixture.py
"""
import logging
import warnings

import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from neuralforecast import NeuralForecast
from neuralforecast.models import TFT
from neuralforecast.tsdataset import TimeSeriesDataset

logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
warnings.filterwarnings("ignore")
torch.set_num_threads(1)
TRAINED_STEPS = (200,)

forward_fixture = load_file("src/models/tft_nf33_forward.safetensors")
weights = {k: v for k, v in forward_fixture.items() if not k.startswith(("exog.", "input.", "expected"))}
train = pd.read_csv("data/air_passengers.csv", parse_dates=["ds"]).iloc[:132]


def tft(max_steps):
    model = TFT(h=12, input_size=24, hidden_size=8, n_head=2, dropout=0.0, scaler_type="standard",
                windows_batch_size=None, max_steps=max_steps, learning_rate=1e-3, random_seed=1,
                enable_progress_bar=False, enable_model_summary=False, logger=False, accelerator="cpu")
    keys = model.load_state_dict(weights, strict=False)
    assert not keys.unexpected_keys and all(k.endswith("_mask") for k in keys.missing_keys), keys
    return model


model = tft(1)
dataset, *_ = TimeSeriesDataset.from_df(train)
item = dataset[0]
batch = dict(temporal=item["temporal"].unsqueeze(0), temporal_cols=item["temporal_cols"], y_idx=item["y_idx"])
model.train()
loss = model.training_step(batch, 0)
loss.backward()
tensors = {"loss": loss.detach().reshape(1)}
for name, p in model.named_parameters():
    assert p.grad is not None, name
    tensors[f"grad.{name}"] = p.grad.contiguous()
print(f"loss {loss.item():.6f}, {len(tensors) - 1} gradients")

for steps in TRAINED_STEPS:
    nf = NeuralForecast(models=[tft(steps)], freq="MS")
    nf.fit(train)
    forecast = torch.tensor(nf.predict()["TFT"].to_numpy(), dtype=torch.float32)
    tensors[f"trained.{steps}"] = forecast
    print(f"{steps} steps: {forecast.tolist()}")

save_file(tensors, "src/engine/tft_nf33_training.safetensors")
print(len(tensors), "tensors", sum(t.numel() for t in tensors.values()), "values")
