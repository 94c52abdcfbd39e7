//! NeuralForecast's Auto models: a search over a model's configuration space (its default space or the user's),
//! each trial trained on the series without their last `valSize` points (default h) and scored by its validation
//! loss there (the model's `validLoss`, default its loss); the best configuration is then trained on all the data
//! (`refitWithVal: true` keeps the validation points out, as NeuralForecast's `refit_with_val`).
//!
//! Trials run in parallel on the forecaster's thread pool ([`scheduler`]: all to their end, or by successive
//! halving). A trial's configuration comes from `(seed, trial)` alone (random search) or from that and the results
//! of a fixed set of earlier trials ([`tpe`]), its training is bit-identical on any thread count, and the winner is
//! the lowest loss (the lowest trial number among equals), so the same seed gives the same trials, winner and
//! forecasts on 1 or 16 threads.
//!
//! A multivariate model's search (AutoTSMixer, …) takes the model's `nSeries` as its own option, fixed in every
//! trial, and each trial trains on the whole panel as the model's fit does (all series jointly).

mod defaults;
mod freed_memory;
mod scheduler;
mod space;
mod tpe;

use serde_json::{Map, Value};

pub use defaults::default_space;
pub use scheduler::Halving;
pub use space::SearchSpace;

use super::multivariate;
use super::spec::{ModelKind, ModelSpec};
use super::{Control, Engine, EngineError, FitOptions, ProgressEvent, Trained};
use crate::data::Panel;
use crate::models::ModelOptions;

/// The options of an Auto model, besides those of the model it searches.
const AUTO_KEYS: &[&str] =
    &["type", "alias", "h", "horizon", "numSamples", "config", "searchAlg", "seed", "randomSeed", "loss", "validLoss", "valSize", "refitWithVal", "timeBudget", "scheduler", "gracePeriod", "reductionFactor"];

/// Options a search space may not set: the Auto model's own.
const NOT_SEARCHED: &[&str] = &["type", "alias", "h", "horizon"];

/// A multivariate model's series count: an Auto model's own option, the same in every trial (the data's).
const N_SERIES: &str = "nSeries";

/// An Auto model's search.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoSpec {
    pub kind: ModelKind,
    pub space: SearchSpace,
    /// Options every trial shares: h, and the loss and validation loss when given.
    pub fixed: Map<String, Value>,
    pub num_samples: usize,
    pub search_alg: SearchAlg,
    pub seed: u64,
    /// Points held out of each series to score the trials (`None`: the fit's `validationSize`, or h).
    pub val_size: Option<usize>,
    pub refit_with_val: bool,
    /// Seconds after which no trial starts and trials under way stop within a step (`None`: no limit).
    pub time_budget: Option<f64>,
    /// Successive halving (`None`: every trial runs to its last step).
    pub scheduler: Option<Halving>,
}

impl AutoSpec {
    /// The model kind an Auto type name searches (`AutoNHITS` → NHITS), when it has a default space.
    pub fn kind_of(type_name: &str) -> Option<ModelKind> {
        let model = type_name.strip_prefix("Auto")?;
        ModelKind::parse(model).filter(|&kind| default_space(kind, 1).is_some())
    }

    /// Every Auto type name of this build.
    pub fn type_names() -> Vec<String> {
        ModelKind::ALL.iter().filter(|&&k| default_space(k, 1).is_some()).map(|k| format!("Auto{}", k.name())).collect()
    }

    /// Reads an Auto model of `kind` from its options: the model spec of its first trial (replaced by the winner
    /// at fit), with the search.
    pub fn model_spec(kind: ModelKind, options: &Map<String, Value>, path: &str) -> Result<ModelSpec, EngineError> {
        let o = ModelOptions::new(path, options);
        let multivariate = ModelSpec::accepted_keys(kind).contains(&N_SERIES);
        let own: &[&str] = if multivariate { &[N_SERIES] } else { &[] };
        o.check_keys(&[AUTO_KEYS, own])?;
        let h = match (o.size("h")?, o.size("horizon")?) {
            (Some(_), Some(_)) => return Err(EngineError::Type(format!("{path}: give h or horizon, not both"))),
            (Some(h), None) | (None, Some(h)) => h,
            (None, None) => return Err(EngineError::Type(format!("{} is missing: the forecast horizon", o.field("h")))),
        };
        let num_samples = o.integer("numSamples", 1, 100_000)?.unwrap_or(10);
        let search_alg = match o.string("searchAlg")? {
            None | Some("random") => SearchAlg::Random,
            Some("tpe") => SearchAlg::Tpe,
            Some(other) => {
                return Err(EngineError::Range(format!("{}: '{other}' is not available; this build searches with 'random' or 'tpe'", o.field("searchAlg"))))
            }
        };
        let seed = match o.integer("seed", 0, u32::MAX as usize)? {
            Some(seed) => seed,
            None => o.integer("randomSeed", 0, u32::MAX as usize)?.unwrap_or(1),
        } as u64;
        let val_size = o.size("valSize")?;
        let refit_with_val = o.boolean("refitWithVal")?.unwrap_or(false);
        let time_budget = o.positive("timeBudget")?;
        let scheduler = Halving::from_options(&o)?;
        let mut fixed = Map::new();
        fixed.insert("h".into(), h.into());
        for key in ["loss", "validLoss"] {
            if let Some(value) = o.get(key) {
                fixed.insert(key.into(), value.clone());
            }
        }
        if multivariate {
            let n_series = o.size(N_SERIES)?.ok_or_else(|| {
                EngineError::Type(format!(
                    "{} is missing: Auto{} searches a multivariate model; give the number of series it forecasts jointly",
                    o.field(N_SERIES),
                    kind.name()
                ))
            })?;
            if o.get("config").and_then(Value::as_object).is_some_and(|config| config.contains_key(N_SERIES)) {
                return Err(EngineError::Type(format!(
                    "{path}.config.{N_SERIES}: the series count is not searched; give it as the Auto model's own nSeries, which every trial takes"
                )));
            }
            fixed.insert(N_SERIES.into(), n_series.into());
        }
        let accepted: Vec<&str> = ModelSpec::accepted_keys(kind).into_iter().filter(|k| !NOT_SEARCHED.contains(k) && !fixed.contains_key(*k)).collect();
        let space_path = format!("{path}.config");
        let space = match o.get("config") {
            Some(Value::Object(config)) => SearchSpace::parse(config, &space_path, &accepted)?,
            Some(other) => return Err(EngineError::Type(format!("{space_path} must be an object, got {}", crate::models::options::describe(other)))),
            None => {
                let default = default_space(kind, h).expect("kind_of checked the default space");
                SearchSpace::parse(default.as_object().expect("a space is an object"), &space_path, &accepted)?
            }
        };
        let auto = AutoSpec { kind, space, fixed, num_samples, search_alg, seed, val_size, refit_with_val, time_budget, scheduler };
        let alias = o.string("alias")?.map_or_else(|| format!("Auto{}", kind.name()), str::to_string);
        // Until a fit puts the winner there, the model is the first valid trial's (a trial can be invalid, e.g.
        // over the memory limit, and then fails alone; a space without valid trials is an error).
        let trials = (0..auto.num_samples).map(|t| auto.trial(t, &alias).map(|(_, spec)| spec));
        let mut first_error = None;
        let mut spec = None;
        for trial in trials {
            match trial {
                Ok(valid) => {
                    spec = Some(valid);
                    break;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let mut spec = match (spec, first_error) {
            (Some(spec), _) => spec,
            (None, Some(e)) => return Err(e),
            (None, None) => unreachable!("numSamples is at least 1"),
        };
        spec.search = Some(Box::new(auto));
        Ok(spec)
    }

    /// The options [`AutoSpec::model_spec`] reads back (with `alias`).
    pub fn to_options(&self, alias: &str) -> Map<String, Value> {
        let mut o = self.fixed.clone();
        o.insert("type".into(), format!("Auto{}", self.kind.name()).into());
        o.insert("alias".into(), alias.into());
        o.insert("numSamples".into(), self.num_samples.into());
        o.insert("config".into(), self.space.to_value());
        o.insert("searchAlg".into(), self.search_alg.name().into());
        o.insert("seed".into(), self.seed.into());
        if let Some(val_size) = self.val_size {
            o.insert("valSize".into(), val_size.into());
        }
        o.insert("refitWithVal".into(), self.refit_with_val.into());
        if let Some(budget) = self.time_budget {
            o.insert("timeBudget".into(), budget.into());
        }
        Halving::write(self.scheduler.as_ref(), &mut o);
        o
    }

    /// Trial `trial`'s configuration as random search draws it (the sampled options) and its model spec, named
    /// `alias`.
    pub fn trial(&self, trial: usize, alias: &str) -> Result<(Map<String, Value>, ModelSpec), EngineError> {
        self.configured(trial, self.space.sample(self.seed, trial), alias)
    }

    /// Trial `trial`'s model spec for its configuration `config`, named `alias`.
    pub fn configured(&self, trial: usize, config: Map<String, Value>, alias: &str) -> Result<(Map<String, Value>, ModelSpec), EngineError> {
        let mut options = self.fixed.clone();
        options.extend(config.clone());
        options.insert("alias".into(), alias.into());
        let spec = ModelSpec::of_kind(self.kind, &options, &format!("{alias} trial {}", trial + 1)).map_err(|e| {
            EngineError::Range(format!("{e} (configuration {})", Value::Object(config.clone())))
        })?;
        Ok((config, spec))
    }
}

/// How a search draws its configurations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchAlg {
    /// Each trial's from `(seed, trial)` alone.
    Random,
    /// Optuna's TPE sampler (see [`tpe`]).
    Tpe,
}

impl SearchAlg {
    pub fn name(self) -> &'static str {
        match self {
            SearchAlg::Random => "random",
            SearchAlg::Tpe => "tpe",
        }
    }
}

/// One trial of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRow {
    /// The trial's number, from 0 (its configuration depends on it and the seed alone).
    pub trial: usize,
    /// The sampled options.
    pub config: Map<String, Value>,
    /// The last validation loss (`None` when the trial failed).
    pub valid_loss: Option<f64>,
    /// Training steps run (fewer than the configuration's when pruned or stopped).
    pub steps: usize,
    pub seconds: f64,
    /// Successive halving stopped the trial at a rung (its loss is that rung's).
    pub pruned: bool,
    /// The time budget ran out while the trial trained: it stopped within a step, with the last validation loss it
    /// reached (`None` when it had none). Its run was shorter than its configuration's, so it does not compete.
    pub stopped_by_budget: bool,
    /// Why the trial failed (its training's error).
    pub error: Option<String>,
}

/// What a search found: its finished trials in trial order, and the winner.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchReport {
    pub rows: Vec<TrialRow>,
    /// Index into `rows` of the lowest validation loss.
    pub best: Option<usize>,
    /// The progress callback stopped the search.
    pub stopped: bool,
    /// Trials never started because the time budget ran out.
    pub skipped: usize,
}

impl SearchReport {
    pub fn best_row(&self) -> Option<&TrialRow> {
        self.best.map(|b| &self.rows[b])
    }
}

/// Orders trials by loss (a NaN loss last), then by number.
fn better(a: (f64, usize), b: (f64, usize)) -> bool {
    let key = |(loss, trial): (f64, usize)| (if loss.is_nan() { f64::INFINITY } else { loss }, trial);
    let (a, b) = (key(a), key(b));
    a.0 < b.0 || (a.0 == b.0 && a.1 < b.1)
}

impl Engine {
    /// Runs the search of every Auto model and puts each winner in its place, freshly initialised, for the refit;
    /// returns the options of the refit, or `None` when the callback stopped a search. A stopped search of a
    /// forecaster with that one model leaves it fitted as its best finished trial.
    pub(super) fn run_searches(
        &mut self,
        panel: &Panel,
        options: &FitOptions,
        progress: &mut (dyn FnMut(&ProgressEvent) -> Control + Send),
    ) -> Result<Option<FitOptions>, EngineError> {
        let mut refit = options.clone();
        for index in 0..self.config.models.len() {
            let Some(auto) = self.config.models[index].search.clone() else { continue };
            // An unfitted forecaster's network of an Auto model is its first trial's, untrained (in a
            // cross-validation window, a copy that the window drops if its fit fails): it is not held beside the
            // trials, and is built again when the search puts no network in its place.
            if self.fitted.is_none() {
                self.models[index] = Trained::Searching;
            }
            let searched = self.run_search(index, &auto, panel, options, &mut refit, progress);
            if matches!(self.models[index], Trained::Searching) {
                self.models[index] = Trained::new(&self.config.models[index])?;
            }
            if !searched? {
                return Ok(None);
            }
        }
        Ok(Some(refit))
    }

    /// Model `index`'s search (`auto`), with the winner put in its place, freshly initialised, for the refit (whose
    /// options it sets in `refit`); `false` when the callback stopped it.
    fn run_search(
        &mut self,
        index: usize,
        auto: &AutoSpec,
        panel: &Panel,
        options: &FitOptions,
        refit: &mut FitOptions,
        progress: &mut (dyn FnMut(&ProgressEvent) -> Control + Send),
    ) -> Result<bool, EngineError> {
        let alias = self.config.models[index].alias.clone();
        let h = self.config.models[index].h();
        let val_size = auto.val_size.unwrap_or(if options.validation_size > 0 { options.validation_size } else { h });
        if auto.refit_with_val {
            if self.config.models.len() > 1 {
                return Err(EngineError::Range(format!(
                    "model '{alias}': refitWithVal needs the Auto model alone in its forecaster (it sets the refit's validationSize)"
                )));
            }
            refit.validation_size = val_size;
        }
        // A multivariate search's data is checked once, not by each trial's fit in turn.
        if let Some(n_series) = multivariate::n_series(&self.config.models[index]) {
            multivariate::check_panel(&alias, n_series, panel)?;
        }
        let trial_options = FitOptions { validation_size: val_size, prediction_intervals: None, warm_start: true, ..options.clone() };
        let (report, best) = self.search(index, auto, panel, &trial_options, progress)?;
        let winner = report.best_row().map(|row| (row.trial, row.config.clone()));
        let stopped = report.stopped;
        self.searches[index] = Some(report);
        if stopped {
            // A forecaster of this one model becomes the best finished trial: its configuration, its weights, and
            // the series states its fit kept (those of the same data).
            if let (Some((_, _, network)), Some((trial, config)), true) = (best, winner, self.models.len() == 1) {
                let (_, spec) = auto.configured(trial, config, &alias)?;
                self.config.models[0].method = spec.method;
                self.models[0] = network;
                self.fitted = Some(self.fitted_on(panel, None)?.0);
            }
            return Ok(false);
        }
        // The best trial's network is only for a stopped search.
        drop(best);
        let Some(winner) = winner else {
            let first = self.searches[index].as_ref().and_then(|r| r.rows.iter().find_map(|row| row.error.clone()));
            return Err(EngineError::Range(format!(
                "model '{alias}': no trial of the search finished{}",
                first.map_or_else(|| " within the time budget".to_string(), |e| format!("; the first failure: {e}"))
            )));
        };
        let (_, spec) = auto.configured(winner.0, winner.1, &alias)?;
        self.config.models[index].method = spec.method;
        self.models[index] = Trained::new(&self.config.models[index])?;
        Ok(true)
    }

    /// The search of model `model` at the last fit (`None` for a model that is not an Auto model, or before fit).
    pub fn search_report(&self, model: usize) -> Option<&SearchReport> {
        self.searches.get(model).and_then(Option::as_ref)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod multivariate_tests;
