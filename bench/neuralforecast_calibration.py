# NeuralForecast 3.3 on bench/calibration.js's protocol, its StudentT row side by side: visnights, cross-validation
# over 4 windows of h=4 (step 4), inputSize 12, robust scaler, DistributionLoss(StudentT, level [80, 90]), an MLP of
# the given width or NHITS at its defaults. Prints the MAE of the median, the CRPS as evaluate's (2 x the mean
# pinball loss over the median and the four bounds) and the coverage of the 80 % and 90 % intervals per seed.
#     /work/nfvenv/bin/python bench/neuralforecast_calibration.py MLP|NHITS <steps> <hidden> <seeds, e.g. 1,2,3>
import os, sys, logging, warnings
import numpy as np, pandas as pd, torch
torch.set_num_threads(2)
warnings.filterwarnings('ignore'); logging.disable(logging.WARNING)
from neuralforecast import NeuralForecast
from neuralforecast.models import MLP, NHITS
from neuralforecast.losses.pytorch import DistributionLoss
model_name, steps, hidden = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seeds = [int(s) for s in sys.argv[4].split(',')]
df = pd.read_csv(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'examples', 'data', 'visnights.csv'), parse_dates=['ds'])
for seed in seeds:
    kw = dict(h=4, input_size=12, max_steps=steps, scaler_type='robust', random_seed=seed, alias='StudentT',
              loss=DistributionLoss('StudentT', level=[80, 90]), enable_progress_bar=False, logger=False, enable_model_summary=False)
    model = MLP(hidden_size=hidden, **kw) if model_name == 'MLP' else NHITS(**kw)
    cv = NeuralForecast(models=[model], freq='QS').cross_validation(df, n_windows=4, step_size=4)
    y = cv['y'].values
    cov = {l: np.mean((y >= cv[f'StudentT-lo-{l}'].values) & (y <= cv[f'StudentT-hi-{l}'].values)) for l in (80, 90)}
    # The median column's MAE (bench/calibration.js scores the mean column: close, not equal).
    mae = np.mean(np.abs(cv['StudentT-median'].values - y))
    # CRPS as evaluate's: 2 x mean pinball over the median and the four bounds.
    qs = {0.5: 'StudentT-median', 0.1: 'StudentT-lo-80', 0.9: 'StudentT-hi-80', 0.05: 'StudentT-lo-90', 0.95: 'StudentT-hi-90'}
    pin = [np.mean(np.maximum(q * (y - cv[c].values), (q - 1) * (y - cv[c].values))) for q, c in qs.items()]
    print(f'NF {model_name} {hidden} {steps} seed {seed}: mae {mae:.4f} crps {2*np.mean(pin):.4f} coverage80 {cov[80]:.4f} coverage90 {cov[90]:.4f}', flush=True)
