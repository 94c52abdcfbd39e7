"""Writes src/engine/neuralforecast/constructor_defaults.json: every constructor argument of NeuralForecast's
models that neuro-divergent has, with NeuralForecast's default (as `nf.save` encodes it), so that a directory we
write holds every key NeuralForecast's own `save` writes. Rerun when a model is added:

    python bench/neuralforecast_constructor_defaults.py   # in a virtual environment with neuralforecast 3.3
"""
import inspect
import json
import pathlib

import neuralforecast
from neuralforecast import models
from neuralforecast._serialization import encode_value

CLASSES = ["LSTM", "GRU", "RNN", "MLP", "TCN", "NBEATS", "NBEATSx", "NHITS", "VanillaTransformer", "DLinear", "NLinear",
           "TiDE", "KAN", "PatchTST", "TSMixer", "iTransformer", "BiTCN", "TSMixerx",
           "DeepAR", "TFT"]

out = {"neuralforecast": neuralforecast.__version__, "models": {}}
for name in CLASSES:
    cls = getattr(models, name)
    params = {}
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.name == "self" or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        default = None if p.default is inspect.Parameter.empty else p.default
        params[p.name] = encode_value(default, {}, p.name)
    out["models"][name] = params

target = pathlib.Path(__file__).resolve().parent.parent / "src/engine/neuralforecast/constructor_defaults.json"
target.parent.mkdir(parents=True, exist_ok=True)
target.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {target}")
