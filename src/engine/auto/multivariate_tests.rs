//! Auto models of the multivariate models (AutoTSMixer, AutoTSMixerx, AutoiTransformer): NeuralForecast's default
//! spaces, `nSeries` fixed in every trial, each trial the model's own fit on all the series jointly, the data
//! checked once, and the same search on 1 and 2 threads.

use serde_json::{json, Value};

use super::*;
use super::tests::auto_error;
use crate::engine::tests::{engine, keep_going, sine_panel, spec_of, weights};
use crate::engine::Forecast;

const TYPES: [&str; 3] = ["AutoTSMixer", "AutoTSMixerx", "AutoiTransformer"];

/// A quick search of `type_name` over 3 series (h 4).
fn small_multivariate(type_name: &str, samples: usize) -> ModelSpec {
    let own = match type_name {
        "AutoiTransformer" => json!({ "hiddenSize": { "sample": "choice", "values": [8, 16] }, "nHeads": 2, "eLayers": 1, "dFf": 16 }),
        _ => json!({ "nBlock": { "sample": "choice", "values": [1, 2] }, "ffDim": 8, "dropout": { "sample": "uniform", "low": 0.0, "high": 0.3 } }),
    };
    let mut config = json!({
        "inputSize": { "sample": "choice", "values": [8, 12] },
        "learningRate": { "sample": "loguniform", "low": 1e-3, "high": 1e-1 },
        "maxSteps": { "sample": "quniform", "low": 10, "high": 20, "q": 10 },
        "valCheckSteps": 10,
        "windowsBatchSize": 8,
        "randomSeed": { "sample": "randint", "low": 1, "high": 20 },
    });
    config.as_object_mut().unwrap().extend(own.as_object().unwrap().clone());
    spec_of(json!({ "type": type_name, "h": 4, "nSeries": 3, "numSamples": samples, "seed": 5, "config": config }))
}

#[test]
fn the_default_spaces_are_neuralforecast_ones_with_n_series_fixed() {
    let choice = |values: Value| json!({ "sample": "choice", "values": values });
    let steps = choice(json!([500, 1000, 2000]));
    let batches = choice(json!([32, 64, 128, 256]));
    let seeds = json!({ "sample": "randint", "low": 1, "high": 20 });
    let step_sizes = choice(json!([1, 6]));
    let mixer = json!({
        "inputSize": choice(json!([6, 12, 18, 24])),
        "nBlock": choice(json!([1, 2, 4, 6, 8])),
        "learningRate": { "sample": "loguniform", "low": 1e-4, "high": 1e-2 },
        "ffDim": choice(json!([32, 64, 128])),
        "scalerType": choice(json!(["identity", "robust", "standard"])),
        "maxSteps": steps, "batchSize": batches, "randomSeed": seeds, "stepSize": step_sizes,
        "dropout": { "sample": "uniform", "low": 0.0, "high": 0.99 },
    });
    let itransformer = json!({
        "inputSize": choice(json!([6, 12, 18, 24, 30])),
        "hiddenSize": choice(json!([64, 128, 256])),
        "nHeads": choice(json!([4, 8])),
        "learningRate": { "sample": "loguniform", "low": 1e-4, "high": 1e-1 },
        "scalerType": choice(json!(["identity", "robust", "standard"])),
        "maxSteps": steps, "batchSize": batches, "randomSeed": seeds, "stepSize": step_sizes,
    });
    for (type_name, expected) in TYPES.iter().zip([&mixer, &mixer, &itransformer]) {
        let spec = spec_of(json!({ "type": type_name, "h": 6, "nSeries": 5 }));
        let auto = spec.search.as_ref().unwrap();
        assert_eq!(&auto.space.to_value(), expected, "{type_name}");
        assert_eq!(auto.fixed["nSeries"], json!(5));
        for trial in 0..10 {
            let (config, trial_spec) = auto.trial(trial, type_name).unwrap();
            assert!(!config.contains_key("nSeries"));
            assert_eq!(trial_spec.neural().unwrap().n_series(), Some(5), "{type_name} trial {trial}");
        }
        assert_eq!(spec_of(Value::Object(auto.to_options(type_name))).search, spec.search, "{type_name}");
    }
}

#[test]
fn n_series_is_required_fixed_and_only_for_multivariate_models() {
    for type_name in TYPES {
        let message = auto_error(json!({ "type": type_name, "h": 4 }));
        assert!(message.contains(&format!("models[0].nSeries is missing: {type_name} searches a multivariate model")), "{message}");
        let message = auto_error(json!({ "type": type_name, "h": 4, "nSeries": 3, "config": { "nSeries": 3 } }));
        assert!(message.contains("models[0].config.nSeries: the series count is not searched"), "{message}");
        let message = auto_error(json!({ "type": type_name, "h": 4, "nSeries": 0 }));
        assert!(message.contains("models[0].nSeries"), "{message}");
    }
    let message = auto_error(json!({ "type": "AutoMLP", "h": 4, "nSeries": 3 }));
    assert!(message.contains("unknown option 'nSeries'"), "{message}");
    let message = auto_error(json!({ "type": "AutoTSMixer", "h": 4, "nSeries": 3, "config": { "ffDim": { "sample": "choice", "values": [] } } }));
    assert!(message.contains("models[0].config.ffDim: choice has no values"), "{message}");
}

#[test]
fn a_multivariate_search_is_the_same_on_1_and_2_threads_and_its_trials_are_the_models_own_fits() {
    let panel = sine_panel(3, 48);
    let strip = |report: &SearchReport| report.rows.iter().map(|r| (r.trial, r.config.clone(), r.valid_loss.map(f64::to_bits), r.steps)).collect::<Vec<_>>();
    for type_name in TYPES {
        let fits: Vec<(Engine, Forecast)> = [1, 2]
            .into_iter()
            .map(|threads| {
                let mut e = engine(vec![small_multivariate(type_name, 3)], threads);
                assert!(!e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap().aborted);
                let forecast = e.predict(None, None, &[], None).unwrap();
                (e, forecast)
            })
            .collect();
        let (one, two) = (fits[0].0.search_report(0).unwrap(), fits[1].0.search_report(0).unwrap());
        assert_eq!(one.rows.len(), 3, "{type_name}");
        assert!(one.rows.iter().all(|r| r.error.is_none() && r.valid_loss.is_some_and(f64::is_finite)), "{type_name}: {one:?}");
        assert_eq!(strip(one), strip(two), "{type_name}");
        assert_eq!(one.best, two.best, "{type_name}");
        assert_eq!(fits[0].1, fits[1].1, "{type_name}");
        assert_eq!(weights(&fits[0].0), weights(&fits[1].0), "{type_name}");
        assert_eq!(fits[0].1.unique_id.len(), 3 * 4, "{type_name}: every series forecast");
        assert!(fits[0].1.columns[0].1.iter().all(|v| v.is_finite()), "{type_name}");
        // The winning trial is the plain model's fit on the whole panel with its configuration and the Auto model's
        // nSeries (scored on the last h points), and the refit that model's fit on all the data. (The space's fixed
        // entries, valCheckSteps and windowsBatchSize, are in the trial's configuration.)
        let best = one.best_row().unwrap();
        let mut options = best.config.clone();
        options.extend([("type".into(), json!(auto_kind(type_name).name())), ("h".into(), json!(4)), ("nSeries".into(), json!(3)), ("alias".into(), json!(type_name))]);
        let plain = || engine(vec![spec_of(Value::Object(options.clone()))], 1);
        let scored = plain().fit(&panel, &FitOptions { validation_size: 4, ..FitOptions::default() }, &mut keep_going).unwrap();
        assert_eq!(scored.models[0].val_loss.last().map(|l| l.to_bits()), best.valid_loss.map(f64::to_bits), "{type_name}");
        let mut refit = plain();
        refit.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
        assert_eq!(weights(&refit), weights(&fits[0].0), "{type_name}");
        assert_eq!(refit.predict(None, None, &[], None).unwrap(), fits[0].1, "{type_name}");
    }
}

fn auto_kind(type_name: &str) -> ModelKind {
    AutoSpec::kind_of(type_name).unwrap()
}

#[test]
fn data_with_another_series_count_is_refused_before_any_trial() {
    let mut e = engine(vec![small_multivariate("AutoTSMixer", 3)], 1);
    let mut events = 0;
    let mut count = |_: &ProgressEvent| {
        events += 1;
        Control::Continue
    };
    let error = e.fit(&sine_panel(2, 48), &FitOptions::default(), &mut count).unwrap_err().to_string();
    assert!(error.contains("model 'AutoTSMixer' is multivariate with nSeries = 3, but the data has 2 series"), "{error}");
    assert_eq!(events, 0, "no trial trained");
    assert!(e.search_report(0).is_none());
}
