//! Tests of the training windows and the sampler: the windows kept per series (step, padding, unequal lengths),
//! the series per step, the windows per step and the replacement rule.

use serde_json::json;

use super::*;
use crate::data::Panel;
use crate::engine::tests::spec_of;

/// Series of the given lengths, values `100 s + t`.
fn panel(lengths: &[usize]) -> Panel {
    Panel::from_lengths(lengths, |s, t| (100 * s + t) as f64).unwrap()
}

fn spec(extra: serde_json::Value) -> NeuralSpec {
    let mut options = json!({ "type": "MLP", "h": 2, "inputSize": 4, "hiddenSize": 8, "numLayers": 1 });
    options.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    spec_of(options).neural().unwrap().clone()
}

/// Every kept window of `series`, in order.
fn windows_of(index: &TrainingWindows, series: usize) -> Vec<isize> {
    (0..index.counts[series]).map(|k| index.window(series, k).start).collect()
}

#[test]
fn windows_need_an_observed_input_and_target() {
    let index = TrainingWindows::new(&panel(&[10, 10]), &spec(json!({})), 0).unwrap();
    // Inputs 4, at least one of 10 rows a target: starts 0..=5.
    assert_eq!(windows_of(&index, 0), (0..=5).collect::<Vec<_>>());
    assert_eq!(index.observed_targets(&Window { series: 0, start: 5 }), 1);
    assert_eq!(index.observed_targets(&Window { series: 0, start: 0 }), 2);
    // The validation part is not trained on.
    let held = TrainingWindows::new(&panel(&[10, 10]), &spec(json!({})), 3).unwrap();
    assert_eq!(windows_of(&held, 1), (0..=2).collect::<Vec<_>>());
}

#[test]
fn step_size_spaces_the_windows_from_the_padded_start() {
    let index = TrainingWindows::new(&panel(&[10, 8]), &spec(json!({ "stepSize": 3 })), 0).unwrap();
    assert_eq!(windows_of(&index, 0), vec![0, 3]);
    // The shorter series is padded on the left by 2: grid points 0, 3 are its starts -2, 1.
    assert_eq!(windows_of(&index, 1), vec![-2, 1]);
}

#[test]
fn a_shorter_series_trains_on_left_padded_windows() {
    let index = TrainingWindows::new(&panel(&[12, 6]), &spec(json!({})), 0).unwrap();
    // Its first window has one observed input (start -3), its last one observed target (start 1).
    assert_eq!(windows_of(&index, 1), (-3..=1).collect::<Vec<_>>());
}

#[test]
fn start_padding_trains_the_first_points_and_a_too_short_series_names_it() {
    let err = TrainingWindows::new(&panel(&[4, 4]), &spec(json!({})), 0).err().unwrap().to_string();
    assert!(err.contains("startPaddingEnabled") && err.contains("s0"), "{err}");
    let index = TrainingWindows::new(&panel(&[4, 4]), &spec(json!({ "startPaddingEnabled": true })), 0).unwrap();
    // Three zeros before the series: windows from -3 (one observed input) to -1 (one observed target).
    assert_eq!(windows_of(&index, 0), (-3..=-1).collect::<Vec<_>>());
    let padded = TrainingWindows::new(&panel(&[10]), &spec(json!({ "startPaddingEnabled": true })), 0).unwrap();
    assert_eq!(windows_of(&padded, 0), (-3..=5).collect::<Vec<_>>());
}

#[test]
fn each_step_draws_its_windows_among_one_batch_of_series_and_each_epoch_covers_every_series() {
    let data = panel(&[30; 10]);
    let index = TrainingWindows::new(&data, &spec(json!({})), 0).unwrap();
    let mut sampler = WindowSampler::new(&index, 3, 5, 1, 7);
    assert_eq!(sampler.steps_per_epoch(), 4);
    let mut out = Vec::new();
    for _epoch in 0..3 {
        let mut seen = Vec::new();
        for step in 0..4 {
            sampler.draw(&mut out);
            assert_eq!(out.len(), 5);
            let batch = &sampler.order[step * 3..(step * 3 + 3).min(10)];
            assert!(out.iter().all(|w| batch.contains(&w.series)), "step {step}: {out:?} outside {batch:?}");
            // 26 windows a series, 5 drawn: distinct.
            assert!(out.iter().enumerate().all(|(i, w)| !out[..i].contains(w)), "{out:?}");
            seen.extend_from_slice(batch);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }
}

#[test]
fn windows_are_drawn_with_replacement_only_when_the_batch_has_too_few() {
    // One series with 6 windows, 20 drawn: with replacement, every window among the kept ones.
    let index = TrainingWindows::new(&panel(&[10]), &spec(json!({})), 0).unwrap();
    let mut sampler = WindowSampler::new(&index, 32, 20, 1, 1);
    let mut out = Vec::new();
    sampler.draw(&mut out);
    assert_eq!(out.len(), 20);
    assert!(out.iter().all(|w| (0..=5).contains(&w.start)));
    let mut starts: Vec<isize> = out.iter().map(|w| w.start).collect();
    starts.sort_unstable();
    starts.dedup();
    assert!(starts.len() < 20);
    // Exactly as many as the batch has: each window once.
    let mut all = WindowSampler::new(&index, 32, 6, 1, 1);
    all.draw(&mut out);
    let mut starts: Vec<isize> = out.iter().map(|w| w.start).collect();
    starts.sort_unstable();
    assert_eq!(starts, (0..=5).collect::<Vec<_>>());
}

#[test]
fn the_draws_depend_on_the_seed_alone() {
    let data = panel(&[40; 6]);
    let index = TrainingWindows::new(&data, &spec(json!({})), 0).unwrap();
    let draws = |seed| {
        let mut sampler = WindowSampler::new(&index, 4, 8, 1, seed);
        let mut out = Vec::new();
        (0..5).flat_map(|_| {
            sampler.draw(&mut out);
            out.clone()
        }).collect::<Vec<_>>()
    };
    assert_eq!(draws(3), draws(3));
    assert_ne!(draws(3), draws(4));
}

#[test]
fn a_multivariate_step_cuts_every_series_at_the_same_time() {
    // Four aligned series of 30 rows: 26 windows each; a multivariate window is the four series at one start.
    let index = TrainingWindows::new(&panel(&[30; 4]), &spec(json!({})), 0).unwrap();
    let mut sampler = WindowSampler::new(&index, 2, 5, 4, 7);
    assert_eq!(sampler.steps_per_epoch(), 1);
    let mut out = Vec::new();
    sampler.draw(&mut out);
    assert_eq!(out.len(), 5 * 4);
    for group in out.chunks(4) {
        assert_eq!(group.iter().map(|w| w.series).collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert!(group.iter().all(|w| w.start == group[0].start), "{group:?}");
    }
    let starts: Vec<isize> = out.chunks(4).map(|g| g[0].start).collect();
    assert!(starts.iter().enumerate().all(|(i, s)| !starts[..i].contains(s)), "{starts:?}");
}
