//! NeuralForecast 3.3's default search spaces (`neuralforecast/auto.py`, each `Auto*.default_config`) in camelCase,
//! for a horizon `h`. Its `input_size_multiplier` becomes a choice of `inputSize = h · m`; `scaler_type: None` is
//! `'identity'`; `loss: None` (the model's loss) is left out. As `get_default_config` does, every windowed model's
//! space also chooses `stepSize` from [1, h]; the recurrent ones' (LSTM, GRU, RNN, TCN) does not. A multivariate model's `n_series` is no entry: it is
//! the Auto model's own `nSeries`, fixed in every trial (NeuralForecast's `config["n_series"] = n_series`).

use serde_json::{json, Value};

use crate::engine::spec::ModelKind;

/// The default space of `kind`, or `None` where NeuralForecast has no Auto model for it.
pub fn default_space(kind: ModelKind, h: usize) -> Option<Value> {
    let input_sizes = |multipliers: &[usize]| json!({ "sample": "choice", "values": multipliers.iter().map(|m| m * h).collect::<Vec<_>>() });
    let choice = |values: Value| json!({ "sample": "choice", "values": values });
    let loguniform = |low: f64, high: f64| json!({ "sample": "loguniform", "low": low, "high": high });
    let randint = |low: i64, high: i64| json!({ "sample": "randint", "low": low, "high": high });
    let steps_500_1500 = json!({ "sample": "quniform", "low": 500, "high": 1500, "q": 100 });
    let scalers = choice(json!(["identity", "robust", "standard"]));
    let windowed = |extra: Value, multipliers: &[usize], steps: Value| {
        let mut space = json!({
            "inputSize": input_sizes(multipliers),
            "learningRate": loguniform(1e-4, 1e-1),
            "scalerType": scalers.clone(),
            "maxSteps": steps,
            "batchSize": choice(json!([32, 64, 128, 256])),
            "windowsBatchSize": choice(json!([128, 256, 512, 1024])),
            "randomSeed": randint(1, 20),
            "stepSize": choice(json!([1, h])),
        });
        let object = space.as_object_mut().expect("an object literal");
        extra.as_object().expect("an object literal").iter().for_each(|(k, v)| {
            object.insert(k.clone(), v.clone());
        });
        space
    };
    // NeuralForecast's multivariate spaces have no `windows_batch_size` (a window is every series at one time).
    let multivariate = |extra: Value, multipliers: &[usize]| {
        let mut space = windowed(extra, multipliers, choice(json!([500, 1000, 2000])));
        space.as_object_mut().expect("an object literal").remove("windowsBatchSize");
        space
    };
    // The recurrent models' multiplier -1 is NeuralForecast's `input_size=-1`, 3 h for them; their
    // `context_size` and `inference_input_size` are options NeuralForecast 3.3's recurrent models no longer read.
    let recurrent = |with_layers: bool| {
        let mut space = json!({
            "inputSize": input_sizes(&[3, 4, 16, 64]),
            "encoderHiddenSize": choice(json!([16, 32, 64, 128])),
            "decoderHiddenSize": choice(json!([16, 32, 64, 128])),
            "learningRate": loguniform(1e-4, 1e-1),
            "maxSteps": choice(json!([500, 1000])),
            "batchSize": choice(json!([16, 32])),
            "randomSeed": randint(1, 20),
        });
        if with_layers {
            space["encoderNLayers"] = randint(1, 4);
        }
        space
    };
    Some(match kind {
        ModelKind::Lstm | ModelKind::Gru | ModelKind::Rnn => recurrent(true),
        ModelKind::Tcn => {
            let mut space = recurrent(false);
            space["decoderHiddenSize"] = choice(json!([32, 64]));
            space
        }
        ModelKind::Mlp => windowed(
            json!({ "hiddenSize": choice(json!([256, 512, 1024])), "numLayers": randint(2, 6) }),
            &[1, 2, 3, 4, 5],
            choice(json!([500, 1000])),
        ),
        ModelKind::Nbeats | ModelKind::Nbeatsx => windowed(json!({}), &[1, 2, 3, 4, 5], choice(json!([500, 1000]))),
        ModelKind::Nhits => windowed(
            json!({
                "nPoolKernelSize": choice(json!([[2, 2, 1], [1, 1, 1], [2, 2, 2], [4, 4, 4], [8, 4, 1], [16, 8, 1]])),
                "nFreqDownsample": choice(json!([[168, 24, 1], [24, 12, 1], [180, 60, 1], [60, 8, 1], [40, 20, 1], [1, 1, 1]])),
            }),
            &[1, 2, 3, 4, 5],
            steps_500_1500,
        ),
        ModelKind::Dlinear => windowed(json!({ "movingAvgWindow": choice(json!([11, 25, 51])) }), &[1, 2, 3, 4, 5], steps_500_1500),
        ModelKind::Nlinear => windowed(json!({}), &[1, 2, 3, 4, 5], steps_500_1500),
        ModelKind::Tide => {
            let mut space = windowed(
                json!({
                    "hiddenSize": choice(json!([256, 512, 1024])),
                    "decoderOutputDim": choice(json!([8, 16, 32])),
                    "temporalDecoderDim": choice(json!([32, 64, 128])),
                    "numEncoderLayers": choice(json!([1, 2, 3])),
                    "numDecoderLayers": choice(json!([1, 2, 3])),
                    "temporalWidth": choice(json!([4, 8, 16])),
                    "dropout": choice(json!([0.0, 0.1, 0.2, 0.3, 0.5])),
                    "layernorm": choice(json!([true, false])),
                }),
                &[1, 2, 3, 4, 5],
                steps_500_1500,
            );
            space["learningRate"] = loguniform(1e-5, 1e-2);
            space
        }
        ModelKind::Kan => windowed(
            json!({
                "gridSize": choice(json!([5, 10, 15])),
                "splineOrder": choice(json!([2, 3, 4])),
                "hiddenSize": choice(json!([64, 128, 256, 512])),
            }),
            &[1, 2, 3, 4, 5],
            steps_500_1500,
        ),
        ModelKind::PatchTst => windowed(
            json!({
                "hiddenSize": choice(json!([16, 128, 256])),
                "nHeads": choice(json!([4, 16])),
                "patchLen": choice(json!([16, 24])),
                "revin": choice(json!([false, true])),
            }),
            &[1, 2, 3],
            choice(json!([500, 1000, 5000])),
        ),
        ModelKind::VanillaTransformer => windowed(
            json!({ "hiddenSize": choice(json!([64, 128, 256])), "nHead": choice(json!([4, 8])) }),
            &[1, 2, 3, 4, 5],
            choice(json!([500, 1000, 2000])),
        ),
        ModelKind::Bitcn => windowed(
            json!({ "hiddenSize": choice(json!([16, 32])), "dropout": { "sample": "uniform", "low": 0.0, "high": 0.99 } }),
            &[1, 2, 3, 4, 5],
            choice(json!([500, 1000, 2000])),
        ),
        ModelKind::DeepAr => {
            let mut space = windowed(
                json!({
                    "lstmHiddenSize": choice(json!([32, 64, 128, 256])),
                    "lstmNLayers": randint(1, 4),
                    "lstmDropout": { "sample": "uniform", "low": 0.0, "high": 0.5 },
                }),
                &[1, 2, 3, 4, 5],
                choice(json!([500, 1000, 2000])),
            );
            space["scalerType"] = choice(json!(["robust", "minmax1"]));
            space
        }
        ModelKind::Tft => windowed(
            json!({ "hiddenSize": choice(json!([64, 128, 256])), "nHead": choice(json!([4, 8])) }),
            &[1, 2, 3, 4, 5],
            choice(json!([500, 1000, 2000])),
        ),
        ModelKind::TsMixer | ModelKind::TsMixerx => {
            let mut space = multivariate(
                json!({
                    "nBlock": choice(json!([1, 2, 4, 6, 8])),
                    "ffDim": choice(json!([32, 64, 128])),
                    "dropout": { "sample": "uniform", "low": 0.0, "high": 0.99 },
                }),
                &[1, 2, 3, 4],
            );
            space["learningRate"] = loguniform(1e-4, 1e-2);
            space
        }
        ModelKind::ITransformer => multivariate(json!({ "hiddenSize": choice(json!([64, 128, 256])), "nHeads": choice(json!([4, 8])) }), &[1, 2, 3, 4, 5]),
        ModelKind::Prophet => return None,
    })
}
