"""NeuralForecast's training step and single-window forecast, timed on its own modules, for comparison with
neuro-divergent's `neuro-divergent bench` (step ms, 1-window ms) in the same session.

The configuration of bench/neuralforecast_reference.py (h=12, input_size=24, MAE, Adam lr 1e-3, 32 windows a step,
each model's architecture as its table there; 2 torch threads). A step is NeuralForecast's work per batch after its
data loader: the forward pass on 32 scaled windows, the MAE, backward and Adam's update; the single-window forecast is
the forward pass on one window under `torch.no_grad()`. Median of the repetitions, after a warm-up.

Not part of the test suite (it needs Python with neuralforecast 3.3 and torch):
    python bench/neuralforecast_step_time.py --models TiDE,KAN [--steps 200]
"""
import argparse
import logging
import pathlib
import statistics
import time

import torch

logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--models", required=True, help="comma-separated names from bench/neuralforecast_reference.py")
parser.add_argument("--steps", type=int, default=200)
args = parser.parse_args()

# The model table of the accuracy script, without running it.
source = pathlib.Path(__file__).with_name("neuralforecast_reference.py").read_text()
table = source[source.index("COMMON = dict("):source.index("ALL = ")]
namespace = {}
exec("from neuralforecast.models import *\nfrom neuralforecast.losses.pytorch import MAE\n" + table, namespace)
torch.set_num_threads(2)
COMMON = {k: v for k, v in namespace["COMMON"].items() if k not in ("enable_progress_bar", "enable_model_summary", "logger", "accelerator")}

for name in [n.strip() for n in args.models.split(",") if n.strip()]:
    cls, config = namespace["NEURAL"][name]
    model = cls(**COMMON, **config, random_seed=1)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.manual_seed(1)

    def batch(windows):
        return dict(insample_y=torch.randn(windows, 24, 1), insample_mask=torch.ones(windows, 24, 1),
                    futr_exog=None, hist_exog=None, stat_exog=None)

    inputs, target = batch(32), torch.randn(32, 12, 1)

    def step():
        optimizer.zero_grad()
        loss = (model(inputs) - target).abs().mean()
        loss.backward()
        optimizer.step()

    def timed(work, repeats):
        for _ in range(10):
            work()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1e3

    step_ms = timed(step, args.steps)
    model.eval()
    one = batch(1)
    with torch.no_grad():
        window_ms = timed(lambda: model(one), 500)
    print(f"{name}: step {step_ms:.3f} ms, 1-window forward {window_ms * 1e3:.0f} us "
          f"({sum(p.numel() for p in model.parameters()):,} params)", flush=True)
