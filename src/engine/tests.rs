//! Engine tests: fitting, forecasting, determinism across thread counts, checkpoints and abort.

use serde_json::json;

use super::*;
use crate::data::Ds;

pub(super) fn sine_panel(series: usize, length: usize) -> Panel {
    sine_panel_at(series, length, |t| Ds::Int(t as i64))
}

/// The same sines, one point a month from January 2000: a yearly season of 12 points.
fn monthly_sine_panel(series: usize, length: usize) -> Panel {
    sine_panel_at(series, length, |t| Ds::parse(&format!("{}-{:02}-01", 2000 + t / 12, t % 12 + 1)).unwrap())
}

fn sine_panel_at(series: usize, length: usize, ds_of: impl Fn(usize) -> Ds) -> Panel {
    sine_panel_with(series, length, ds_of, || 0.0)
}

/// The sines of [`sine_panel`] with uniform noise in [-0.3, 0.3] (seeded): a spread for quantiles to fit.
fn noisy_sine_panel(series: usize, length: usize) -> Panel {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    sine_panel_with(series, length, |t| Ds::Int(t as i64), || rng.random_range(-0.3..0.3))
}

fn sine_panel_with(series: usize, length: usize, ds_of: impl Fn(usize) -> Ds, mut noise: impl FnMut() -> f64) -> Panel {
    let (mut ids, mut ds, mut y) = (Vec::new(), Vec::new(), Vec::new());
    for s in 0..series {
        for t in 0..length {
            ids.push(format!("s{s}"));
            ds.push(ds_of(t));
            y.push(10.0 + s as f64 + (2.0 * std::f64::consts::PI * t as f64 / 12.0 + s as f64).sin() + noise());
        }
    }
    Panel::from_columns(&ids, &ds, &y, None).unwrap()
}

/// A model from its options object, as the API reads it.
pub(crate) fn spec_of(options: serde_json::Value) -> ModelSpec {
    ModelSpec::from_options(options.as_object().expect("an options object"), "test").unwrap()
}

pub(super) fn small_spec(kind: ModelKind, steps: usize) -> ModelSpec {
    spec_of(json!({
        "type": kind.name(), "h": 6, "inputSize": 12, "encoderHiddenSize": 16, "decoderHiddenSize": 16,
        "scalerType": "standard", "maxSteps": steps, "windowsBatchSize": 32,
    }))
}

pub(super) fn engine(models: Vec<ModelSpec>, threads: usize) -> Engine {
    let mut config = EngineConfig::new(models);
    config.num_threads = threads;
    Engine::new(config).unwrap()
}

/// Every weight's bits, by name: checkpoint bytes are not comparable (metadata key order varies).
pub(super) fn weights(e: &Engine) -> Vec<(String, Vec<u32>)> {
    e.models
        .iter()
        .filter_map(Trained::network)
        .flat_map(|n| n.params().iter().map(|(name, t)| (name.to_string(), t.data.iter().map(|v| v.to_bits()).collect())))
        .collect()
}

pub(super) fn keep_going(_: &ProgressEvent) -> Control {
    Control::Continue
}

#[test]
fn fitting_a_sine_panel_lowers_the_loss_and_forecasts_it() {
    let panel = sine_panel(3, 96);
    let mut e = engine(vec![small_spec(ModelKind::Lstm, 150), small_spec(ModelKind::Gru, 150)], 2);
    let report = e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
    for m in &report.models {
        let first = m.train_loss[..10].iter().sum::<f64>() / 10.0;
        let last = m.train_loss[m.steps - 10..].iter().sum::<f64>() / 10.0;
        assert!(last < 0.5 * first, "{}: loss {first} → {last}", m.alias);
    }
    let forecast = e.predict(None, None, &[], None).unwrap();
    assert_eq!(forecast.unique_id.len(), 3 * 6);
    assert_eq!(forecast.ds[0], Ds::Int(96));
    for (alias, values) in &forecast.columns {
        for (row, v) in values.iter().enumerate() {
            let (s, t) = (row / 6, 96 + row % 6);
            let truth = 10.0 + s as f64 + (2.0 * std::f64::consts::PI * t as f64 / 12.0 + s as f64).sin();
            assert!((v - truth).abs() < 0.6, "{alias} row {row}: {v} vs {truth}");
        }
    }
}

#[test]
fn results_are_bit_identical_for_any_thread_count() {
    let panel = sine_panel(2, 60);
    let run = |threads| {
        let mut e = engine(vec![small_spec(ModelKind::Lstm, 12)], threads);
        e.fit(&panel, &FitOptions { batch_size: Some(1), windows_batch_size: Some(20), ..FitOptions::default() }, &mut keep_going).unwrap();
        (e.models[0].network().unwrap().params().clone(), e.predict(None, None, &[], None).unwrap())
    };
    let (w1, f1) = run(1);
    for threads in [2, 3] {
        let (w, f) = run(threads);
        for ((name, a), (_, b)) in w1.iter().zip(w.iter()) {
            assert!(a.data.iter().zip(&b.data).all(|(x, y)| x.to_bits() == y.to_bits()), "{name} differs");
        }
        assert_eq!(f, f1);
    }
}

#[test]
fn forecasts_through_layers_shared_with_a_second_core_have_the_bits_of_one_thread() {
    // NBEATS' default 512 x 512 layers are large enough to share (nn::matmul::assist) on two threads.
    let panel = sine_panel(2, 60);
    let run = |threads| {
        let spec = spec_of(json!({ "type": "NBEATS", "h": 6, "inputSize": 12, "maxSteps": 2, "windowsBatchSize": 8 }));
        let mut e = engine(vec![spec], threads);
        e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
        let mut window = [0.0; 6];
        e.forecast_window(0, &panel.y()[48..60], &mut window).unwrap();
        (e.predict(None, None, &[], None).unwrap(), window)
    };
    let alone = run(1);
    assert!((0..3).all(|_| run(2) == alone));
}

#[test]
fn forecast_window_matches_predict_on_the_last_window() {
    let panel = sine_panel(1, 60);
    let mut e = engine(vec![small_spec(ModelKind::Gru, 5)], 1);
    e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
    let forecast = e.predict(None, None, &[], None).unwrap();
    let mut out = [0.0; 6];
    e.forecast_window(0, &panel.y()[48..], &mut out).unwrap();
    assert_eq!(out.to_vec(), forecast.columns[0].1);
    assert!(e.forecast_window(0, &panel.y()[50..], &mut out).is_err());
}

#[test]
fn checkpoints_round_trip_exactly_and_reject_damage() {
    let panel = sine_panel(2, 60);
    let mut config = EngineConfig::new(vec![small_spec(ModelKind::Lstm, 5), small_spec(ModelKind::Gru, 5)]);
    config.models[1].alias = "gru".into();
    config.local_scaler_type = ScalerType::Standard;
    let mut e = Engine::new(config).unwrap();
    e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
    let bytes = e.to_bytes().unwrap();
    let loaded = Engine::from_bytes(&bytes).unwrap();
    assert_eq!(loaded.predict(None, None, &[], None).unwrap(), e.predict(None, None, &[], None).unwrap());
    assert_eq!(weights(&loaded), weights(&e));
    for cut in [0, 7, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        assert!(Engine::from_bytes(&bytes[..cut]).is_err(), "truncated at {cut}");
    }
    let mut rng = 0x2545F4914F6CDD1Du64;
    for _ in 0..300 {
        let mut damaged = bytes.clone();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let i = (rng as usize) % damaged.len();
        damaged[i] ^= 1 << (rng % 8);
        let _ = Engine::from_bytes(&damaged); // must not panic; may load when the flip hit a weight
    }
    assert!(Engine::from_bytes(b"random bytes that are not a checkpoint").is_err());
}

#[test]
fn a_version_2_checkpoint_reads_its_batch_size_as_windows_a_step() {
    use safetensors::tensor::SafeTensors;
    let mut e = engine(vec![small_spec(ModelKind::Lstm, 2)], 1);
    e.fit(&sine_panel(2, 60), &FitOptions::default(), &mut keep_going).unwrap();
    let bytes = e.to_bytes().unwrap();
    // The same file as version 2 wrote it: its batchSize (77 windows a step), none of the later options.
    let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = metadata.metadata().clone().unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&meta["engine"]).unwrap();
    let model = state["models"][0].as_object_mut().unwrap();
    for key in ["windowsBatchSize", "validBatchSize", "inferenceWindowsBatchSize", "stepSize", "startPaddingEnabled"] {
        model.remove(key);
    }
    model.insert("batchSize".into(), 77.into());
    meta.insert("engine".into(), state.to_string());
    meta.insert("format_version".into(), "2".into());
    let tensors = SafeTensors::deserialize(&bytes).unwrap();
    let old = safetensors::tensor::serialize(tensors.tensors(), Some(meta)).unwrap();
    let loaded = Engine::from_bytes(&old).unwrap();
    let neural = loaded.config.models[0].neural().unwrap();
    assert_eq!((neural.windows_batch_size, neural.batch_size, neural.valid_batch_size), (77, 32, 32));
    assert_eq!(weights(&loaded), weights(&e));
}

#[test]
fn a_version_3_checkpoint_keeps_its_level_names_and_quantiles_get_neuralforecasts() {
    use safetensors::tensor::SafeTensors;
    // Version 3 stored every MQLoss as quantiles and named them by level; a list of levels' quantiles loads as
    // those levels (same names), any other list keeps its quantiles, now named as NeuralForecast's (`-lo-80.0`).
    let cases = [
        (json!([0.5, 0.025, 0.1, 0.9, 0.975]), vec!["m-median", "m-lo-95", "m-lo-80", "m-hi-80", "m-hi-95"]),
        (json!([0.1, 0.5, 0.9]), vec!["m-lo-80.0", "m-median", "m-hi-80.0"]),
    ];
    for (stored, names) in cases {
        let loss = json!({ "type": "MQLoss", "quantiles": stored.clone() });
        let spec = spec_of(json!({ "type": "MLP", "alias": "m", "h": 2, "inputSize": 4, "hiddenSize": 4, "maxSteps": 1, "loss": loss }));
        let mut e = engine(vec![spec], 1);
        e.fit(&sine_panel(1, 20), &FitOptions::default(), &mut keep_going).unwrap();
        let bytes = e.to_bytes().unwrap();
        let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap();
        let mut meta = metadata.metadata().clone().unwrap();
        let mut state: serde_json::Value = serde_json::from_str(&meta["engine"]).unwrap();
        state["models"][0]["loss"] = loss;
        meta.insert("engine".into(), state.to_string());
        meta.insert("format_version".into(), "3".into());
        let tensors = SafeTensors::deserialize(&bytes).unwrap();
        let old = safetensors::tensor::serialize(tensors.tensors(), Some(meta)).unwrap();
        let loaded = Engine::from_bytes(&old).unwrap();
        let forecast = loaded.predict(None, None, &[], None).unwrap();
        let columns: Vec<&str> = forecast.columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(columns, names, "{stored}");
    }
}

#[test]
fn save_is_atomic_and_load_reads_it_back() {
    let dir = std::env::temp_dir().join(format!("nd-engine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let mut e = engine(vec![small_spec(ModelKind::Lstm, 3)], 1);
    e.fit(&sine_panel(1, 40), &FitOptions::default(), &mut keep_going).unwrap();
    e.save(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    assert!(e.save(&dir.join("missing-dir").join("x.safetensors")).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let leftovers = std::fs::read_dir(&dir).unwrap().filter(|f| f.as_ref().unwrap().file_name() != "model.safetensors").count();
    assert_eq!(leftovers, 0);
    assert_eq!(Engine::load(&path).unwrap().predict(None, None, &[], None).unwrap(), e.predict(None, None, &[], None).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stopping_keeps_the_state_from_before_the_fit() {
    let panel = sine_panel(1, 40);
    let mut e = engine(vec![small_spec(ModelKind::Lstm, 50)], 1);
    let report = e.fit(&panel, &FitOptions::default(), &mut |ev| if ev.step == 3 { Control::Stop } else { Control::Continue }).unwrap();
    assert!(report.aborted);
    assert!(!e.is_fitted());
    e.fit(&panel, &FitOptions { max_steps: Some(2), ..FitOptions::default() }, &mut keep_going).unwrap();
    let before = weights(&e);
    e.fit(&panel, &FitOptions::default(), &mut |_| Control::Stop).unwrap();
    assert_eq!(weights(&e), before);
}

/// One series that climbs for 60 points and falls over its last 12, the validation part: the better a model
/// learns the climb, the worse it scores there.
fn turning_series() -> Panel {
    let y: Vec<f64> = (0..72).map(|t| if t < 60 { t as f64 } else { 120.0 - t as f64 }).collect();
    let ids = vec!["s".to_string(); y.len()];
    let ds: Vec<Ds> = (0..y.len()).map(|t| Ds::Int(t as i64)).collect();
    Panel::from_columns(&ids, &ds, &y, None).unwrap()
}

#[test]
fn early_stopping_stops_patience_checks_after_the_best() {
    let spec = spec_of(json!({
        "type": "MLP", "h": 6, "inputSize": 12, "hiddenSize": 32, "numLayers": 2, "learningRate": 0.01,
        "maxSteps": 1000, "windowsBatchSize": 32, "valCheckSteps": 5, "earlyStopPatienceSteps": 3,
    }));
    let mut e = engine(vec![spec], 1);
    let report = e.fit(&turning_series(), &FitOptions { validation_size: 12, ..FitOptions::default() }, &mut keep_going).unwrap();
    let m = &report.models[0];
    let best = m.val_loss.iter().enumerate().fold(0, |b, (i, &v)| if v < m.val_loss[b] { i } else { b });
    assert!(m.stopped_early);
    assert_eq!(m.val_loss.len(), best + 1 + 3, "{:?}", m.val_loss);
    assert_eq!(m.steps, (best + 1 + 3) * 5);
    assert!(m.steps < 1000);
}

#[test]
fn validation_needs_at_least_the_horizon() {
    let mut e = engine(vec![small_spec(ModelKind::Gru, 5)], 1);
    let error = e.fit(&sine_panel(2, 80), &FitOptions { validation_size: 3, ..FitOptions::default() }, &mut keep_going).unwrap_err();
    assert!(error.to_string().contains("validationSize"), "{error}");
}

#[test]
fn early_stopping_that_cannot_fire_is_an_error() {
    let panel = sine_panel(1, 60);
    let small = json!({ "type": "MLP", "h": 6, "inputSize": 12, "hiddenSize": 8, "maxSteps": 5, "batchSize": 8 });
    let plain = spec_of(small.clone());
    let mut with_patience = small;
    with_patience["earlyStopPatienceSteps"] = json!(2);
    let patient = spec_of(with_patience);
    let cases = [
        (patient.clone(), FitOptions::default(), "earlyStopPatienceSteps"),
        (plain.clone(), FitOptions { patience: Some(2), ..FitOptions::default() }, "patience"),
        (plain.clone(), FitOptions { early_stopping: true, patience: Some(2), ..FitOptions::default() }, "earlyStopping"),
        (plain, FitOptions { early_stopping: true, validation_size: 6, ..FitOptions::default() }, "patience"),
    ];
    for (spec, options, named) in cases {
        let error = engine(vec![spec], 1).fit(&panel, &options, &mut keep_going).unwrap_err();
        assert!(error.to_string().contains(named), "{named}: {error}");
    }
    let fine = FitOptions { early_stopping: true, validation_size: 6, ..FitOptions::default() };
    assert!(engine(vec![patient], 1).fit(&panel, &fine, &mut keep_going).is_ok());
}

#[test]
fn bad_configurations_are_errors() {
    assert!(Engine::new(EngineConfig::new(vec![])).is_err());
    let zero = ModelSpec::from_options(json!({ "type": "LSTM", "h": 3, "encoderHiddenSize": 0 }).as_object().unwrap(), "m");
    assert!(zero.is_err());
    let twins = vec![small_spec(ModelKind::Lstm, 1), small_spec(ModelKind::Lstm, 1)];
    assert!(Engine::new(EngineConfig::new(twins)).err().unwrap().to_string().contains("alias"));
    let e = engine(vec![small_spec(ModelKind::Lstm, 1)], 1);
    assert!(matches!(e.predict(None, None, &[], None), Err(EngineError::NotFitted)));
}

/// A model at the configuration of ../shared/reference/baselines.md (inputSize 24, h 12, 200 steps of 32 windows,
/// lr 1e-3, MAE, standard window scaling, each model's architecture as listed there).
fn baseline_spec(kind: ModelKind, seed: u64) -> ModelSpec {
    let architecture = match kind {
        ModelKind::Lstm | ModelKind::Gru | ModelKind::Rnn => json!({ "encoderHiddenSize": 64, "decoderHiddenSize": 64 }),
        ModelKind::Tcn => json!({ "kernelSize": 2, "dilations": [1, 2, 4, 8, 16], "encoderHiddenSize": 64, "decoderHiddenSize": 64 }),
        ModelKind::Nhits => json!({ "mlpUnits": [[512, 512], [512, 512], [512, 512]] }),
        ModelKind::Nbeats | ModelKind::Nbeatsx => {
            json!({ "stackTypes": ["identity", "trend", "seasonality"], "mlpUnits": [[512, 512], [512, 512], [512, 512]] })
        }
        ModelKind::VanillaTransformer => json!({ "hiddenSize": 64, "nHead": 4, "encoderLayers": 2, "decoderLayers": 1 }),
        ModelKind::Mlp => json!({}),
        ModelKind::Dlinear | ModelKind::Nlinear => json!({}),
        ModelKind::Tide => json!({}),
        ModelKind::Kan => json!({}),
        ModelKind::PatchTst => json!({}),
        ModelKind::TsMixer => json!({ "nSeries": 1 }),
        ModelKind::ITransformer => json!({ "nSeries": 1 }),
        ModelKind::Bitcn => json!({}),
        ModelKind::TsMixerx => json!({ "nSeries": 1 }),
        // NeuralForecast's defaults, with the MAE loss of the baselines (not its DistributionLoss); with
        // ND_DEEPAR_LOSS=default its own DistributionLoss(StudentT) and ancestral sample paths (the point column is
        // their mean), beside bench/neuralforecast_reference.py's DeepARStudentT.
        ModelKind::DeepAr if std::env::var("ND_DEEPAR_LOSS").as_deref() == Ok("default") => json!({}),
        ModelKind::DeepAr => json!({ "loss": "MAE" }),
        ModelKind::Tft => json!({}),
        ModelKind::Prophet => return spec_of(json!({ "type": "Prophet", "h": 12, "seasonalityMode": "multiplicative", "randomSeed": seed })),
    };
    let mut options = json!({
        "type": kind.name(), "h": 12, "inputSize": 24, "scalerType": "standard", "maxSteps": 200, "windowsBatchSize": 32,
        "learningRate": 1e-3, "randomSeed": seed,
    });
    options.as_object_mut().unwrap().extend(architecture.as_object().unwrap().clone());
    spec_of(options)
}

/// AirPassengers (data/air_passengers.csv) as the baselines split it: the panel of its first 132 months, and all
/// 144 values (the last 12 are the test months).
pub(super) fn air_passengers() -> (Panel, Vec<f64>) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/air_passengers.csv")).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|l| l.trim().split(',').collect()).collect();
    let ids: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    let ds: Vec<Ds> = rows.iter().map(|r| Ds::parse(r[1]).unwrap()).collect();
    let y: Vec<f64> = rows.iter().map(|r| r[2].parse().unwrap()).collect();
    (Panel::from_columns(&ids[..132], &ds[..132], &y[..132], None).unwrap(), y)
}

/// AirPassengers at the baselines' configuration, 5 seeds, every model. Release only:
/// `cargo test --release --lib engine::tests::air_passengers -- --ignored --nocapture` (`ND_MODELS=TCN,GRU` for some,
/// `ND_SEEDS=10` for seeds 1-10, `ND_FIRST_SEED=11` to start at seed 11, `ND_DEEPAR_LOSS=default` for DeepAR with
/// its default loss).
#[test]
#[ignore = "slow in debug builds; run in release"]
fn air_passengers_accuracy_over_five_seeds() {
    let (train, y) = air_passengers();
    let only = std::env::var("ND_MODELS").ok();
    let seeds: u64 = std::env::var("ND_SEEDS").map_or(5, |n| n.parse().expect("ND_SEEDS is a whole number"));
    let first: u64 = std::env::var("ND_FIRST_SEED").map_or(1, |n| n.parse().expect("ND_FIRST_SEED is a whole number"));
    for &kind in ModelKind::ALL.iter().filter(|k| only.as_deref().is_none_or(|o| o.split(',').any(|n| ModelKind::parse(n) == Some(**k)))) {
        let mut maes = Vec::new();
        for seed in first..first + seeds {
            let mut e = engine(vec![baseline_spec(kind, seed)], 2);
            let report = e.fit(&train, &FitOptions::default(), &mut keep_going).unwrap();
            let forecast = e.predict(None, None, &[], None).unwrap();
            let mae = forecast.columns[0].1.iter().zip(&y[132..]).map(|(f, a)| (f - a).abs()).sum::<f64>() / 12.0;
            eprintln!("{} seed {seed}: MAE {mae:.2}, {:.3} ms/step", kind.name(), report.elapsed_ms / report.models[0].steps as f64);
            maes.push(mae);
        }
        eprintln!("{}: mean MAE {:.2} over {seeds} seeds", kind.name(), maes.iter().sum::<f64>() / seeds as f64);
    }
}

#[test]
fn simd_disabled_runs_the_scalar_kernels_on_every_engine_thread() {
    use crate::simd::{thread_isa, Isa};
    let mut config = EngineConfig::new(vec![small_spec(ModelKind::Gru, 2)]);
    config.simd_enabled = false;
    let e = Engine::new(config).unwrap();
    assert_eq!(e.threads.install(thread_isa), Isa::Scalar);
    let default_isa = thread_isa();
    {
        let _simd = crate::simd::scoped_simd(false);
        assert_eq!(thread_isa(), Isa::Scalar);
    }
    assert_eq!(thread_isa(), default_isa, "the caller's setting comes back after the scope");
}

#[test]
fn batch_window_forecasts_equal_single_window_forecasts() {
    let panel = sine_panel(2, 60);
    let mut e = engine(vec![small_spec(ModelKind::Lstm, 5)], 2);
    e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
    let windows: Vec<f64> = (0..37 * 12).map(|i| 10.0 + (i as f64 * 0.37).sin() * (1.0 + (i / 12) as f64)).collect();
    let mut batch = vec![0.0; 37 * 6];
    e.forecast_windows(0, &windows, &mut batch).unwrap();
    for (window, expected) in windows.chunks_exact(12).zip(batch.chunks_exact(6)) {
        let mut single = [0.0; 6];
        e.forecast_window(0, window, &mut single).unwrap();
        for (a, b) in single.iter().zip(expected) {
            // The batch and the one-row paths run different (equally exact) f32 kernels.
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
    let err = e.forecast_windows(0, &windows[..13], &mut batch).unwrap_err().to_string();
    assert!(err.contains("whole number of windows"), "{err}");
    assert!(e.forecast_windows(0, &[], &mut batch).is_err());
}

#[test]
fn huge_sizes_are_rejected_before_anything_is_allocated() {
    let cases = [
        ("parameters", json!({ "encoderHiddenSize": 1 << 20 })),
        ("parameters", json!({ "decoderLayers": 1 << 20 })),
        ("parameters", json!({ "encoderNLayers": 1 << 17 })),
        ("activations", json!({ "inputSize": 1 << 20 })),
    ];
    for (what, grow) in cases {
        let mut options = json!({ "type": "LSTM", "h": 12 });
        options.as_object_mut().unwrap().extend(grow.as_object().unwrap().clone());
        let err = ModelSpec::from_options(options.as_object().unwrap(), "m").unwrap_err();
        assert!(matches!(err, EngineError::Range(_)) && err.to_string().contains(what), "{err}");
    }
    let mut e = engine(vec![small_spec(ModelKind::Gru, 2)], 1);
    let options = FitOptions { windows_batch_size: Some(1 << 20), ..FitOptions::default() };
    let err = e.fit(&sine_panel(1, 40), &options, &mut keep_going).unwrap_err().to_string();
    assert!(err.contains("windowsBatchSize"), "{err}");
}

#[test]
fn multi_quantile_models_forecast_one_column_per_quantile_in_order() {
    // Noise gives the quantiles a spread to learn: on the noiseless sines they all fit the same curve, and which
    // of them ends up on top is down to rounding.
    let panel = noisy_sine_panel(2, 60);
    let spec = spec_of(json!({
        "type": "GRU", "h": 6, "inputSize": 12, "encoderHiddenSize": 16, "decoderHiddenSize": 16, "scalerType": "standard",
        "maxSteps": 150, "windowsBatchSize": 32, "loss": { "type": "MQLoss", "level": [80] }, "learningRate": 0.01,
    }));
    let mut e = engine(vec![spec], 2);
    e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
    let forecast = e.predict(None, None, &[], None).unwrap();
    let names: Vec<&str> = forecast.columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["GRU-median", "GRU-lo-80", "GRU-hi-80"]);
    let (median, lo, hi) = (&forecast.columns[0].1, &forecast.columns[1].1, &forecast.columns[2].1);
    assert!(median.iter().zip(lo.iter().zip(hi)).all(|(m, (l, h))| l < m && m < h), "lo < median < hi: {lo:?} {median:?} {hi:?}");
    let mut window = [0.0; 18];
    e.forecast_window(0, &panel.series(0).unwrap().y[48..60], &mut window).unwrap();
    assert_eq!(window[0], median[0]);
}

#[test]
fn prophet_fits_each_series_and_forecasts_with_its_own_intervals() {
    let panel = monthly_sine_panel(2, 96);
    let prophet = spec_of(json!({ "type": "Prophet", "h": 6, "uncertaintySamples": 200 }));
    let mut e = engine(vec![prophet.clone()], 2);
    let report = e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
    assert_eq!(report.models[0].steps, 1);
    let forecast = e.predict(None, None, &[80.0, 95.0], None).unwrap();
    let names: Vec<&str> = forecast.columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(&names[..5], ["Prophet", "Prophet-lo-95", "Prophet-lo-80", "Prophet-hi-80", "Prophet-hi-95"]);
    for row in 0..12 {
        let (s, t) = (row / 6, 96 + row % 6);
        let truth = 10.0 + s as f64 + (2.0 * std::f64::consts::PI * t as f64 / 12.0 + s as f64).sin();
        let [point, lo95, lo80, hi80, hi95] = [0, 1, 2, 3, 4].map(|c| forecast.columns[c].1[row]);
        assert!((point - truth).abs() < 0.3, "row {row}: {point} vs {truth}");
        assert!(lo95 < lo80 && lo80 < point && point < hi80 && hi80 < hi95, "row {row}");
    }
    let loaded = Engine::from_bytes(&e.to_bytes().unwrap()).unwrap();
    assert_eq!(loaded.predict(None, None, &[80.0], None).unwrap(), e.predict(None, None, &[80.0], None).unwrap());
    let err = e.forecast_window(0, &[1.0; 12], &mut [0.0; 6]).unwrap_err().to_string();
    assert!(err.contains("Prophet") && err.contains("neural"), "{err}");
    let mut mixed = engine(vec![prophet, small_spec(ModelKind::Gru, 5)], 2);
    mixed.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
    assert_eq!(mixed.predict(None, None, &[], None).unwrap().columns.len(), 2);
    let err = mixed.predict(None, None, &[80.0], None).map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("'GRU' has no prediction intervals"), "{err}");
}

#[test]
fn conformal_intervals_come_from_calibration_windows_and_survive_a_checkpoint() {
    let panel = sine_panel(3, 80);
    let mut e = engine(vec![small_spec(ModelKind::Lstm, 60)], 2);
    let intervals = PredictionIntervals { n_windows: 3, ..PredictionIntervals::default() };
    let options = FitOptions { prediction_intervals: Some(intervals), ..FitOptions::default() };
    let report = e.fit(&panel, &options, &mut keep_going).unwrap();
    assert_eq!(report.models.len(), 1);
    let forecast = e.predict(None, Some(4), &[50.0, 90.0], None).unwrap();
    let names: Vec<&str> = forecast.columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["LSTM", "LSTM-lo-90", "LSTM-lo-50", "LSTM-hi-50", "LSTM-hi-90"]);
    let column = |c: usize| &forecast.columns[c].1;
    assert!((0..12).all(|r| column(1)[r] <= column(2)[r] && column(2)[r] <= column(3)[r] && column(3)[r] <= column(4)[r]));
    assert!((0..12).any(|r| column(1)[r] < column(4)[r]), "the intervals have width");
    let loaded = Engine::from_bytes(&e.to_bytes().unwrap()).unwrap();
    assert_eq!(loaded.predict(None, Some(4), &[50.0, 90.0], None).unwrap(), forecast);
    let error_method = PredictionIntervals { method: IntervalMethod::ConformalError, ..intervals };
    let mut e = engine(vec![small_spec(ModelKind::Lstm, 20)], 1);
    e.fit(&panel, &FitOptions { prediction_intervals: Some(error_method), ..FitOptions::default() }, &mut keep_going).unwrap();
    let f = e.predict(None, None, &[80.0], None).unwrap();
    // conformal_error intervals are symmetric around the point forecast.
    assert!((0..18).all(|r| ((f.columns[2].1[r] - f.columns[0].1[r]) - (f.columns[0].1[r] - f.columns[1].1[r])).abs() < 1e-9));
    let short = sine_panel(1, 20);
    assert!(e.fit(&short, &FitOptions { prediction_intervals: Some(intervals), ..FitOptions::default() }, &mut keep_going).is_err());
}

#[test]
fn low_memory_gives_the_same_bits_on_any_thread_count_and_the_default_weights_up_to_rounding() {
    let panel = sine_panel(3, 80);
    let run = |low_memory: bool, threads: usize| {
        let mut config = EngineConfig::new(vec![small_spec(ModelKind::Gru, 15)]);
        (config.low_memory, config.num_threads) = (low_memory, threads);
        let mut e = Engine::new(config).unwrap();
        e.fit(&panel, &FitOptions { windows_batch_size: Some(60), ..FitOptions::default() }, &mut keep_going).unwrap();
        weights(&e)
    };
    let (default, low) = (run(false, 2), run(true, 2));
    assert_eq!(run(true, 1), low);
    assert_ne!(low, default, "half-size shards sum the gradient in another order");
    let values = |w: &[(String, Vec<u32>)]| w.iter().flat_map(|(_, bits)| bits.iter().map(|&b| f32::from_bits(b))).collect::<Vec<_>>();
    let largest_difference = values(&low).iter().zip(values(&default)).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(largest_difference < 1e-4, "lowMemory weights differ from the default by {largest_difference}");
}
