//! Cross-validation against fitting and forecasting each window by hand.

use serde_json::json;

use super::super::tests::{engine, keep_going, sine_panel, small_spec, spec_of};
use super::*;
use crate::data::Column;
use crate::engine::{EngineConfig, ModelKind};

fn windows(n_windows: usize, step_size: usize, refit: RefitPolicy) -> CrossValidation {
    CrossValidation { n_windows, step_size, refit, horizon: None, levels: Vec::new() }
}

/// Every series of `panel` without its last `n` points, or the whole panel for 0.
fn history(panel: &Panel, n: usize) -> Panel {
    if n == 0 { panel.clone() } else { panel.without_last(n, "test").unwrap() }
}

/// Series "s0", "s1" with a temporal column `x` that the target follows and a static `level`.
fn exogenous_panel() -> Panel {
    let (mut ids, mut ds, mut y, mut x) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for s in 0..2 {
        for t in 0..50 {
            let xt = ((t * 7 + s * 3) % 5) as f64;
            ids.push(format!("s{s}"));
            ds.push(Ds::Int(t as i64));
            x.push(xt);
            y.push(5.0 + 3.0 * s as f64 + xt + (t as f64 / 3.0).sin());
        }
    }
    let x = Column { name: "x".into(), values: x };
    let panel = Panel::with_exogenous(&ids, &ds, &y, vec![x], None).unwrap();
    panel.with_statics(&["s0", "s1"], vec![Column { name: "level".into(), values: vec![0.0, 3.0] }]).unwrap()
}

#[test]
fn each_window_equals_a_fit_and_forecast_by_hand() {
    let panel = exogenous_panel();
    let spec = spec_of(json!({
        "type": "MLP", "h": 4, "inputSize": 8, "hiddenSize": 16, "maxSteps": 6, "windowsBatchSize": 16,
        "futrExogList": ["x"], "statExogList": ["level"], "randomSeed": 7,
    }));
    let template = Engine::new(EngineConfig::new(vec![spec.clone()])).unwrap();
    let cv = windows(3, 2, RefitPolicy::Every(1));
    let options = vec![FitOptions::default(); 3];
    let result = template.cross_validation(&panel, &cv, &options, &mut |_| Control::Continue).unwrap();
    assert_eq!(result.unique_id.len(), 2 * 3 * 4);
    let future = FutureExog::from_panel(&panel);
    for window in 0..3 {
        let cut = 4 + 2 * (2 - window);
        let mut by_hand = Engine::new(EngineConfig::new(vec![spec.clone()])).unwrap();
        by_hand.fit(&history(&panel, cut), &FitOptions::default(), &mut keep_going).unwrap();
        let forecast = by_hand.predict(None, None, &[], Some(&future)).unwrap();
        for s in 0..2 {
            let rows = (s * 3 + window) * 4..(s * 3 + window + 1) * 4;
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&result.columns[0].1[rows.clone()]), bits(&forecast.columns[0].1[s * 4..(s + 1) * 4]), "window {window}");
            assert_eq!(result.ds[rows.clone()], forecast.ds[s * 4..(s + 1) * 4]);
            let series = panel.series(s).unwrap();
            let cutoff = series.len() - cut - 1;
            assert_eq!(result.cutoff[rows.start], series.ds[cutoff]);
            assert_eq!(result.y[rows], series.y[cutoff + 1..cutoff + 5]);
        }
    }
}

#[test]
fn without_refit_one_fit_forecasts_every_window_from_its_history() {
    let panel = sine_panel(2, 40);
    let template = engine(vec![small_spec(ModelKind::Gru, 4)], 1);
    let (cv, mut fits) = (windows(3, 3, RefitPolicy::Never), Vec::new());
    let result = template
        .cross_validation(&panel, &cv, &[FitOptions::default()], &mut |step| {
            fits.push((step.fit, step.window));
            Control::Continue
        })
        .unwrap();
    assert!(fits.iter().all(|&f| f == (0, 0)) && !fits.is_empty());
    let mut by_hand = engine(vec![small_spec(ModelKind::Gru, 4)], 1);
    by_hand.fit(&history(&panel, 6 + 6), &FitOptions::default(), &mut keep_going).unwrap();
    let last = by_hand.predict(Some(&history(&panel, 6)), None, &[], None).unwrap();
    assert_eq!(result.columns[0].1[12..18], last.columns[0].1[..6]);
    assert!(!template.is_fitted(), "the template engine is left as it was");
    assert_eq!(windows(5, 1, RefitPolicy::Every(2)).fit_windows(), [0, 2, 4]);
}

#[test]
fn stopping_a_fit_stops_the_cross_validation_and_errors_name_their_window() {
    let panel = sine_panel(1, 40);
    let template = engine(vec![small_spec(ModelKind::Lstm, 50)], 1);
    let cv = windows(2, 1, RefitPolicy::Every(1));
    let mut steps = 0;
    let stopped = template.cross_validation(&panel, &cv, &[FitOptions::default(), FitOptions::default()], &mut |_| {
        steps += 1;
        if steps == 3 { Control::Stop } else { Control::Continue }
    });
    assert!(stopped.unwrap().aborted);
    assert_eq!(steps, 3);
    let too_short = template.cross_validation(&panel, &windows(8, 5, RefitPolicy::Never), &[FitOptions::default()], &mut |_| Control::Continue);
    assert_eq!(too_short.unwrap_err().to_string(), "series 's0' has 40 points; 8 window(s) of horizon 6, 5 apart, need 41 of them plus some history before the first window");
    let failing = template.cross_validation(&panel, &windows(6, 5, RefitPolicy::Never), &[FitOptions::default()], &mut |_| Control::Continue);
    let error = failing.unwrap_err();
    assert!(matches!(error, EngineError::InWindow { window: 0, n_windows: 6, .. }) && error.to_string().starts_with("window 1 of 6: "), "{error}");
}
