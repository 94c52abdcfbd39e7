//! Facebook Prophet (python/prophet/forecaster.py and python/stan/prophet.stan), linear growth, in plain Rust.
//!
//! `y(t) = trend(t) * (1 + X_mult(t) beta) + X_add(t) beta + noise`, in Prophet's scaled space (`y / max|y|`, time
//! scaled to `[0, 1]` over the history):
//! - the trend is piecewise linear with `n_changepoints` potential changepoints in the first `changepoint_range` of
//!   the history, a Laplace prior on the rate changes and normal priors on the base rate and offset;
//! - the seasonalities are Fourier series (yearly, weekly, daily, turned on by 'auto' from the history's span and
//!   spacing) with a normal prior on their coefficients, additive or multiplicative;
//! - the fit is the posterior mode, found by a port of Stan's L-BFGS from Prophet's initial values (Prophet's Python
//!   wrapper switches to Stan's Newton method below 100 points; both seek the same mode, this port always uses
//!   L-BFGS);
//! - forecasts extrapolate the trend with its last rate; intervals are percentiles of simulated futures whose trend
//!   keeps changing as it did in the history, plus observation noise.
//!
//! Time stamps are seconds since the Unix epoch; for an integer time index pass `step * SECONDS_PER_DAY` (a step
//! counts as a day, so the seasonalities 'auto' chooses are those of daily data).

mod checkpoint;
mod config;
mod design;
mod lbfgs;
mod posterior;
mod uncertainty;

use std::fmt;

pub use config::{ProphetConfig, Seasonality, SeasonalityMode, MAX_FOURIER_ORDER};
pub use design::{SeasonalityTerm, SECONDS_PER_DAY};
pub use lbfgs::Termination;

use design::{piecewise_linear, time_order, Features, History};
use posterior::{Layout, Posterior};
use uncertainty::{percentile, Scenario};

/// Most values (8 bytes each) one forecast simulates: points times `uncertainty_samples`, 1 GiB.
pub const MAX_SIMULATED_VALUES: usize = 1 << 27;

/// Why a fit, a forecast or a checkpoint was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum ProphetError {
    LengthMismatch { times: usize, values: usize },
    TooFewPoints(usize),
    NonFinite { what: &'static str, index: usize, value: f64 },
    /// The time stamp at `index` is earlier than the one before it.
    Unsorted { index: usize },
    /// Every time stamp is the same.
    ZeroSpan,
    Config(String),
    /// An interval level outside `[0, 100]`.
    Level(f64),
    /// A forecast would simulate more than [`MAX_SIMULATED_VALUES`] values.
    TooManySimulations { points: usize, samples: usize },
    /// The log posterior is not finite at the initial values (extreme data).
    InitialPoint,
    Checkpoint(String),
}

impl fmt::Display for ProphetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Prophet: ")?;
        match self {
            ProphetError::LengthMismatch { times, values } => write!(f, "{times} time stamps but {values} values"),
            ProphetError::TooFewPoints(n) => {
                write!(f, "the series has {n} point{}; at least 2 are needed", if *n == 1 { "" } else { "s" })
            }
            ProphetError::NonFinite { what, index, value } => write!(f, "{what} {index} is {value}; they must be finite"),
            ProphetError::Unsorted { index } => {
                write!(f, "time stamps must be sorted, but stamp {index} is earlier than stamp {}", index.saturating_sub(1))
            }
            ProphetError::ZeroSpan => f.write_str("every time stamp is the same; the history must span some time"),
            ProphetError::Config(message) => f.write_str(message),
            ProphetError::Level(level) => write!(f, "interval levels are percentages between 0 and 100, got {level}"),
            ProphetError::TooManySimulations { points, samples } => write!(
                f,
                "{points} points times {samples} uncertainty samples exceed the {MAX_SIMULATED_VALUES} simulated values \
                 a forecast may hold; forecast fewer points at a time"
            ),
            ProphetError::InitialPoint => f.write_str("the log posterior is not finite at the initial parameters"),
            ProphetError::Checkpoint(message) => write!(f, "invalid checkpoint: {message}"),
        }
    }
}

impl std::error::Error for ProphetError {}

/// How the fit went; not part of a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitDiagnostics {
    /// Stan's `lp__`: the log posterior, constants dropped, at the fitted parameters.
    pub log_posterior: f64,
    pub iterations: usize,
    /// `None` for a constant series, which Prophet does not optimise.
    pub termination: Option<Termination>,
}

/// A fitted Prophet model: the scales, the model's structure and the posterior mode, all in Prophet's scaled space.
#[derive(Debug, Clone, PartialEq)]
pub struct ProphetFit {
    start: f64,
    t_scale: f64,
    y_scale: f64,
    seasonalities: Vec<SeasonalityTerm>,
    /// Scaled changepoint times (Prophet's `changepoints_t`; `[0]` when there are none).
    changepoints_t: Vec<f64>,
    k: f64,
    m: f64,
    delta: Vec<f64>,
    beta: Vec<f64>,
    sigma_obs: f64,
    uncertainty_samples: usize,
    diagnostics: Option<FitDiagnostics>,
}

/// One interval: `level` percent of the simulated futures lie between `lower` and `upper`.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionInterval {
    pub level: f64,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
}

/// A forecast on the data's scale, one value per requested time (Prophet's `predict` columns).
#[derive(Debug, Clone, PartialEq)]
pub struct ProphetForecast {
    pub yhat: Vec<f64>,
    pub trend: Vec<f64>,
    /// Sum of the additive seasonal terms (on the data's scale).
    pub additive_terms: Vec<f64>,
    /// Sum of the multiplicative seasonal terms (a proportion of the trend).
    pub multiplicative_terms: Vec<f64>,
    /// One per requested level; empty when none was requested or `uncertainty_samples` is 0.
    pub intervals: Vec<PredictionInterval>,
}

/// Fits Prophet to `y` observed at `t_seconds` (sorted; see the module docs for the unit).
pub fn fit(config: &ProphetConfig, t_seconds: &[f64], y: &[f64]) -> Result<ProphetFit, ProphetError> {
    config.validate()?;
    let history = History::new(t_seconds, y)?;
    let seasonalities = design::seasonalities(config, &history);
    let grid = history.changepoints(config.n_changepoints, config.changepoint_range);
    let no_changepoints = grid.is_empty();
    // Prophet's dummy changepoint at t = 0 when there is none (its delta is folded into k below).
    let changepoints_t = if no_changepoints { vec![0.0] } else { grid };
    let features = Features::new(&seasonalities, t_seconds);
    let priors = (config.changepoint_prior_scale, config.seasonality_prior_scale);
    let mut posterior = Posterior::new(&history.t, &history.y, &changepoints_t, &features, priors);
    let layout = posterior.layout();
    let (theta, diagnostics) = map_estimate(&mut posterior, &history)?;

    let mut k = theta[Layout::K];
    let mut delta = theta[Layout::DELTA..layout.log_sigma()].to_vec();
    if no_changepoints {
        k += delta[0];
        delta[0] = 0.0;
    }
    Ok(ProphetFit {
        start: history.start,
        t_scale: history.t_scale,
        y_scale: history.y_scale,
        seasonalities,
        changepoints_t,
        k,
        m: theta[Layout::M],
        delta,
        beta: theta[layout.beta()..].to_vec(),
        sigma_obs: theta[layout.log_sigma()].exp(),
        uncertainty_samples: config.uncertainty_samples,
        diagnostics: Some(diagnostics),
    })
}

/// The posterior mode from Prophet's initial values (`linear_growth_init`, zero deltas and betas, `sigma_obs = 1`).
/// A constant series is not optimised, as in Prophet: it keeps the initial values with `sigma_obs = 1e-9`.
fn map_estimate(posterior: &mut Posterior<'_>, history: &History) -> Result<(Vec<f64>, FitDiagnostics), ProphetError> {
    let layout = posterior.layout();
    let mut theta = vec![0.0; layout.len()];
    (theta[Layout::K], theta[Layout::M]) = history.linear_growth_init();
    if history.is_constant() {
        theta[layout.log_sigma()] = 1e-9f64.ln();
        let log_posterior = posterior.value_and_gradient(&theta, &mut vec![0.0; layout.len()]);
        return Ok((theta, FitDiagnostics { log_posterior, iterations: 0, termination: None }));
    }
    // Stan minimises the negative log posterior.
    let negative = |x: &[f64], g: &mut [f64]| {
        let value = posterior.value_and_gradient(x, g);
        g.iter_mut().for_each(|g| *g = -*g);
        Some(-value)
    };
    let outcome = lbfgs::minimize(negative, theta, lbfgs::Options::default()).ok_or(ProphetError::InitialPoint)?;
    let diagnostics = FitDiagnostics {
        log_posterior: -outcome.f,
        iterations: outcome.iterations,
        termination: Some(outcome.termination),
    };
    Ok((outcome.x, diagnostics))
}

impl ProphetFit {
    /// Forecasts at `t_seconds` (any order, past or future). `levels` are interval coverages in percent (80, 95);
    /// empty asks for none (no simulation). `seed` seeds the simulated futures: the same seed gives the
    /// same intervals. The simulations take `8 * uncertainty_samples * t_seconds.len()` bytes, at most
    /// [`MAX_SIMULATED_VALUES`] values.
    pub fn predict(&self, t_seconds: &[f64], levels: &[f64], seed: u64) -> Result<ProphetForecast, ProphetError> {
        if let Some(index) = t_seconds.iter().position(|s| !s.is_finite()) {
            return Err(ProphetError::NonFinite { what: "time stamp", index, value: t_seconds[index] });
        }
        if let Some(&level) = levels.iter().find(|l| !(0.0..=100.0).contains(*l)) {
            return Err(ProphetError::Level(level));
        }
        let n = t_seconds.len();
        if !levels.is_empty() && n.saturating_mul(self.uncertainty_samples) > MAX_SIMULATED_VALUES {
            return Err(ProphetError::TooManySimulations { points: n, samples: self.uncertainty_samples });
        }
        let t: Vec<f64> = t_seconds.iter().map(|s| (s - self.start) / self.t_scale).collect();
        let order = time_order(&t);
        let mut trend = vec![0.0; n];
        piecewise_linear(&t, order.iter().copied(), (self.k, self.m), &self.changepoints_t, &self.delta, &mut trend);
        let (mut additive, mut multiplicative) = (vec![0.0; n], vec![0.0; n]);
        Features::new(&self.seasonalities, t_seconds).apply(&self.beta, &mut additive, &mut multiplicative);

        let intervals = if self.uncertainty_samples == 0 || levels.is_empty() {
            Vec::new()
        } else {
            let scenario = Scenario {
                t: &t,
                order: &order,
                trend: &trend,
                additive: &additive,
                multiplicative: &multiplicative,
                changepoints: self.changepoints_t.len(),
                mean_abs_delta: self.delta.iter().map(|d| d.abs()).sum::<f64>() / self.delta.len() as f64,
                sigma_obs: self.sigma_obs,
                y_scale: self.y_scale,
            };
            self.intervals(scenario.simulate(self.uncertainty_samples, seed), levels)
        };
        let yhat = (0..n).map(|i| (trend[i] * (1.0 + multiplicative[i]) + additive[i]) * self.y_scale).collect();
        Ok(ProphetForecast {
            yhat,
            trend: trend.iter().map(|v| v * self.y_scale).collect(),
            additive_terms: additive.iter().map(|v| v * self.y_scale).collect(),
            multiplicative_terms: multiplicative,
            intervals,
        })
    }

    /// Prophet's `percentile` of each point's simulations at `(100 - level) / 2` and `(100 + level) / 2`.
    fn intervals(&self, mut simulations: Vec<f64>, levels: &[f64]) -> Vec<PredictionInterval> {
        let samples = self.uncertainty_samples;
        simulations.chunks_mut(samples).for_each(|point| point.sort_unstable_by(f64::total_cmp));
        let at = |q: f64| simulations.chunks(samples).map(|point| percentile(point, q)).collect();
        levels
            .iter()
            .map(|&level| PredictionInterval { level, lower: at((100.0 - level) / 2.0), upper: at((100.0 + level) / 2.0) })
            .collect()
    }

    /// First time stamp of the history, seconds.
    pub fn start(&self) -> f64 {
        self.start
    }

    /// Span of the history, seconds.
    pub fn t_scale(&self) -> f64 {
        self.t_scale
    }

    pub fn y_scale(&self) -> f64 {
        self.y_scale
    }

    pub fn seasonalities(&self) -> &[SeasonalityTerm] {
        &self.seasonalities
    }

    pub fn changepoints_t(&self) -> &[f64] {
        &self.changepoints_t
    }

    /// Base growth rate (scaled).
    pub fn k(&self) -> f64 {
        self.k
    }

    /// Offset (scaled).
    pub fn m(&self) -> f64 {
        self.m
    }

    /// Rate changes at `changepoints_t`.
    pub fn delta(&self) -> &[f64] {
        &self.delta
    }

    /// Fourier coefficients, the seasonalities' columns in order (sine then cosine per order).
    pub fn beta(&self) -> &[f64] {
        &self.beta
    }

    pub fn sigma_obs(&self) -> f64 {
        self.sigma_obs
    }

    /// `None` for a fit rebuilt from a checkpoint.
    pub fn diagnostics(&self) -> Option<&FitDiagnostics> {
        self.diagnostics.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `data/air_passengers.csv`: monthly time stamps (seconds) and passengers, 1949-01..1960-12.
    fn air_passengers() -> (Vec<f64>, Vec<f64>) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/air_passengers.csv");
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .skip(1)
            .map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                let date = chrono::NaiveDate::parse_from_str(fields[1], "%Y-%m-%d").unwrap();
                let seconds = date.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp() as f64;
                (seconds, fields[2].parse::<f64>().unwrap())
            })
            .unzip()
    }

    fn days(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64 * SECONDS_PER_DAY).collect()
    }

    /// Fits the first 132 months, forecasts the last 12: (MAE, share of the hold-out inside the 80 % interval).
    fn air_passengers_holdout(mode: SeasonalityMode) -> (f64, f64, ProphetFit, ProphetForecast) {
        let (t, y) = air_passengers();
        let config = ProphetConfig { seasonality_mode: mode, ..ProphetConfig::default() };
        let fit = fit(&config, &t[..132], &y[..132]).unwrap();
        let forecast = fit.predict(&t[132..], &[80.0], 0).unwrap();
        let actual = &y[132..];
        let mae = forecast.yhat.iter().zip(actual).map(|(f, a)| (f - a).abs()).sum::<f64>() / 12.0;
        let interval = &forecast.intervals[0];
        let inside = (0..12).filter(|&i| interval.lower[i] <= actual[i] && actual[i] <= interval.upper[i]).count();
        (mae, inside as f64 / 12.0, fit, forecast)
    }

    /// The holdout in `mode`: its MAE within 10% of Prophet's `prophet_mae`, its 80% interval's coverage at least a
    /// quarter.
    fn assert_holdout_near_prophet(mode: SeasonalityMode, prophet_mae: f64) {
        let (mae, coverage, fit, _) = air_passengers_holdout(mode);
        eprintln!("{mode:?}: MAE {mae:.2} (Prophet {prophet_mae}), 80% coverage {coverage:.3}, {:?}", fit.diagnostics());
        assert!((mae - prophet_mae).abs() <= 0.1 * prophet_mae, "MAE {mae}");
        assert!((0.25..=1.0).contains(&coverage), "coverage {coverage}");
    }

    #[test]
    fn air_passengers_additive_mae_is_within_10_percent_of_prophet() {
        assert_holdout_near_prophet(SeasonalityMode::Additive, 33.78);
    }

    #[test]
    fn air_passengers_multiplicative_mae_is_within_10_percent_of_prophet() {
        assert_holdout_near_prophet(SeasonalityMode::Multiplicative, 21.66);
    }

    #[test]
    fn air_passengers_structure_follows_prophet() {
        let (t, y) = air_passengers();
        let fit = fit(&ProphetConfig::default(), &t[..132], &y[..132]).unwrap();
        assert_eq!(fit.y_scale(), 559.0);
        // Monthly data over 11 years: yearly only (order 10, 20 columns).
        assert_eq!(fit.seasonalities().len(), 1);
        assert_eq!((fit.seasonalities()[0].name.as_str(), fit.seasonalities()[0].order), ("yearly", 10));
        assert_eq!(fit.beta().len(), 20);
        // np.linspace(0, 104, 26).round()[1:] over the first floor(0.8 * 132) = 105 rows.
        let rows = [4, 8, 12, 17, 21, 25, 29, 33, 37, 42, 46, 50, 54, 58, 62, 67, 71, 75, 79, 83, 87, 92, 96, 100, 104];
        let expected: Vec<f64> = rows.iter().map(|&r| (t[r] - t[0]) / (t[131] - t[0])).collect();
        assert_eq!(fit.changepoints_t(), expected.as_slice());
        assert!(matches!(fit.diagnostics(), Some(d) if d.termination == Some(Termination::RelativeGradient)));
    }

    #[test]
    fn intervals_are_reproducible_nested_and_ordered() {
        let (t, y) = air_passengers();
        let fit = fit(&ProphetConfig::default(), &t[..132], &y[..132]).unwrap();
        let a = fit.predict(&t[132..], &[80.0, 95.0], 7).unwrap();
        assert_eq!(a, fit.predict(&t[132..], &[80.0, 95.0], 7).unwrap());
        assert_ne!(a.intervals, fit.predict(&t[132..], &[80.0, 95.0], 8).unwrap().intervals);
        let (i80, i95) = (&a.intervals[0], &a.intervals[1]);
        for i in 0..12 {
            assert!(i95.lower[i] <= i80.lower[i] && i80.lower[i] < a.yhat[i] && a.yhat[i] < i80.upper[i]);
            assert!(i80.upper[i] <= i95.upper[i]);
        }
        // The trend's uncertainty grows with the horizon.
        let width = |i: usize| i95.upper[i] - i95.lower[i];
        assert!(width(11) > width(0));
    }

    #[test]
    fn predicts_in_any_order() {
        let (t, y) = air_passengers();
        let fit = fit(&ProphetConfig::default(), &t[..132], &y[..132]).unwrap();
        let forward = fit.predict(&t[120..], &[], 0).unwrap();
        let reversed: Vec<f64> = t[120..].iter().rev().copied().collect();
        let backward = fit.predict(&reversed, &[], 0).unwrap();
        let mut yhat = backward.yhat.clone();
        yhat.reverse();
        assert_eq!(yhat, forward.yhat);
    }

    #[test]
    fn daily_data_with_a_weekly_pattern_picks_weekly_seasonality() {
        let t = days(120);
        let pattern = [1.0, 1.2, 1.1, 1.0, 0.9, 0.5, 0.4];
        let y: Vec<f64> = (0..120).map(|i| 10.0 + 0.02 * i as f64 + 3.0 * pattern[i % 7]).collect();
        let fit = fit(&ProphetConfig::default(), &t, &y).unwrap();
        let names: Vec<&str> = fit.seasonalities().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["weekly"]);
        let future: Vec<f64> = (120..134).map(|i| i as f64 * SECONDS_PER_DAY).collect();
        let forecast = fit.predict(&future, &[], 0).unwrap();
        let expected = (120..134).map(|i| 10.0 + 0.02 * i as f64 + 3.0 * pattern[i % 7]);
        let mae = forecast.yhat.iter().zip(expected).map(|(f, e)| (f - e).abs()).sum::<f64>() / 14.0;
        assert!(mae < 0.1, "MAE {mae}");
    }

    #[test]
    fn hourly_data_over_weeks_picks_weekly_and_daily() {
        let t: Vec<f64> = (0..24 * 21).map(|h| h as f64 * 3600.0).collect();
        let y: Vec<f64> = t.iter().map(|s| (s / SECONDS_PER_DAY * std::f64::consts::TAU).sin()).collect();
        let fit = fit(&ProphetConfig::default(), &t, &y).unwrap();
        let names: Vec<&str> = fit.seasonalities().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["weekly", "daily"]);
    }

    #[test]
    fn bad_series_are_errors() {
        let config = ProphetConfig::default();
        assert_eq!(fit(&config, &[], &[]).unwrap_err(), ProphetError::TooFewPoints(0));
        let one = fit(&config, &[0.0], &[1.0]).unwrap_err();
        assert_eq!(one.to_string(), "Prophet: the series has 1 point; at least 2 are needed");
        assert!(matches!(fit(&config, &days(3), &[1.0, f64::NAN, 2.0]), Err(ProphetError::NonFinite { index: 1, .. })));
        assert!(matches!(fit(&config, &[0.0, f64::INFINITY], &[1.0, 2.0]), Err(ProphetError::NonFinite { .. })));
        assert_eq!(fit(&config, &[2.0, 1.0], &[1.0, 2.0]).unwrap_err(), ProphetError::Unsorted { index: 1 });
        assert_eq!(fit(&config, &[5.0, 5.0], &[1.0, 2.0]).unwrap_err(), ProphetError::ZeroSpan);
        assert!(matches!(fit(&config, &days(3), &[1.0, 2.0]), Err(ProphetError::LengthMismatch { .. })));
        let bad = ProphetConfig { changepoint_prior_scale: -1.0, ..config.clone() };
        assert!(matches!(fit(&bad, &days(3), &[1.0, 2.0, 3.0]), Err(ProphetError::Config(_))));
        let fitted = fit(&config, &days(3), &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(fitted.predict(&[0.0], &[101.0], 0).unwrap_err(), ProphetError::Level(101.0));
        assert!(fitted.predict(&[f64::NAN], &[], 0).is_err());
        let many = vec![0.0; MAX_SIMULATED_VALUES / 1000 + 1];
        assert!(matches!(fitted.predict(&many, &[80.0], 0), Err(ProphetError::TooManySimulations { .. })));
        let nothing = fitted.predict(&[], &[80.0], 0).unwrap();
        assert!(nothing.yhat.is_empty() && nothing.intervals[0].lower.is_empty());
    }

    #[test]
    fn short_and_constant_series_fit_as_prophet_does() {
        let config = ProphetConfig::default();
        // Two points: no changepoint (Prophet's dummy at t = 0, folded into k), the line through both.
        let two = fit(&config, &days(2), &[1.0, 3.0]).unwrap();
        assert_eq!((two.changepoints_t(), two.delta()), (&[0.0][..], &[0.0][..]));
        let forecast = two.predict(&[2.0 * SECONDS_PER_DAY], &[], 0).unwrap();
        assert!((forecast.yhat[0] - 5.0).abs() < 0.05, "{:?}", forecast.yhat);
        // A constant series is not optimised: the flat line, sigma_obs = 1e-9.
        let flat = fit(&config, &days(30), &[4.0; 30]).unwrap();
        assert_eq!((flat.k(), flat.m()), (0.0, 1.0));
        assert!((flat.sigma_obs() - 1e-9).abs() < 1e-20);
        let forecast = flat.predict(&[40.0 * SECONDS_PER_DAY], &[90.0], 0).unwrap();
        assert!((forecast.yhat[0] - 4.0).abs() < 1e-12 && (forecast.intervals[0].upper[0] - 4.0).abs() < 1e-6);
        let zeros = fit(&config, &days(5), &[0.0; 5]).unwrap();
        assert_eq!((zeros.y_scale(), zeros.predict(&[0.0], &[], 0).unwrap().yhat[0]), (1.0, 0.0));
    }

    #[test]
    fn no_uncertainty_samples_means_no_intervals() {
        let config = ProphetConfig { uncertainty_samples: 0, ..ProphetConfig::default() };
        let fit = fit(&config, &days(20), &(0..20).map(f64::from).collect::<Vec<_>>()).unwrap();
        assert!(fit.predict(&[25.0 * SECONDS_PER_DAY], &[80.0], 0).unwrap().intervals.is_empty());
    }

    #[test]
    #[ignore = "timing, meaningful only in release: cargo test --release --lib models::prophet -- --ignored --nocapture"]
    fn time_the_air_passengers_fit() {
        let (t, y) = air_passengers();
        for mode in [SeasonalityMode::Additive, SeasonalityMode::Multiplicative] {
            let config = ProphetConfig { seasonality_mode: mode, ..ProphetConfig::default() };
            let mut times: Vec<f64> = (0..50)
                .map(|_| {
                    let started = std::time::Instant::now();
                    std::hint::black_box(fit(&config, &t[..132], &y[..132]).unwrap());
                    started.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let fitted = fit(&config, &t[..132], &y[..132]).unwrap();
            let started = std::time::Instant::now();
            fitted.predict(&t[132..], &[80.0, 95.0], 0).unwrap();
            let predict_ms = started.elapsed().as_secs_f64() * 1e3;
            eprintln!(
                "Prophet {} fit on AirPassengers (132 points): median {:.3} ms over 50 fits ({:?}); \
                 predict 12 points with 1000 samples: {predict_ms:.3} ms",
                mode.as_str(),
                times[25],
                fitted.diagnostics()
            );
        }
    }
}
