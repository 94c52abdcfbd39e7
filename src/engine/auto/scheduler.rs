//! How a search runs its trials: all at once to their last step (Ray Tune's FIFO scheduler, the default), or by
//! synchronous successive halving (`scheduler: 'successiveHalving'`, with Ray Tune's ASHA parameters
//! `gracePeriod` and `reductionFactor`).
//!
//! Successive halving trains every trial to rung 0 at `gracePeriod` steps, ranks the trials paused there by their
//! validation loss (ties: the lower trial number), lets the best `ceil(n / reductionFactor)` continue to the next
//! rung, `gracePeriod · reductionFactor^k` steps, and prunes the others; a trial whose run ends before a rung
//! finishes there and is not ranked. Each rung waits for all its trials (Ray's ASHA decides as results arrive,
//! which depends on timing), so the decisions, like everything else of a search, are the same on any thread
//! count. A continuing trial resumes its own training (weights, Adam moments, learning-rate schedule, window
//! draws), so it ends with the weights of a run that never paused.
//!
//! A time budget stops the search: no trial starts after it, and a trial under way stops within a training step
//! (its row says so, with the last validation loss it reached; it cannot win). Which trials it reaches depends on
//! speed, so only a search without a budget is the same on any machine.
//!
//! Random search runs all its trials as one wave. TPE runs waves of trials whose configurations need no result of
//! each other (its random startup trials, then [`tpe::BATCH`] at a time); each wave is scheduled as above, so
//! successive halving ranks the trials of a wave.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;
use serde_json::{Map, Value};

use super::{better, tpe, AutoSpec, SearchAlg, SearchReport, TrialRow};
use crate::data::Panel;
use crate::engine::spec::{EngineConfig, ModelSpec};
use crate::engine::{Control, Engine, EngineError, FitOptions, ProgressEvent, Trained};
use crate::models::ModelOptions;

/// Synchronous successive halving's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Halving {
    /// Steps of the first rung (Ray's `grace_period`, here in training steps: default 100, NeuralForecast's
    /// `val_check_steps`, at which Ray's default of 1 reported iteration falls).
    pub grace_period: usize,
    /// Rungs grow, and the trials that continue shrink, by this factor (Ray's `reduction_factor`, default 4).
    pub reduction_factor: usize,
}

impl Halving {
    /// Reads `scheduler` (`'fifo'`, the default, or `'successiveHalving'`) and its parameters from an Auto
    /// model's options; the parameters without successive halving are an error, as they would do nothing.
    pub fn from_options(o: &ModelOptions<'_>) -> Result<Option<Halving>, EngineError> {
        let grace_period = o.integer("gracePeriod", 1, usize::MAX >> 1)?;
        let reduction_factor = o.integer("reductionFactor", 2, 1 << 20)?;
        match o.string("scheduler")? {
            Some("successiveHalving") => {
                Ok(Some(Halving { grace_period: grace_period.unwrap_or(100), reduction_factor: reduction_factor.unwrap_or(4) }))
            }
            None | Some("fifo") => match (grace_period, reduction_factor) {
                (None, None) => Ok(None),
                _ => Err(EngineError::Type(format!(
                    "{}: gracePeriod and reductionFactor need scheduler: 'successiveHalving'",
                    o.field("scheduler")
                ))),
            },
            Some(other) => Err(EngineError::Range(format!("{}: '{other}' is not a scheduler; use 'fifo' or 'successiveHalving'", o.field("scheduler")))),
        }
    }

    /// The options [`Halving::from_options`] reads back.
    pub fn write(halving: Option<&Halving>, o: &mut Map<String, Value>) {
        if let Some(h) = halving {
            o.insert("scheduler".into(), "successiveHalving".into());
            o.insert("gracePeriod".into(), h.grace_period.into());
            o.insert("reductionFactor".into(), h.reduction_factor.into());
        }
    }

    /// The step of rung `k`: `gracePeriod · reductionFactor^k`.
    pub fn rung(&self, k: u32) -> usize {
        self.reduction_factor.saturating_pow(k).saturating_mul(self.grace_period)
    }

    /// How many of `ranked` trials paused at a rung continue: the best `1 / reductionFactor`, at least one.
    pub fn survivors(&self, ranked: usize) -> usize {
        ranked.div_ceil(self.reduction_factor)
    }
}

/// A trial of a search while it runs: its engine between rungs, and what its row will say.
struct Trial {
    number: usize,
    config: Map<String, Value>,
    spec: Option<ModelSpec>,
    engine: Option<Engine>,
    loss: Option<f64>,
    steps: usize,
    seconds: f64,
    error: Option<String>,
    stopped_by_budget: bool,
}

/// The trained network of the best finished trial so far, with its loss and number: all a search keeps of its
/// finished trials (for a stopped search to forecast with; the series states that trial's fit kept are the data's,
/// computed again then, and the refit after a search starts afresh). The best is the least in [`better`]'s order, a
/// total one, so it does not depend on the order the trials finish in.
struct Best(Mutex<Option<(f64, usize, Trained)>>);

impl Best {
    /// Keeps the network of `engine` if trial `number`'s `loss` beats the best so far; the rest of `engine`, and the
    /// network that loses, are freed.
    fn offer(&self, loss: f64, number: usize, mut engine: Engine) {
        let mut best = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let beats = best.as_ref().is_none_or(|(l, t, _)| better((loss, number), (*l, *t)));
        if let (true, Some(network)) = (beats, engine.models.pop()) {
            *best = Some((loss, number, network));
        }
    }
}

/// What became of a trial in a rung.
enum Outcome {
    /// It reached the rung's step (or the end of its run, or failed): its row is final unless it is paused.
    Ran { paused: bool },
    /// The time budget had run out or the search was stopped before it started this rung.
    NotRun,
}

impl Engine {
    /// The trials of model `index`'s search, run in parallel on the pool, rung after rung; with the best trial's
    /// network.
    #[allow(clippy::type_complexity)]
    pub(super) fn search(
        &self,
        index: usize,
        auto: &AutoSpec,
        panel: &Panel,
        options: &FitOptions,
        progress: &mut (dyn FnMut(&ProgressEvent) -> Control + Send),
    ) -> Result<(SearchReport, Option<(f64, usize, Trained)>), EngineError> {
        let alias = &self.config.models[index].alias;
        let n = auto.num_samples;
        let started = Instant::now();
        let stop = AtomicBool::new(false);
        let over_budget = || auto.time_budget.is_some_and(|b| started.elapsed().as_secs_f64() >= b);
        let progress = Mutex::new(progress);
        let mut rows: Vec<TrialRow> = Vec::with_capacity(n);
        let best = Best(Mutex::new(None));
        let mut skipped = 0;
        let finish = |mut trial: Trial, pruned: bool, rows: &mut Vec<TrialRow>| {
            if let (Some(loss), Some(engine)) = (trial.loss, trial.engine.take()) {
                best.offer(loss, trial.number, engine);
            }
            let Trial { number, config, loss, steps, seconds, error, stopped_by_budget, .. } = trial;
            rows.push(TrialRow { trial: number, config, valid_loss: loss, steps, seconds, pruned, error, stopped_by_budget });
        };
        let mut wave_start = 0;
        while wave_start < n {
            // Trials that run together: those whose configurations need no result of each other.
            let wave_end = match auto.search_alg {
                SearchAlg::Random => n,
                SearchAlg::Tpe => {
                    (wave_start + 1..n).find(|&t| tpe::history_end(t) > wave_start && tpe::history_end(t) >= tpe::STARTUP_TRIALS).unwrap_or(n)
                }
            };
            // TPE's history is in trial order (its weights favour the recent trials).
            rows.sort_by_key(|row| row.trial);
            let mut running: Vec<Trial> = (wave_start..wave_end)
                .map(|t| {
                    let config = match auto.search_alg {
                        SearchAlg::Random => auto.space.sample(auto.seed, t),
                        SearchAlg::Tpe => {
                            let end = tpe::history_end(t);
                            let history: Vec<(&Map<String, Value>, f64)> =
                                rows.iter().filter(|r| r.trial < end).filter_map(|r| r.valid_loss.filter(|l| l.is_finite()).map(|l| (&r.config, l))).collect();
                            tpe::sample(&auto.space, auto.seed, t, &history)
                        }
                    };
                    let (spec, error) = match auto.configured(t, config.clone(), alias) {
                        Ok((_, spec)) => (Some(spec), None),
                        Err(e) => (None, Some(e.to_string())),
                    };
                    Trial { number: t, config, spec, engine: None, loss: None, steps: 0, seconds: 0.0, error, stopped_by_budget: false }
                })
                .collect();
            wave_start = wave_end;
            for rung in 0.. {
                let until = auto.scheduler.map(|h| h.rung(rung));
                let rung_options = FitOptions { train_until: until, ..options.clone() };
                let outcomes: Vec<(Trial, Outcome)> = self.threads.install(|| {
                    running
                        .into_par_iter()
                        .map(|mut trial| {
                            if trial.error.is_some() {
                                return (trial, Outcome::Ran { paused: false });
                            }
                            if stop.load(Ordering::Acquire) || over_budget() {
                                return (trial, Outcome::NotRun);
                            }
                            let trial_started = Instant::now();
                            let label: Arc<str> = format!("{alias} trial {}/{n}", trial.number + 1).into();
                            // The step and validation loss the trial last reached, and whether the budget stopped it.
                            let (mut reached, mut last_loss, mut budget_hit) = (trial.steps, trial.loss, false);
                            let mut on_step = |event: &ProgressEvent| {
                                if stop.load(Ordering::Acquire) {
                                    return Control::Stop;
                                }
                                let event = ProgressEvent { model: index, alias: label.clone(), ..event.clone() };
                                let control = (*progress.lock().unwrap_or_else(|p| p.into_inner()))(&event);
                                if control == Control::Stop {
                                    stop.store(true, Ordering::Release);
                                    return control;
                                }
                                reached = event.step;
                                last_loss = event.val_loss.or(last_loss);
                                // A trial at the end of its run (or rung) has nothing left to stop.
                                budget_hit = event.step < until.unwrap_or(usize::MAX).min(event.max_steps) && over_budget();
                                if budget_hit {
                                    Control::Stop
                                } else {
                                    Control::Continue
                                }
                            };
                            let engine = match trial.engine.take() {
                                Some(engine) => Ok(engine),
                                None => Engine::new(EngineConfig { models: vec![trial.spec.clone().expect("a trial without error has its spec")], ..self.config.clone() }),
                            };
                            let fitted = engine.and_then(|mut engine| engine.fit(panel, &rung_options, &mut on_step).map(|report| (engine, report)));
                            trial.seconds += trial_started.elapsed().as_secs_f64();
                            let outcome = match fitted {
                                Ok((_, report)) if report.aborted && budget_hit => {
                                    // Its weights are those of a shorter run than its configuration: its row keeps
                                    // the loss it reached, and it does not compete for the winner (no engine).
                                    (trial.steps, trial.loss, trial.stopped_by_budget) = (reached, last_loss, true);
                                    (trial, Outcome::Ran { paused: false })
                                }
                                Ok((engine, report)) if report.aborted => {
                                    // The engine is as it was before this rung: at the last rung's loss, if any.
                                    trial.engine = Some(engine);
                                    (trial, Outcome::NotRun)
                                }
                                Ok((engine, report)) => {
                                    let model = &report.models[0];
                                    trial.steps = model.steps;
                                    match model.val_loss.last() {
                                        Some(&loss) => trial.loss = Some(loss),
                                        None => trial.error = Some("no validation loss was computed".into()),
                                    }
                                    let paused = engine.paused.iter().any(Option::is_some) && trial.error.is_none();
                                    match trial.loss {
                                        // A finished trial's engine is freed now, unless it is the best so far,
                                        // rather than held until the rung's last trial ends.
                                        Some(loss) if !paused => best.offer(loss, trial.number, engine),
                                        _ => trial.engine = Some(engine),
                                    }
                                    (trial, Outcome::Ran { paused })
                                }
                                Err(error) => {
                                    trial.error = Some(error.to_string());
                                    (trial, Outcome::Ran { paused: false })
                                }
                            };
                            // Its training buffers (and its engine, unless kept) are freed: back to the system
                            // before the next trial sizes its own.
                            super::freed_memory::release();
                            outcome
                        })
                        .collect()
                });
                let mut paused = Vec::new();
                for (trial, outcome) in outcomes {
                    match outcome {
                        Outcome::Ran { paused: true } => paused.push(trial),
                        Outcome::Ran { paused: false } => finish(trial, false, &mut rows),
                        // A trial stopped between rungs keeps its last rung's loss; one that never ran has no row.
                        Outcome::NotRun if trial.loss.is_some() => finish(trial, false, &mut rows),
                        Outcome::NotRun => skipped += 1,
                    }
                }
                let Some(halving) = auto.scheduler.filter(|_| !paused.is_empty()) else { break };
                paused.sort_by(|a, b| {
                    let (a, b) = ((a.loss.unwrap_or(f64::NAN), a.number), (b.loss.unwrap_or(f64::NAN), b.number));
                    if better(a, b) {
                        std::cmp::Ordering::Less
                    } else {
                        std::cmp::Ordering::Greater
                    }
                });
                let pruned = paused.split_off(halving.survivors(paused.len()));
                pruned.into_iter().for_each(|trial| finish(trial, true, &mut rows));
                running = paused;
            }
        }
        let stopped = stop.load(Ordering::Acquire);
        let best = best.0.into_inner().unwrap_or_else(|p| p.into_inner());
        rows.sort_by_key(|row| row.trial);
        let best_row = best.as_ref().and_then(|(_, trial, _)| rows.iter().position(|r| r.trial == *trial));
        Ok((SearchReport { rows, best: best_row, stopped, skipped: if stopped { 0 } else { skipped } }, best))
    }
}
