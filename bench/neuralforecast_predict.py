"""NeuralForecast's serving latency for the models of __test__/fixtures/neuralforecast/ (saved by NeuralForecast 3.3's
`nf.save`), the Python side of bench/neuralforecast_serving.js (issue #20).

For each model directory: `NeuralForecast.load(dir)`, then
  - predict ms: `nf.predict(df=train)` end to end (the history of train.csv, the forecast of the next h steps);
  - 1-window ms: the torch module's forward on the last input_size values of train.csv, under `torch.inference_mode`
    (the window already scaled; the loss's domain map and the inverse scaling are not in it).
Each figure is the median over --repeats calls after --warmup calls, on 2 torch threads (as bench/neuralforecast_reference.py).

Not part of the test suite (it needs Python with `pip install 'neuralforecast==3.3.*' torch`; a virtual environment
outside the repository is best):
    python bench/neuralforecast_predict.py [fixtures dir] [--repeats N] [--warmup N] [--models LSTM,GRU,...] [--json]

--json prints one JSON object (model name -> {"predict_ms", "window_ms"}) for bench/neuralforecast_serving.js;
otherwise a table.
"""
import argparse
import json
import logging
import os
import statistics
import time
import warnings

import pandas as pd
import torch
from neuralforecast import NeuralForecast

logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
logging.getLogger("lightning_fabric").setLevel(logging.ERROR)
warnings.filterwarnings("ignore")
torch.set_num_threads(2)

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("fixtures", nargs="?", default="__test__/fixtures/neuralforecast")
parser.add_argument("--repeats", type=int, default=50, help="timed calls per figure [50]")
parser.add_argument("--warmup", type=int, default=5, help="untimed calls before them [5]")
parser.add_argument("--models", default=None, help="comma-separated subset of the manifest's models [all]")
parser.add_argument("--json", action="store_true", help="print JSON for bench/neuralforecast_serving.js")
args = parser.parse_args()

with open(os.path.join(args.fixtures, "manifest.json")) as f:
    manifest = json.load(f)
names = list(manifest["models"])
if args.models:
    selected = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in selected if name not in names]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; the manifest has {', '.join(names)}")
    names = selected
train = pd.read_csv(os.path.join(args.fixtures, "train.csv"), parse_dates=["ds"])


def median_ms(call):
    for _ in range(args.warmup):
        call()
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def one_window(model):
    """The module's input for the last input_size values of train.csv, scaled as its own scaler does."""
    y = torch.tensor(train["y"].to_numpy()[-model.input_size:], dtype=torch.float32).reshape(1, -1, 1)
    mask = torch.ones_like(y)
    scaled = model.scaler.transform(x=y, mask=mask)
    return dict(insample_y=scaled, insample_mask=mask, futr_exog=None, hist_exog=None, stat_exog=None)


results = {}
for name in names:
    nf = NeuralForecast.load(os.path.join(args.fixtures, name))
    model = nf.models[0]
    model.eval()
    predict_ms = median_ms(lambda: nf.predict(df=train))
    batch = one_window(model)
    with torch.inference_mode():
        window_ms = median_ms(lambda: model(batch))
    results[name] = {"predict_ms": predict_ms, "window_ms": window_ms}
    if not args.json:
        print(f"{name:<20} predict {predict_ms:8.2f} ms   1-window forward {window_ms:7.3f} ms", flush=True)

if args.json:
    print(json.dumps({"neuralforecast": manifest["neuralforecast"], "torch": torch.__version__, "models": results}))
