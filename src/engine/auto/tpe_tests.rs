//! TPE sampler tests: Optuna's bandwidth rule and weights, reproducible draws that stay in their domains, and a
//! search of a synthetic objective that concentrates on its good region.

use serde_json::json;

use super::*;

fn space(object: Value) -> SearchSpace {
    let keys: Vec<String> = object.as_object().unwrap().keys().cloned().collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    SearchSpace::parse(object.as_object().unwrap(), "config", &keys).unwrap()
}

#[test]
fn bandwidths_and_weights_follow_optuna() {
    // Optuna 3.3+: sorted mus 1, 2, 6 in [0, 10]: gaps max(1, 1) -> replaced by the inner gap 1, max(1, 4) = 4,
    // and the last by its inner gap 4; clipped below by 10 / min(100, 1 + 4) = 2.
    assert_eq!(bandwidths(&[6.0, 1.0, 2.0], 0.0, 10.0), vec![4.0, 2.0, 4.0]);
    assert_eq!(bandwidths(&[5.0], 0.0, 10.0), vec![5.0]);
    assert_eq!(default_weights(3), vec![1.0; 3]);
    let w = default_weights(30);
    assert_eq!(w.len(), 30);
    assert!((w[0] - 1.0 / 30.0).abs() < 1e-12 && (w[4] - 1.0).abs() < 1e-12 && w[5..].iter().all(|&x| x == 1.0), "{w:?}");
    assert_eq!(history_end(0), 0);
    assert_eq!(history_end(7), 4);
    assert_eq!(history_end(8), 8);
}

/// Runs `n` trials of a TPE search of `objective` trial by trial (each learning from the trials before its batch).
fn search(space: &SearchSpace, seed: u64, n: usize, objective: impl Fn(&Map<String, Value>) -> f64) -> Vec<(Map<String, Value>, f64)> {
    let mut trials: Vec<(Map<String, Value>, f64)> = Vec::new();
    for t in 0..n {
        let history: Vec<(&Map<String, Value>, f64)> = trials[..history_end(t)].iter().map(|(c, l)| (c, *l)).collect();
        let config = sample(space, seed, t, &history);
        let loss = objective(&config);
        trials.push((config, loss));
    }
    trials
}

#[test]
fn tpe_concentrates_on_the_good_region_and_is_reproducible() {
    let space = space(json!({
        "x": { "sample": "uniform", "low": -10, "high": 10 },
        "lr": { "sample": "loguniform", "low": 1e-5, "high": 1e-1 },
        "k": { "sample": "randint", "low": 1, "high": 20 },
        "steps": { "sample": "quniform", "low": 100, "high": 1000, "q": 100 },
        "c": { "sample": "choice", "values": ["a", "b", "c", "d"] },
        "fixed": 3,
    }));
    let objective = |c: &Map<String, Value>| {
        let x = c["x"].as_f64().unwrap();
        let lr = c["lr"].as_f64().unwrap();
        let k = c["k"].as_i64().unwrap() as f64;
        (x - 3.0).powi(2) + (lr.log10() + 2.0).powi(2) + 0.1 * (k - 15.0).abs() + if c["c"] == json!("c") { 0.0 } else { 5.0 }
    };
    let tpe = search(&space, 5, 80, objective);
    assert_eq!(tpe, search(&space, 5, 80, objective), "the same seed gives the same trials");
    assert_ne!(tpe, search(&space, 6, 80, objective));
    // The first 10 are the random search's draws.
    for (t, (config, _)) in tpe.iter().enumerate().take(STARTUP_TRIALS) {
        assert_eq!(config, &space.sample(5, t));
    }
    for (config, _) in &tpe {
        let k = config["k"].as_i64().unwrap();
        let steps = config["steps"].as_i64().unwrap();
        assert!((1..20).contains(&k) && (100..=1000).contains(&steps) && steps % 100 == 0, "{config:?}");
        assert!((1e-5..=1e-1).contains(&config["lr"].as_f64().unwrap()) && config["fixed"] == json!(3), "{config:?}");
    }
    let random: Vec<f64> = (0..80).map(|t| objective(&space.sample(5, t))).collect();
    let late = |losses: &[f64]| losses[40..].iter().sum::<f64>() / 40.0;
    let tpe_losses: Vec<f64> = tpe.iter().map(|(_, l)| *l).collect();
    assert!(late(&tpe_losses) < 0.5 * late(&random), "TPE {} vs random {}", late(&tpe_losses), late(&random));
    let best_choice = tpe[40..].iter().filter(|(c, _)| c["c"] == json!("c")).count();
    assert!(best_choice > 25, "{best_choice} of the last 40 trials chose the best category");
    let best = |losses: &[f64]| losses.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(best(&tpe_losses) < best(&random), "TPE best {} vs random best {}", best(&tpe_losses), best(&random));
}
