"""Writes src/models/tft_nf33_forward.safetensors: a small NeuralForecast 3.3 TFT (h=12, input_size=24, hidden_size=8,
n_head=2, no exogenous inputs, seed 1) with its state_dict (names = neuro-divergent's), two scaled input windows
(`input.insample_y` [2, 24, 1]) and NeuralForecast's output for them (`expected` [2, 12, 1]) in eval mode (equal to
the training-mode output with dropout off, which the script asserts), and a second case with
future, historic and static variables (`exog.`-prefixed weights, inputs and output). src/models/tft_tests.rs loads
the weights into ours and compares the forward pass.

    /work/nfvenv/bin/python bench/tft_forward_fixture.py
"""
import torch
from safetensors.torch import save_file
from neuralforecast.models import TFT

torch.set_num_threads(1)


def case(prefix, **exog):
    model = TFT(h=12, input_size=24, hidden_size=8, n_head=2, random_seed=1, **exog)
    model.eval()
    g = torch.Generator().manual_seed(7)
    futr, hist, stat = (len(exog.get(k) or []) for k in ("futr_exog_list", "hist_exog_list", "stat_exog_list"))
    batch = {
        "insample_y": torch.randn(2, 24, 1, generator=g),
        "futr_exog": torch.randn(2, 36, futr, generator=g) if futr else None,
        "hist_exog": torch.randn(2, 24, hist, generator=g) if hist else None,
        "stat_exog": torch.randn(2, stat, generator=g) if stat else None,
    }
    with torch.no_grad():
        expected = model(batch)
        model.train()  # dropout off: the training-mode pass must equal the eval one
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
        trained = model(batch)
    assert torch.equal(expected, trained)
    tensors = {f"{prefix}{k}": v.contiguous() for k, v in model.state_dict().items() if not k.endswith("_mask")}
    tensors.update({f"{prefix}input.{k}": v.contiguous() for k, v in batch.items() if v is not None})
    tensors[f"{prefix}expected"] = expected.contiguous()
    return tensors


tensors = case("")
tensors.update(case("exog.", futr_exog_list=["f1", "f2"], hist_exog_list=["h1"], stat_exog_list=["s1", "s2"]))
save_file(tensors, "src/models/tft_nf33_forward.safetensors")
print(len(tensors), "tensors", sum(t.numel() for t in tensors.values()), "values")
