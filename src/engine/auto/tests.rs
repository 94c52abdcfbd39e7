//! Auto model tests: search spaces (parsing, errors naming the key, the seeded draw), NeuralForecast's default
//! spaces, and searches: the same trials, winner and forecasts on 1 and 2 threads, and a stopped search.

use serde_json::json;

use super::*;
use crate::engine::{FitReport, Forecast};
use crate::engine::tests::{engine, keep_going, sine_panel, spec_of, weights};

pub(super) fn auto_error(options: serde_json::Value) -> String {
    ModelSpec::from_options(options.as_object().unwrap(), "models[0]").unwrap_err().to_string()
}

#[test]
fn bad_spaces_give_errors_that_name_the_key() {
    let cases = [
        (json!({ "fooBar": 1 }), "models[0].config.fooBar: unknown option 'fooBar'"),
        (json!({ "learningRate": { "sample": "choice", "values": [] } }), "models[0].config.learningRate: choice has no values"),
        (json!({ "learningRate": { "sample": "uniform", "low": 0.5, "high": 0.1 } }), "models[0].config.learningRate: uniform has low 0.5 > high 0.1"),
        (json!({ "learningRate": { "sample": "loguniform", "low": 0, "high": 0.1 } }), "models[0].config.learningRate: loguniform bounds must be greater than 0"),
        (json!({ "maxSteps": { "sample": "randint", "low": 5, "high": 5 } }), "models[0].config.maxSteps: randint has low 5 >= high 5"),
        (json!({ "maxSteps": { "sample": "normal", "low": 5, "high": 9 } }), "models[0].config.maxSteps: unknown distribution 'normal'"),
        (json!({ "h": 4 }), "models[0].config.h: unknown option 'h'"),
    ];
    for (config, expected) in cases {
        let message = auto_error(json!({ "type": "AutoMLP", "h": 6, "config": config }));
        assert!(message.contains(expected), "{message}\nexpected: {expected}");
    }
    let message = auto_error(json!({ "type": "AutoMLP", "h": 6, "searchAlg": "grid" }));
    assert!(message.contains("searchAlg: 'grid' is not available"), "{message}");
    let message = auto_error(json!({ "type": "AutoMLP", "h": 6, "numSample": 3 }));
    assert!(message.contains("unknown option 'numSample'"), "{message}");
}

#[test]
fn draws_depend_on_the_seed_and_trial_alone_and_stay_in_their_domains() {
    let space = json!({
        "a": { "sample": "uniform", "low": -1, "high": 2 },
        "b": { "sample": "loguniform", "low": 1e-4, "high": 1e-1 },
        "c": { "sample": "randint", "low": 1, "high": 4 },
        "d": { "sample": "quniform", "low": 500, "high": 1500, "q": 100 },
        "e": { "sample": "choice", "values": [[1, 2], "x", null] },
        "f": 7,
    });
    let keys = ["a", "b", "c", "d", "e", "f"];
    let space = SearchSpace::parse(space.as_object().unwrap(), "config", &keys).unwrap();
    let mut seen_c = [false; 5];
    for trial in 0..200 {
        let config = space.sample(3, trial);
        assert_eq!(config, space.sample(3, trial));
        let a = config["a"].as_f64().unwrap();
        let b = config["b"].as_f64().unwrap();
        let c = config["c"].as_i64().unwrap();
        let d = config["d"].as_i64().unwrap();
        assert!((-1.0..=2.0).contains(&a) && (1e-4..=1e-1).contains(&b) && (1..4).contains(&c), "{config:?}");
        assert!((500..=1500).contains(&d) && d % 100 == 0, "{config:?}");
        assert!([json!([1, 2]), json!("x"), json!(null)].contains(&config["e"]));
        assert_eq!(config["f"], json!(7));
        seen_c[c as usize] = true;
    }
    assert_eq!(seen_c, [false, true, true, true, false], "randint excludes its upper bound");
    assert_ne!(space.sample(3, 0), space.sample(3, 1));
    assert_ne!(space.sample(3, 0), space.sample(4, 0));
    // The space reads back from what it writes.
    let written = space.to_value();
    assert_eq!(SearchSpace::parse(written.as_object().unwrap(), "config", &keys).unwrap(), space);
}

#[test]
fn every_default_space_gives_valid_models() {
    for type_name in AutoSpec::type_names() {
        let mut options = json!({ "type": type_name, "h": 12 });
        if ModelSpec::accepted_keys(AutoSpec::kind_of(&type_name).unwrap()).contains(&"nSeries") {
            options["nSeries"] = json!(7);
        }
        let spec = spec_of(options);
        let auto = spec.search.as_ref().unwrap();
        assert_eq!(spec.alias, type_name);
        let mut valid = 0;
        for trial in 0..20 {
            // NeuralForecast's spaces hold a few configurations over our 4 GB training limit: those trials fail alone.
            match auto.trial(trial, &spec.alias) {
                Ok((config, trial_spec)) => {
                    assert_eq!(trial_spec.kind(), auto.kind);
                    assert_eq!(config.len(), auto.space.entries.len());
                    valid += 1;
                }
                Err(e) => assert!(e.to_string().contains("(at most 4096 MB)"), "{type_name}: {e}"),
            }
        }
        assert!(valid >= 10, "{type_name}: {valid} valid trials of 20");
        let back = spec_of(serde_json::Value::Object(auto.to_options(&spec.alias)));
        assert_eq!(back.search, spec.search, "{type_name}");
    }
}

fn small_auto(samples: usize) -> ModelSpec {
    spec_of(json!({
        "type": "AutoMLP", "h": 6, "numSamples": samples, "seed": 11,
        "config": {
            "inputSize": { "sample": "choice", "values": [6, 12] },
            "hiddenSize": { "sample": "choice", "values": [8, 16] },
            "numLayers": 1,
            "learningRate": { "sample": "loguniform", "low": 1e-3, "high": 1e-1 },
            "maxSteps": { "sample": "quniform", "low": 10, "high": 30, "q": 10 },
            "valCheckSteps": 10,
            "windowsBatchSize": 16,
            "randomSeed": { "sample": "randint", "low": 1, "high": 20 },
        },
    }))
}

#[test]
fn a_search_gives_the_same_trials_winner_and_forecasts_on_1_and_2_threads() {
    let panel = sine_panel(3, 60);
    let fits: Vec<(Engine, Forecast)> = [1, 2]
        .into_iter()
        .map(|threads| {
            let mut e = engine(vec![small_auto(5)], threads);
            let report = e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
            assert!(!report.aborted);
            let forecast = e.predict(None, None, &[], None).unwrap();
            (e, forecast)
        })
        .collect();
    let (one, two) = (&fits[0], &fits[1]);
    let search = one.0.search_report(0).unwrap();
    assert_eq!(search.rows.len(), 5);
    assert!(search.rows.iter().all(|r| r.error.is_none() && r.valid_loss.is_some_and(f64::is_finite)), "{search:?}");
    let best = search.best_row().unwrap();
    assert!(search.rows.iter().all(|r| r.valid_loss.unwrap() >= best.valid_loss.unwrap()));
    let strip = |report: &SearchReport| report.rows.iter().map(|r| (r.trial, r.config.clone(), r.valid_loss.map(f64::to_bits), r.steps)).collect::<Vec<_>>();
    assert_eq!(strip(search), strip(two.0.search_report(0).unwrap()));
    assert_eq!(search.best, two.0.search_report(0).unwrap().best);
    assert_eq!(one.1, two.1);
    assert_eq!(weights(&one.0), weights(&two.0));
    // The winner, refitted on all the data, is what the forecaster now holds and stores.
    let winner = one.0.config().models[0].to_options();
    assert_eq!(winner["type"], json!("MLP"));
    assert_eq!(winner["alias"], json!("AutoMLP"));
    for (key, value) in &best.config {
        assert_eq!(winner[key].as_f64(), value.as_f64(), "{key}");
    }
}

#[test]
fn a_stopped_search_keeps_its_finished_trials_and_forecasts_with_the_best() {
    let panel = sine_panel(2, 60);
    let mut e = engine(vec![small_auto(40)], 1);
    let mut events = 0;
    let mut stop_later = |_: &ProgressEvent| {
        events += 1;
        if events >= 70 {
            Control::Stop
        } else {
            Control::Continue
        }
    };
    let report = e.fit(&panel, &FitOptions::default(), &mut stop_later).unwrap();
    assert!(report.aborted);
    // One more step may run in each trial under way when the callback says stop, none after.
    assert_eq!(events, 70);
    let search = e.search_report(0).unwrap();
    assert!(search.stopped && !search.rows.is_empty() && search.rows.len() < 40, "{} trials", search.rows.len());
    assert!(e.is_fitted());
    let forecast = e.predict(None, None, &[], None).unwrap();
    assert!(forecast.columns[0].1.iter().all(|v| v.is_finite()));
    // The forecaster is the best finished trial: that configuration fitted alone as the search fits it (scored on
    // the last h points) has the same weights and forecasts.
    let best = search.best_row().unwrap();
    let auto = small_auto(40);
    let (_, spec) = auto.search.as_ref().unwrap().configured(best.trial, best.config.clone(), &auto.alias).unwrap();
    let mut alone = engine(vec![spec], 1);
    alone.fit(&panel, &FitOptions { validation_size: 6, ..FitOptions::default() }, &mut keep_going).unwrap();
    assert_eq!(weights(&e), weights(&alone));
    assert_eq!(forecast, alone.predict(None, None, &[], None).unwrap());
}

#[test]
fn no_trial_starts_after_the_time_budget() {
    let panel = sine_panel(2, 60);
    let mut options = small_auto(30).search.unwrap().to_options("AutoMLP");
    options.insert("timeBudget".into(), json!(1e-9));
    let spec = spec_of(serde_json::Value::Object(options));
    let mut e = engine(vec![spec.clone()], 1);
    let error = e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap_err().to_string();
    assert!(error.contains("no trial of the search finished within the time budget"), "{error}");
    assert_eq!(e.search_report(0).unwrap().skipped, 30);
    // The untrained network the search did not hold is built again as it was: a later fit starts from it.
    assert_eq!(weights(&e), weights(&engine(vec![spec], 1)));
    assert!(!weights(&e).is_empty());
}

#[test]
fn the_time_budget_stops_a_trial_under_way_within_a_step() {
    let mut options = small_auto(2).search.unwrap().to_options("AutoMLP");
    options["config"]["maxSteps"] = json!(1_000_000);
    options.insert("timeBudget".into(), json!(0.5));
    let mut e = engine(vec![spec_of(Value::Object(options))], 1);
    let error = e.fit(&sine_panel(2, 60), &FitOptions::default(), &mut keep_going).unwrap_err().to_string();
    // A stopped trial cannot win: its run was shorter than its configuration's.
    assert!(error.contains("no trial of the search finished within the time budget"), "{error}");
    let search = e.search_report(0).unwrap();
    // On one thread the first trial uses the whole budget and the second never starts.
    assert_eq!((search.rows.len(), search.skipped), (1, 1), "{search:?}");
    let row = &search.rows[0];
    assert!(row.stopped_by_budget && !row.pruned && row.error.is_none() && row.steps < 1_000_000, "{row:?}");
    // Its loss is the last validation it reached (every 10 steps), if any.
    assert_eq!(row.valid_loss.is_some(), row.steps >= 10, "{row:?}");
}

fn fitted_search(change: impl Fn(&mut Map<String, Value>)) -> (Engine, FitReport) {
    let mut options = small_auto(2).search.unwrap().to_options("AutoMLP");
    change(&mut options);
    let mut e = engine(vec![spec_of(Value::Object(options))], 1);
    let report = e.fit(&sine_panel(2, 60), &FitOptions::default(), &mut keep_going).unwrap();
    (e, report)
}

#[test]
fn trials_are_scored_on_val_size_points_and_refit_with_val_keeps_them_out() {
    let (default, report) = fitted_search(|_| {});
    assert!(report.models[0].val_loss.is_empty(), "the refit trains on all the data");
    let (held_out, report) = fitted_search(|o| {
        o.insert("refitWithVal".into(), json!(true));
    });
    assert!(!report.models[0].val_loss.is_empty(), "refitWithVal validates the refit on the held-out points");
    assert_ne!(weights(&default), weights(&held_out));
    let losses = |e: &Engine| e.search_report(0).unwrap().rows.iter().map(|r| r.valid_loss.unwrap().to_bits()).collect::<Vec<_>>();
    let (longer, _) = fitted_search(|o| {
        o.insert("valSize".into(), json!(12));
    });
    assert_ne!(losses(&default), losses(&longer), "valSize 12 scores other points than the default h = 6");
}

#[test]
fn a_training_paused_and_resumed_ends_with_the_weights_of_one_that_never_paused() {
    let panel = sine_panel(3, 60);
    let spec = || spec_of(json!({ "type": "MLP", "h": 6, "inputSize": 12, "hiddenSize": 8, "numLayers": 1, "maxSteps": 25, "valCheckSteps": 10, "windowsBatchSize": 16 }));
    let options = FitOptions { validation_size: 6, ..FitOptions::default() };
    let mut whole = engine(vec![spec()], 1);
    let whole_report = whole.fit(&panel, &options, &mut keep_going).unwrap();
    let mut rungs = engine(vec![spec()], 2);
    let mut last = None;
    for (until, steps, paused) in [(7, 7, true), (20, 20, true), (usize::MAX, 25, false)] {
        let report = rungs.fit(&panel, &FitOptions { train_until: Some(until), ..options.clone() }, &mut keep_going).unwrap();
        assert_eq!((report.models[0].steps, rungs.paused[0].is_some()), (steps, paused), "until {until}");
        last = Some(report);
    }
    assert_eq!(weights(&whole), weights(&rungs));
    assert_eq!(rungs.predict(None, None, &[], None).unwrap(), whole.predict(None, None, &[], None).unwrap());
    // The pause at step 7 was scored there, besides the checks at 10 and 20, which match the whole run's.
    let (whole_losses, rung_losses) = (&whole_report.models[0].val_loss, &last.unwrap().models[0].val_loss);
    assert_eq!(whole_losses.len(), 2);
    assert_eq!(rung_losses.len(), 3);
    assert_eq!(&rung_losses[1..], &whole_losses[..]);
    assert_ne!(rung_losses[0].to_bits(), whole_losses[0].to_bits(), "step 7 is not step 10");
}

fn halving_auto(samples: usize, scheduler: Option<(usize, usize)>) -> ModelSpec {
    let mut options = small_auto(samples).search.unwrap().to_options("AutoMLP");
    if let Some((grace_period, reduction_factor)) = scheduler {
        options.insert("scheduler".into(), json!("successiveHalving"));
        options.insert("gracePeriod".into(), json!(grace_period));
        options.insert("reductionFactor".into(), json!(reduction_factor));
    }
    spec_of(Value::Object(options))
}

#[test]
fn successive_halving_prunes_at_rungs_the_same_way_on_1_and_2_threads() {
    let panel = sine_panel(3, 60);
    let fit = |spec: ModelSpec, threads: usize| {
        let mut e = engine(vec![spec], threads);
        assert!(!e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap().aborted);
        let forecast = e.predict(None, None, &[], None).unwrap();
        (e, forecast)
    };
    let (one, one_forecast) = fit(halving_auto(8, Some((5, 2))), 1);
    let (two, two_forecast) = fit(halving_auto(8, Some((5, 2))), 2);
    let (fifo, _) = fit(halving_auto(8, None), 2);
    let (search, fifo_search) = (one.search_report(0).unwrap(), fifo.search_report(0).unwrap());
    let strip = |report: &SearchReport| report.rows.iter().map(|r| (r.trial, r.config.clone(), r.valid_loss.map(f64::to_bits), r.steps, r.pruned)).collect::<Vec<_>>();
    assert_eq!(strip(search), strip(two.search_report(0).unwrap()));
    assert_eq!(search.best, two.search_report(0).unwrap().best);
    assert_eq!(one_forecast, two_forecast);
    assert_eq!(weights(&one), weights(&two));
    assert_eq!(search.rows.len(), 8);
    // Rung 0 (5 steps) keeps 4 of 8, rung 1 (10 steps) 2 of the trials still running there, and so on.
    let pruned_at = |steps: usize| search.rows.iter().filter(|r| r.pruned && r.steps == steps).count();
    assert_eq!(pruned_at(5), 4, "{search:?}");
    assert!(search.rows.iter().all(|r| !r.pruned || [5, 10, 20].contains(&r.steps)), "{search:?}");
    let total = |report: &SearchReport| report.rows.iter().map(|r| r.steps).sum::<usize>();
    assert!(total(search) < total(fifo_search), "{} steps with pruning, {} without", total(search), total(fifo_search));
    assert!(fifo_search.rows.iter().all(|r| !r.pruned));
    for (row, fifo_row) in search.rows.iter().zip(&fifo_search.rows) {
        if !row.pruned {
            // A trial that ran to its end is the one the search without pruning trained, to the bit.
            assert_eq!((row.valid_loss.map(f64::to_bits), row.steps), (fifo_row.valid_loss.map(f64::to_bits), fifo_row.steps), "trial {}", row.trial);
        }
    }
    let best = search.best_row().unwrap();
    assert!(search.rows.iter().all(|r| r.valid_loss.unwrap() >= best.valid_loss.unwrap()));
}

#[test]
fn scheduler_options_are_checked_and_read_back() {
    let message = auto_error(json!({ "type": "AutoMLP", "h": 6, "gracePeriod": 10 }));
    assert!(message.contains("models[0].scheduler: gracePeriod and reductionFactor need scheduler: 'successiveHalving'"), "{message}");
    let message = auto_error(json!({ "type": "AutoMLP", "h": 6, "scheduler": "asha" }));
    assert!(message.contains("models[0].scheduler: 'asha' is not a scheduler"), "{message}");
    let message = auto_error(json!({ "type": "AutoMLP", "h": 6, "scheduler": "successiveHalving", "reductionFactor": 1 }));
    assert!(message.contains("reductionFactor"), "{message}");
    let spec = spec_of(json!({ "type": "AutoMLP", "h": 6, "scheduler": "successiveHalving" }));
    let auto = spec.search.as_ref().unwrap();
    assert_eq!(auto.scheduler, Some(Halving { grace_period: 100, reduction_factor: 4 }));
    assert_eq!(spec_of(Value::Object(auto.to_options("AutoMLP"))).search, spec.search);
}

#[test]
fn a_tpe_search_gives_the_same_trials_winner_and_forecasts_on_1_and_2_threads() {
    let panel = sine_panel(3, 60);
    let mut options = small_auto(14).search.unwrap().to_options("AutoMLP");
    options.insert("searchAlg".into(), json!("tpe"));
    let spec = spec_of(Value::Object(options));
    assert_eq!(spec.search.as_ref().unwrap().search_alg, SearchAlg::Tpe);
    assert_eq!(spec_of(Value::Object(spec.search.as_ref().unwrap().to_options("AutoMLP"))).search, spec.search);
    let fits: Vec<(Engine, Forecast)> = [1, 2]
        .into_iter()
        .map(|threads| {
            let mut e = engine(vec![spec.clone()], threads);
            assert!(!e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap().aborted);
            let forecast = e.predict(None, None, &[], None).unwrap();
            (e, forecast)
        })
        .collect();
    let strip = |report: &SearchReport| report.rows.iter().map(|r| (r.trial, r.config.clone(), r.valid_loss.map(f64::to_bits), r.steps)).collect::<Vec<_>>();
    let (one, two) = (fits[0].0.search_report(0).unwrap(), fits[1].0.search_report(0).unwrap());
    assert_eq!(one.rows.len(), 14);
    assert_eq!(strip(one), strip(two));
    assert_eq!(one.best, two.best);
    assert_eq!(fits[0].1, fits[1].1);
    // The 10 startup trials are random search's; the later ones come from the estimators.
    let auto = spec.search.as_ref().unwrap();
    for row in &one.rows[..10] {
        assert_eq!(row.config, auto.space.sample(auto.seed, row.trial));
    }
}
