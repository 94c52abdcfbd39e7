//! The engine's multivariate capability, through TSMixer: joint windows, forecasts, checks and determinism.

use serde_json::json;

use super::super::tests::{keep_going, sine_panel, spec_of, weights};
use super::super::*;
use crate::data::Ds;

fn tsmixer(n_series: usize, steps: usize) -> ModelSpec {
    spec_of(json!({
        "type": "TSMixer", "h": 4, "inputSize": 8, "nSeries": n_series, "ffDim": 8, "dropout": 0.1,
        "maxSteps": steps, "windowsBatchSize": 8, "valCheckSteps": 5,
    }))
}

fn engine_with(spec: ModelSpec, threads: usize) -> Engine {
    let mut config = EngineConfig::new(vec![spec]);
    config.num_threads = threads;
    Engine::new(config).unwrap()
}

#[test]
fn fits_and_forecasts_all_series_jointly_with_the_same_bits_on_any_thread_count() {
    let panel = sine_panel(3, 48);
    let run = |threads| {
        let mut e = engine_with(tsmixer(3, 30), threads);
        let report = e.fit(&panel, &FitOptions { validation_size: 8, ..FitOptions::default() }, &mut keep_going).unwrap();
        assert_eq!(report.models[0].steps, 30);
        assert_eq!(report.models[0].parameters, e.config().models[0].num_parameters());
        (weights(&e), e.predict(None, None, &[], None).unwrap(), report.models[0].val_loss.clone())
    };
    let (w1, f1, v1) = run(1);
    let (w2, f2, v2) = run(2);
    assert_eq!(w1, w2);
    assert_eq!(f1, f2);
    assert_eq!(v1, v2);
    assert_eq!(f1.unique_id.len(), 3 * 4);
    assert!(f1.columns[0].1.iter().all(|v| v.is_finite()));
    // Training moved the batch norms' running statistics, which the forecasts use.
    let tracked = w1.iter().find(|(name, _)| name == "mixing_layers.0.temporal_mixer.temporal_norm.num_batches_tracked").unwrap();
    assert_eq!(f32::from_bits(tracked.1[0]), 30.0);
}

#[test]
fn a_window_is_every_series_at_once_and_forecasts_as_predict() {
    let panel = sine_panel(3, 40);
    let mut e = engine_with(tsmixer(3, 5), 1);
    e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
    let predicted = e.predict(None, None, &[], None).unwrap().columns[0].1.clone();
    let window: Vec<f64> = panel.series_iter().flat_map(|s| s.y[s.len() - 8..].to_vec()).collect();
    let mut out = vec![0.0; 3 * 4];
    e.forecast_window(0, &window, &mut out).unwrap();
    assert_eq!(out, predicted);
    let mut twice = vec![0.0; 2 * 3 * 4];
    e.forecast_windows(0, &[window.clone(), window.clone()].concat(), &mut twice).unwrap();
    assert_eq!(twice, [out.clone(), out].concat());
    let error = e.forecast_window(0, &window[..8], &mut vec![0.0; 12]).unwrap_err().to_string();
    assert!(error.contains("nSeries × inputSize = 3 × 8"), "{error}");
    // One series' forecast is its rows of the joint one.
    let one = e.predict_series(&["s1"], None, &[], None).unwrap();
    assert_eq!(one.columns[0].1, predicted[4..8]);
    assert_eq!(one.unique_id, ["s1"; 4]);
}

#[test]
fn cross_validation_in_sample_forecasts_and_checkpoints_keep_the_series_together() {
    let panel = sine_panel(3, 40);
    let mut e = engine_with(tsmixer(3, 5), 2);
    let cv = CrossValidation { n_windows: 2, step_size: 2, refit: RefitPolicy::Never, horizon: None, levels: vec![] };
    let result = e.cross_validation(&panel, &cv, &[FitOptions::default()], &mut |_| Control::Continue).unwrap();
    assert_eq!(result.y.len(), 3 * 2 * 4);
    e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
    let insample = e.predict_insample(4).unwrap();
    assert!(insample.columns[0].1.iter().all(|v| v.is_finite()));
    // In-sample forecasts of the last window are the forecasts of the history without its last h points.
    let history = panel.without_last(4, "test").unwrap();
    let last = e.predict(Some(&history), None, &[], None).unwrap().columns[0].1.clone();
    let per_series = insample.y.len() / 3;
    for s in 0..3 {
        let end = (s + 1) * per_series;
        assert_eq!(insample.columns[0].1[end - 4..end], last[s * 4..(s + 1) * 4], "series {s}");
    }
    let path = std::env::temp_dir().join(format!("nd-multivariate-{}.safetensors", std::process::id()));
    e.save(&path).unwrap();
    let loaded = Engine::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(weights(&loaded), weights(&e));
    assert_eq!(loaded.predict(None, None, &[], None).unwrap(), e.predict(None, None, &[], None).unwrap());
}

#[test]
fn series_count_and_alignment_are_checked_naming_the_option_and_the_series() {
    let mut e = engine_with(tsmixer(4, 2), 1);
    let error = e.fit(&sine_panel(3, 40), &FitOptions::default(), &mut keep_going).unwrap_err().to_string();
    assert!(error.contains("nSeries = 4") && error.contains("has 3 series"), "{error}");
    let mut e = engine_with(tsmixer(2, 2), 1);
    let ids = [vec!["a"; 30], vec!["b"; 31]].concat();
    let ds: Vec<Ds> = (0..30).chain(0..31).map(|t| Ds::Int(t as i64)).collect();
    let y: Vec<f64> = (0..61).map(|t| (t as f64).sin()).collect();
    let misaligned = Panel::from_columns(&ids, &ds, &y, None).unwrap();
    let error = e.fit(&misaligned, &FitOptions::default(), &mut keep_going).unwrap_err().to_string();
    assert!(error.contains("aligned") && error.contains("'a'") && error.contains("'b'"), "{error}");
    // An update extends every series by the same steps.
    let panel = sine_panel(2, 40);
    e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
    let one = Panel::from_columns(&["s0"], &[Ds::Int(40)], &[1.0], None).unwrap();
    assert!(e.update(&one).unwrap_err().to_string().contains("has 1 series"));
    let both = Panel::from_columns(&["s0", "s1"], &[Ds::Int(40), Ds::Int(40)], &[1.0, 2.0], None).unwrap();
    e.update(&both).unwrap();
    assert_eq!(e.predict(None, None, &[], None).unwrap().ds[0], Ds::Int(41));
}

#[test]
fn multi_quantile_loss_and_conformal_intervals_work() {
    let panel = sine_panel(2, 48);
    let mq = spec_of(json!({
        "type": "TSMixer", "h": 4, "inputSize": 8, "nSeries": 2, "ffDim": 8, "maxSteps": 5, "windowsBatchSize": 8,
        "loss": { "type": "MQLoss", "level": [80] },
    }));
    let mut e = engine_with(mq, 1);
    e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
    let forecast = e.predict(None, None, &[], None).unwrap();
    assert_eq!(forecast.columns.len(), 3);
    let mut e = engine_with(tsmixer(2, 5), 1);
    let options = FitOptions { prediction_intervals: Some(PredictionIntervals::default()), ..FitOptions::default() };
    e.fit(&panel, &options, &mut keep_going).unwrap();
    let forecast = e.predict(None, None, &[80.0], None).unwrap();
    let (lo, hi) = (&forecast.columns[1].1, &forecast.columns[2].1);
    assert!(lo.iter().zip(hi).all(|(l, h)| l <= h));
}

/// Three aligned series with a temporal column `x` the target follows, its lag `lag`, and a static `level`.
fn exogenous_panel(length: usize) -> Panel {
    let (mut ids, mut ds, mut y, mut x, mut lag) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let x_at = |s: usize, t: usize| ((t * 7 + s * 3) % 5) as f64;
    for s in 0..3 {
        for t in 0..length {
            ids.push(format!("s{s}"));
            ds.push(Ds::Int(t as i64));
            x.push(x_at(s, t));
            lag.push(x_at(s, t.saturating_sub(1)));
            y.push(5.0 + 3.0 * s as f64 + x_at(s, t) + (t as f64 / 3.0).sin());
        }
    }
    let columns = vec![crate::data::Column { name: "x".into(), values: x }, crate::data::Column { name: "lag".into(), values: lag }];
    let panel = Panel::with_exogenous(&ids, &ds, &y, columns, None).unwrap();
    panel.with_statics(&["s0", "s1", "s2"], vec![crate::data::Column { name: "level".into(), values: vec![0.0, 3.0, 6.0] }]).unwrap()
}

#[test]
fn tsmixerx_carries_each_series_exogenous_inputs_with_the_same_bits_on_any_thread_count() {
    let panel = exogenous_panel(48);
    let history = panel.without_last(4, "test").unwrap();
    let future = FutureExog::from_panel(&panel);
    let spec = spec_of(json!({
        "type": "TSMixerx", "h": 4, "inputSize": 8, "nSeries": 3, "ffDim": 8, "dropout": 0.1, "maxSteps": 30,
        "windowsBatchSize": 8, "futrExogList": ["x"], "histExogList": ["lag"], "statExogList": ["level"],
        "scalerType": "standard",
    }));
    let run = |threads| {
        let mut e = engine_with(spec.clone(), threads);
        e.fit(&history, &FitOptions { validation_size: 4, ..FitOptions::default() }, &mut keep_going).unwrap();
        (weights(&e), e.predict(None, None, &[], Some(&future)).unwrap(), e)
    };
    let (w1, f1, e) = run(1);
    let (w2, f2, _) = run(2);
    assert_eq!(w1, w2);
    assert_eq!(f1, f2);
    assert_eq!(f1.unique_id.len(), 3 * 4);
    assert!(f1.columns[0].1.iter().all(|v| v.is_finite()));
    // The forecast reads the future values of `x` over the horizon.
    let (mut ids, mut ds, mut y, mut x, mut lag) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (s, series) in panel.series_iter().enumerate() {
        for t in 0..series.len() {
            ids.push(format!("s{s}"));
            ds.push(series.ds[t]);
            y.push(series.y[t]);
            x.push(if t >= 44 { 10.0 } else { panel.exogenous()[0].values[s * 48 + t] });
            lag.push(panel.exogenous()[1].values[s * 48 + t]);
        }
    }
    let columns = vec![crate::data::Column { name: "x".into(), values: x }, crate::data::Column { name: "lag".into(), values: lag }];
    let moved = FutureExog::from_panel(&Panel::with_exogenous(&ids, &ds, &y, columns, None).unwrap());
    assert_ne!(e.predict(None, None, &[], Some(&moved)).unwrap().columns[0].1, f1.columns[0].1);
    // Missing future values and missing columns are named.
    let error = e.predict(None, None, &[], None).unwrap_err().to_string();
    assert!(error.contains("future exogenous variables (x)"), "{error}");
    let short = FutureExog::from_panel(&panel.without_last(2, "test").unwrap());
    let error = e.predict(None, None, &[], Some(&short)).unwrap_err().to_string();
    assert!(error.contains("futrData has no row for series 's0'"), "{error}");
    let unknown = spec_of(json!({ "type": "TSMixerx", "h": 4, "inputSize": 8, "nSeries": 3, "ffDim": 8, "histExogList": ["nope"] }));
    let error = engine_with(unknown, 1).fit(&history, &FitOptions::default(), &mut keep_going).unwrap_err().to_string();
    assert!(error.contains("histExogList column 'nope'"), "{error}");
}
