//! Reading, writing and rejecting model options.

use super::*;
use serde_json::json;

use crate::nn::loss::Loss;

fn spec(options: Value) -> Result<ModelSpec, EngineError> {
    ModelSpec::from_options(options.as_object().unwrap(), "models[0]")
}

#[test]
fn defaults_come_from_each_model() {
    let lstm = spec(json!({ "type": "lstm", "h": 12 })).unwrap();
    let neural = lstm.neural().unwrap();
    assert_eq!((lstm.input_size(), neural.scaler_type, neural.windows_batch_size), (36, ScalerType::Robust, 128));
    let mlp = spec(json!({ "type": "MLP", "h": 12, "inputSize": 24 })).unwrap();
    let neural = mlp.neural().unwrap();
    assert_eq!((neural.scaler_type, neural.windows_batch_size, mlp.alias.as_str()), (ScalerType::Identity, 1024, "MLP"));
    let prophet = spec(json!({ "type": "Prophet", "h": 12, "seasonalityMode": "multiplicative" })).unwrap();
    assert_eq!((prophet.h(), prophet.input_size(), prophet.output_columns()), (12, 0, vec!["Prophet".to_string()]));
    assert_eq!(ModelSpec::from_options(&prophet.to_options(), "again").unwrap(), prophet);
    let neural_option = spec(json!({ "type": "Prophet", "h": 12, "maxSteps": 3 })).unwrap_err();
    assert!(matches!(neural_option, EngineError::Type(m) if m.contains("'maxSteps'")));
    let missing = spec(json!({ "type": "MLP", "h": 12 })).unwrap_err();
    assert!(matches!(missing, EngineError::Type(m) if m.contains("models[0].inputSize is missing")));
}

#[test]
fn options_round_trip() {
    let options = json!({ "type": "GRU", "h": 6, "inputSize": 12, "encoderHiddenSize": 16, "loss": { "type": "MQLoss", "level": [80, 95] }, "alias": "g", "earlyStopPatienceSteps": 3 });
    let first = spec(options).unwrap();
    assert_eq!(first.output_columns(), ["g-median", "g-lo-95", "g-lo-80", "g-hi-80", "g-hi-95"]);
    let again = ModelSpec::from_options(&first.to_options(), "again").unwrap();
    assert_eq!(first, again);
}

#[test]
fn every_loss_round_trips_through_its_options() {
    let losses = [
        json!("RMSE"),
        json!("MAPE"),
        json!("SMAPE"),
        json!("relMSE"),
        json!({ "type": "MASE", "seasonality": 4 }),
        json!({ "type": "HuberQLoss", "q": 0.25, "delta": 0.5 }),
        json!({ "type": "HuberMQLoss", "level": [90], "delta": 2.0 }),
    ];
    for loss in losses {
        let first = spec(json!({ "type": "MLP", "h": 3, "inputSize": 6, "loss": loss })).unwrap();
        assert_eq!(ModelSpec::from_options(&first.to_options(), "again").unwrap(), first, "{loss}");
    }
    let huber_mq = spec(json!({ "type": "MLP", "h": 3, "inputSize": 6, "alias": "m", "loss": "HuberMQLoss" })).unwrap();
    assert_eq!(huber_mq.output_columns(), ["m-median", "m-lo-90", "m-lo-80", "m-hi-80", "m-hi-90"]);
}

#[test]
fn errors_name_the_field() {
    let unknown = spec(json!({ "type": "LSTM", "h": 3, "hiddenSize": 8 })).unwrap_err();
    assert!(matches!(unknown, EngineError::Type(m) if m.contains("'hiddenSize'") && m.contains("encoderHiddenSize")));
    let kind = spec(json!({ "type": "Prophecy", "h": 3 })).unwrap_err();
    assert!(matches!(kind, EngineError::Range(m) if m.contains("Prophecy") && m.contains("LSTM")));
    let loss = spec(json!({ "type": "LSTM", "h": 3, "loss": "RMSLE" })).unwrap_err();
    assert!(matches!(loss, EngineError::Range(m) if m.contains("models[0].loss")));
    let huge = spec(json!({ "type": "LSTM", "h": 12, "encoderHiddenSize": 1_000_000 })).unwrap_err();
    assert!(matches!(huge, EngineError::Range(m) if m.contains("parameters")));
    let twice = spec(json!({ "type": "LSTM", "h": 3, "histExogList": ["a", "a"] })).unwrap_err();
    assert!(matches!(twice, EngineError::Range(m) if m.contains("listed twice")));
}

#[test]
fn batch_and_window_options_have_each_models_defaults_and_round_trip() {
    // (type, windowsBatchSize, inferenceWindowsBatchSize) of each model's __init__; batchSize 32 everywhere.
    let cases = [
        ("LSTM", 128, Some(1024)),
        ("GRU", 128, Some(1024)),
        ("TCN", 128, Some(1024)),
        ("MLP", 1024, None),
        ("NBEATS", 1024, None),
        ("NBEATSx", 1024, None),
        ("NHITS", 1024, None),
        ("VanillaTransformer", 1024, Some(1024)),
        ("DLinear", 1024, Some(1024)),
        ("NLinear", 1024, Some(1024)),
        ("RNN", 128, Some(1024)),
    ];
    for (kind, windows, inference) in cases {
        let model = spec(json!({ "type": kind, "h": 4, "inputSize": 8 })).unwrap();
        let n = model.neural().unwrap();
        assert_eq!((n.batch_size, n.windows_batch_size, n.valid_batch_size), (32, windows, 32), "{kind}");
        assert_eq!((n.inference_windows_batch_size, n.step_size, n.start_padding_enabled), (inference, 1, false), "{kind}");
        assert_eq!(ModelSpec::from_options(&model.to_options(), "again").unwrap(), model, "{kind}");
    }
    let given = spec(json!({
        "type": "MLP", "h": 4, "inputSize": 8, "batchSize": 5, "windowsBatchSize": 7, "inferenceWindowsBatchSize": -1,
        "stepSize": 2, "startPaddingEnabled": true,
    }))
    .unwrap();
    let n = given.neural().unwrap();
    assert_eq!((n.batch_size, n.windows_batch_size, n.valid_batch_size, n.inference_windows_batch_size), (5, 7, 5, None));
    assert_eq!((n.step_size, n.start_padding_enabled), (2, true));
    assert_eq!(ModelSpec::from_options(&given.to_options(), "again").unwrap(), given);
}

#[test]
fn batch_and_window_options_reject_bad_values_by_name() {
    for key in ["batchSize", "windowsBatchSize", "validBatchSize", "inferenceWindowsBatchSize", "stepSize"] {
        for bad in [json!(0), json!(-2), json!(1.5)] {
            let err = spec(json!({ "type": "MLP", "h": 4, "inputSize": 8, key: bad })).unwrap_err();
            assert!(matches!(&err, EngineError::Range(m) if m.contains(&format!("models[0].{key}"))), "{key} = {bad}: {err}");
        }
        let err = spec(json!({ "type": "MLP", "h": 4, "inputSize": 8, key: "8" })).unwrap_err();
        assert!(matches!(&err, EngineError::Type(m) if m.contains(key)), "{key}: {err}");
    }
    let err = spec(json!({ "type": "MLP", "h": 4, "inputSize": 8, "startPaddingEnabled": 1 })).unwrap_err();
    assert!(matches!(&err, EngineError::Type(m) if m.contains("startPaddingEnabled")), "{err}");
}

#[test]
fn distribution_losses_round_trip_and_count_parameters_as_neuralforecast() {
    let losses = [
        json!({ "type": "DistributionLoss", "distribution": "StudentT", "level": [80, 90], "returnParams": true }),
        json!({ "type": "DistributionLoss", "distribution": "Poisson", "quantiles": [0.9, 0.1, 0.5], "numSamples": 50 }),
        json!({ "type": "DistributionLoss", "distribution": "Tweedie", "rho": 1.25 }),
        json!({ "type": "GMM", "nComponents": 3, "weighted": true }),
        json!("PMM"),
        json!({ "type": "NBMM", "quantiles": [0.2, 0.8] }),
        json!({ "type": "DistributionLoss", "distribution": "ISQF", "quantiles": [0.9, 0.1, 0.5], "numPieces": 3 }),
        json!({ "type": "DistributionLoss", "distribution": "ISQF" }),
    ];
    for loss in losses {
        let first = spec(json!({ "type": "MLP", "h": 3, "inputSize": 6, "loss": loss })).unwrap();
        assert_eq!(ModelSpec::from_options(&first.to_options(), "again").unwrap(), first, "{loss}");
    }
    let student = spec(json!({ "type": "MLP", "h": 2, "inputSize": 4, "alias": "m", "loss": { "type": "DistributionLoss", "distribution": "StudentT", "returnParams": true } })).unwrap();
    assert_eq!(student.output_columns(), ["m", "m-median", "m-lo-90", "m-lo-80", "m-hi-80", "m-hi-90", "m-df", "m-loc", "m-scale"]);
    assert_eq!(student.columns_per_point(), 9);
    // DistributionLoss sorts its quantiles (NeuralForecast's `sorted(quantiles)`).
    let sorted = spec(json!({ "type": "MLP", "h": 2, "inputSize": 4, "alias": "p", "loss": { "type": "DistributionLoss", "distribution": "Poisson", "quantiles": [0.9, 0.1] } })).unwrap();
    assert_eq!(sorted.output_columns(), ["p", "p-lo-80.0", "p-hi-80.0"]);
    // NeuralForecast 3.3 counts (h=12, input_size=24), less the 5 non-trainable quantile values of level [80, 90]:
    // LSTM Normal 215,943, MLP StudentT 1,112,105, MLP GMM(n_components=2) 1,124,405.
    let count = |kind: &str, loss: Value| spec(json!({ "type": kind, "h": 12, "inputSize": 24, "loss": loss })).unwrap().num_parameters();
    assert_eq!(count("LSTM", json!({ "type": "DistributionLoss", "distribution": "Normal" })), 215_943 - 5);
    assert_eq!(count("MLP", json!({ "type": "DistributionLoss", "distribution": "StudentT" })), 1_112_105 - 5);
    assert_eq!(count("MLP", json!({ "type": "GMM", "nComponents": 2 })), 1_124_405 - 5);
    // MLP with DistributionLoss('ISQF') at its defaults (num_pieces=5, level=[80, 90]: 47 outputs per step),
    // 1,653,305 in NeuralForecast 3.3 (bench/isqf_reference.py); numPieces 3 has 12 × 16 outputs fewer, each 1,025 weights.
    assert_eq!(count("MLP", json!({ "type": "DistributionLoss", "distribution": "ISQF" })), 1_653_305 - 5);
    assert_eq!(count("MLP", json!({ "type": "DistributionLoss", "distribution": "ISQF", "numPieces": 3 })), 1_653_305 - 5 - 12 * 16 * 1025);
    let isqf = spec(json!({ "type": "MLP", "h": 2, "inputSize": 4, "alias": "m", "loss": { "type": "DistributionLoss", "distribution": "ISQF", "level": [80] } })).unwrap();
    assert_eq!(isqf.output_columns(), ["m", "m-median", "m-lo-80", "m-hi-80"]);
    assert_eq!(isqf.to_options()["loss"], json!({ "type": "DistributionLoss", "distribution": "ISQF", "numPieces": 5, "level": [80.0], "numSamples": 1000, "returnParams": false }));
}

#[test]
fn distribution_options_are_checked_by_name() {
    let loss = |loss: Value| spec(json!({ "type": "MLP", "h": 3, "inputSize": 6, "loss": loss })).unwrap_err().to_string();
    assert!(loss(json!({ "type": "DistributionLoss", "distribution": "Gamma" })).contains("unknown distribution 'Gamma'"));
    assert!(loss(json!({ "type": "DistributionLoss" })).contains("models[0].loss.distribution is missing"));
    assert!(loss(json!({ "type": "DistributionLoss", "distribution": "Tweedie" })).contains("models[0].loss.rho is missing"));
    assert!(loss(json!({ "type": "DistributionLoss", "distribution": "Normal", "rho": 1.5 })).contains("models[0].loss.rho"));
    assert!(loss(json!({ "type": "DistributionLoss", "distribution": "Normal", "numSample": 5 })).contains("'numSample'"));
    assert!(loss(json!({ "type": "DistributionLoss", "distribution": "Normal", "numSamples": 0 })).contains("numSamples"));
    assert!(loss(json!({ "type": "DistributionLoss", "distribution": "Normal", "level": [80], "quantiles": [0.5] })).contains("not both"));
    assert!(loss(json!({ "type": "DistributionLoss", "distribution": "Tweedie", "rho": 1.5, "returnParams": true })).contains("returnParams"));
    assert!(loss(json!({ "type": "DistributionLoss", "distribution": "ISQF", "numPieces": 0 })).contains("models[0].loss.numPieces"));
    assert!(loss(json!({ "type": "DistributionLoss", "distribution": "ISQF", "numPieces": 2.5 })).contains("models[0].loss.numPieces"));
    assert!(loss(json!({ "type": "DistributionLoss", "distribution": "Normal", "numPieces": 3 })).contains("models[0].loss.numPieces"));
    assert!(loss(json!({ "type": "DistributionLoss", "distribution": "ISQF", "returnParams": true })).contains("returnParams"));
    assert!(loss(json!({ "type": "DistributionLoss", "distribution": "ISQF", "quantiles": [0.2, 0.2] })).contains("distinct"));
    assert!(loss(json!({ "type": "ISQF" })).contains("distribution: 'ISQF'"));
    assert!(loss(json!({ "type": "GMM", "batchCorrelation": true })).contains("batchCorrelation"));
    let valid = spec(json!({ "type": "MLP", "h": 3, "inputSize": 6, "loss": { "type": "DistributionLoss", "distribution": "Normal" }, "validLoss": "MAE" }));
    assert!(valid.unwrap_err().to_string().contains("models[0].validLoss"));
}

#[test]
fn tukey_loss_reads_checks_and_writes_its_options() {
    let mlp = |loss: Value| spec(json!({ "type": "MLP", "h": 3, "inputSize": 6, "loss": loss }));
    let default = mlp(json!("TukeyLoss")).unwrap();
    assert_eq!(default.neural().unwrap().loss, Loss::Tukey { c: 4.685, normalize: true });
    let given = mlp(json!({ "type": "TukeyLoss", "c": 2.5, "normalize": false })).unwrap();
    assert_eq!(given.neural().unwrap().loss, Loss::Tukey { c: 2.5, normalize: false });
    assert_eq!(ModelSpec::from_options(&given.to_options(), "again").unwrap(), given);
    for (loss, message) in [
        (json!({ "type": "TukeyLoss", "c": 0 }), "models[0].loss.c must be a finite number greater than 0"),
        (json!({ "type": "TukeyLoss", "c": -1 }), "models[0].loss.c"),
        (json!({ "type": "TukeyLoss", "normalize": 1 }), "models[0].loss.normalize"),
        (json!({ "type": "TukeyLoss", "delta": 1 }), "'delta'"),
    ] {
        let error = mlp(loss).unwrap_err().to_string();
        assert!(error.contains(message), "{error}");
    }
    let multivariate = |loss: Value| spec(json!({ "type": "TSMixer", "h": 3, "inputSize": 6, "nSeries": 2, "loss": loss }));
    let error = multivariate(json!("TukeyLoss")).unwrap_err().to_string();
    assert!(error.contains("models[0].loss: TukeyLoss with normalize: true is not supported by a multivariate model"), "{error}");
    assert!(multivariate(json!({ "type": "TukeyLoss", "normalize": false })).is_ok());
}
