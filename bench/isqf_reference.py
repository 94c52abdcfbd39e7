"""Prints NeuralForecast 3.3's ISQF loss (DistributionLoss(distribution='ISQF')) and its gradient w.r.t. the raw
network outputs for fixed inputs, the numbers src/nn/loss/distribution/isqf_tests.rs compares against, and the
parameter count of MLP(h=12, input_size=24) with ISQF at its defaults (src/engine/spec/tests.rs).

The raw outputs are `0.8 * sin(1.3 * i + 0.4)` rounded to 1/1024 for i = 0, 1, ... over [B=2, h=2, n_outputs];
window 0 has scaler (loc, scale) = (1, 0.5), window 1 (-2, 4); the targets are loc + scale * z for the z below
(as float32, as the Rust batch holds them); the mask drops point 1.
torch runs in float64, and so do the quantile knots (NeuralForecast keeps them float32, which would round x^2 and
log(x) to float32 in the middle of an otherwise float64 computation): the knots are the float32 quantiles widened,
exactly the values the Rust side widens.

    /work/nfvenv/bin/python bench/isqf_reference.py
"""
import json
import math
from functools import partial

import torch
from neuralforecast.losses.pytorch import DistributionLoss, isqf_domain_map
from neuralforecast.models import MLP

torch.set_num_threads(1)
SCALES = [(1.0, 0.5), (-2.0, 4.0)]
Z = [-1.0, 0.6, 1.3, 3.0]
MASK = [1.0, 0.0, 1.0, 1.0]
ALPHAS = [0.01, 0.07, 0.1, 0.3, 0.5, 0.77, 0.9, 0.95, 0.999]


def case(num_pieces, **quantile_args):
    loss = DistributionLoss("ISQF", num_pieces=num_pieces, **quantile_args)
    knots = torch.sort(loss.quantiles.data).values.double()
    loss.domain_map = partial(isqf_domain_map, quantiles=knots, num_pieces=num_pieces)
    n = loss.outputsize_multiplier
    raw = torch.tensor([math.floor(0.8 * math.sin(1.3 * i + 0.4) * 1024 + 0.5) / 1024 for i in range(4 * n)], dtype=torch.float64)
    raw = raw.reshape(2, 2, n).requires_grad_(True)
    loc = torch.tensor([[[s[0]]] * 2 for s in SCALES], dtype=torch.float64)
    scale = torch.tensor([[[s[1]]] * 2 for s in SCALES], dtype=torch.float64)
    y = loc + scale * torch.tensor(Z, dtype=torch.float32).double().reshape(2, 2, 1)
    mask = torch.tensor(MASK, dtype=torch.float64).reshape(2, 2, 1)
    distr_args = loss.scale_decouple(loss.domain_map(raw), loc=loc, scale=scale)
    value = loss(y=y, distr_args=distr_args, mask=mask)
    value.backward()
    distr = loss.get_distribution(distr_args)
    alphas = torch.tensor(ALPHAS, dtype=torch.float64).reshape(-1, 1, 1, 1).expand(-1, 2, 2, 1)
    with torch.no_grad():
        quantiles = distr.base_dist.quantile(alphas) * scale + loc
    return {
        "outputs_per_point": n,
        "loss": value.item(),
        "grad": raw.grad.flatten().tolist(),
        "quantile_function_point_3": quantiles[:, 1, 1, 0].tolist(),
    }


def mlp_count():
    model = MLP(h=12, input_size=24, loss=DistributionLoss("ISQF"))
    return sum(p.numel() for p in model.parameters())


print(json.dumps({
    "quantiles_0.1_0.5_0.9_pieces_3": case(3, quantiles=[0.1, 0.5, 0.9]),
    "level_80_90_default_pieces": case(5, level=[80, 90]),
    "mlp_h12_input24_isqf_parameters": mlp_count(),
}, indent=1))
