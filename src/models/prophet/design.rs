//! What Prophet builds from the history before fitting (python/prophet/forecaster.py): the scales
//! (`initialize_scales`), the seasonalities 'auto' turns on (`set_auto_seasonalities`), the Fourier feature matrix
//! (`fourier_series`), the changepoint grid (`set_changepoints`) and the piecewise-linear trend (`piecewise_linear`).

use super::config::{ProphetConfig, SeasonalityMode};
use super::ProphetError;

pub const SECONDS_PER_DAY: f64 = 86_400.0;

/// The validated history, scaled as Prophet's `setup_dataframe` (absmax scaling, floor 0).
#[derive(Debug, Clone)]
pub(super) struct History {
    /// First time stamp, seconds.
    pub start: f64,
    /// Span of the history, seconds; the scaled time runs over `[0, 1]`.
    pub t_scale: f64,
    /// `max |y|` (1 when every value is 0).
    pub y_scale: f64,
    /// Scaled time, non-decreasing.
    pub t: Vec<f64>,
    /// `y / y_scale`.
    pub y: Vec<f64>,
    /// Smallest positive spacing between time stamps, seconds.
    pub min_spacing: f64,
}

impl History {
    /// Checks the series (as long as each other, at least 2 points, finite, sorted, spanning some time) and scales it.
    pub fn new(t_seconds: &[f64], y: &[f64]) -> Result<Self, ProphetError> {
        if t_seconds.len() != y.len() {
            return Err(ProphetError::LengthMismatch { times: t_seconds.len(), values: y.len() });
        }
        if y.len() < 2 {
            return Err(ProphetError::TooFewPoints(y.len()));
        }
        check_finite("time stamp", t_seconds)?;
        check_finite("value", y)?;
        if let Some(i) = t_seconds.windows(2).position(|w| w[1] < w[0]) {
            return Err(ProphetError::Unsorted { index: i + 1 });
        }
        let start = t_seconds[0];
        let t_scale = t_seconds[t_seconds.len() - 1] - start;
        let min_spacing = t_seconds.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0.0).fold(f64::INFINITY, f64::min);
        if !(t_scale > 0.0 && t_scale.is_finite()) {
            return Err(ProphetError::ZeroSpan);
        }
        let y_max = y.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
        let y_scale = if y_max == 0.0 { 1.0 } else { y_max };
        Ok(History {
            start,
            t_scale,
            y_scale,
            t: t_seconds.iter().map(|s| (s - start) / t_scale).collect(),
            y: y.iter().map(|v| v / y_scale).collect(),
            min_spacing,
        })
    }

    pub fn is_constant(&self) -> bool {
        self.y.iter().all(|v| *v == self.y[0])
    }

    /// Prophet's `linear_growth_init`: the line through the first and the last point, `(k, m)`.
    pub fn linear_growth_init(&self) -> (f64, f64) {
        let last = self.y.len() - 1;
        let k = (self.y[last] - self.y[0]) / (self.t[last] - self.t[0]);
        (k, self.y[0] - k * self.t[0])
    }

    /// Prophet's `set_changepoints` for a generated grid: `n_changepoints` rows spread evenly over the first
    /// `changepoint_range` of the history (`np.linspace(0, hist_size - 1, n + 1).round()`, the first dropped),
    /// fewer when the history is short (none at all for a very short one).
    pub fn changepoints(&self, n_changepoints: usize, changepoint_range: f64) -> Vec<f64> {
        let hist_size = (self.t.len() as f64 * changepoint_range).floor() as usize;
        let n = n_changepoints.min(hist_size.saturating_sub(1));
        if n == 0 {
            return Vec::new();
        }
        let step = (hist_size - 1) as f64 / n as f64;
        // numpy's linspace sets the last point to `stop` exactly; `round` is numpy's, half to even.
        let index = |i: usize| if i == n { hist_size - 1 } else { (i as f64 * step).round_ties_even() as usize };
        (1..=n).map(|i| self.t[index(i)]).collect()
    }
}

fn check_finite(what: &'static str, values: &[f64]) -> Result<(), ProphetError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(ProphetError::NonFinite { what, index, value: values[index] }),
        None => Ok(()),
    }
}

/// One Fourier seasonality (an entry of Prophet's `seasonalities`).
#[derive(Debug, Clone, PartialEq)]
pub struct SeasonalityTerm {
    pub name: String,
    pub period_days: f64,
    pub order: usize,
    pub mode: SeasonalityMode,
}

impl SeasonalityTerm {
    /// Feature columns: a sine and a cosine per order.
    pub fn columns(&self) -> usize {
        2 * self.order
    }
}

/// Prophet's `set_auto_seasonalities`: yearly when the history spans at least 730 days; weekly when it spans at least
/// 2 weeks and points are less than a week apart; daily when it spans at least 2 days and points are less than a day
/// apart; each unless the configuration forces it on or off.
pub(super) fn seasonalities(config: &ProphetConfig, history: &History) -> Vec<SeasonalityTerm> {
    let span_days = history.t_scale / SECONDS_PER_DAY;
    let spacing_days = history.min_spacing / SECONDS_PER_DAY;
    let candidates = [
        ("yearly", 365.25, config.yearly_seasonality.order(10, span_days < 730.0)),
        ("weekly", 7.0, config.weekly_seasonality.order(3, span_days < 14.0 || spacing_days >= 7.0)),
        ("daily", 1.0, config.daily_seasonality.order(4, span_days < 2.0 || spacing_days >= 1.0)),
    ];
    candidates
        .into_iter()
        .filter(|(_, _, order)| *order > 0)
        .map(|(name, period_days, order)| SeasonalityTerm {
            name: name.to_string(),
            period_days,
            order,
            mode: config.seasonality_mode,
        })
        .collect()
}

/// Prophet's seasonal feature matrix `X`, stored by column (one column is one feature over all rows), with each
/// column's mode: Stan's `s_a` / `s_m` indicators.
#[derive(Debug, Clone)]
pub(super) struct Features {
    pub rows: usize,
    /// Column-major, `rows` values per column.
    pub values: Vec<f64>,
    pub multiplicative: Vec<bool>,
}

impl Features {
    /// Prophet's `fourier_series` for every term: `sin(2 pi j t / P)`, `cos(2 pi j t / P)` for `j = 1..=order`, with
    /// `t` in days since the epoch.
    pub fn new(terms: &[SeasonalityTerm], t_seconds: &[f64]) -> Self {
        let rows = t_seconds.len();
        let columns: usize = terms.iter().map(SeasonalityTerm::columns).sum();
        let mut values = Vec::with_capacity(columns * rows);
        let mut multiplicative = Vec::with_capacity(columns);
        for term in terms {
            for j in 1..=term.order {
                let frequency = 2.0 * std::f64::consts::PI * j as f64 / term.period_days;
                let angles = || t_seconds.iter().map(|s| frequency * (s / SECONDS_PER_DAY));
                values.extend(angles().map(f64::sin));
                values.extend(angles().map(f64::cos));
                multiplicative.extend([term.mode == SeasonalityMode::Multiplicative; 2]);
            }
        }
        Features { rows, values, multiplicative }
    }

    pub fn columns(&self) -> usize {
        self.multiplicative.len()
    }

    pub fn column(&self, j: usize) -> &[f64] {
        &self.values[j * self.rows..(j + 1) * self.rows]
    }

    /// `X_add beta` into `additive` and `X_mult beta` into `multiplicative` (Stan's `X_sa * beta`, `X_sm * beta`).
    pub fn apply(&self, beta: &[f64], additive: &mut [f64], multiplicative: &mut [f64]) {
        additive.fill(0.0);
        multiplicative.fill(0.0);
        for (j, &b) in beta.iter().enumerate() {
            let out = if self.multiplicative[j] { &mut *multiplicative } else { &mut *additive };
            out.iter_mut().zip(self.column(j)).for_each(|(o, x)| *o += b * x);
        }
    }
}

/// Prophet's `piecewise_linear` (Stan's `linear_trend`): rate `k + sum of the deltas of changepoints at or before t`,
/// offset `m - sum of delta_j * c_j` over the same changepoints, so the trend is continuous. `order` visits the
/// indices of `t` by increasing time and `changepoints` is sorted, so one sweep does it, whatever the order of `t`.
pub(super) fn piecewise_linear(
    t: &[f64],
    order: impl Iterator<Item = usize>,
    (k, m): (f64, f64),
    changepoints: &[f64],
    deltas: &[f64],
    out: &mut [f64],
) {
    let (mut rate, mut offset, mut next) = (k, m, 0);
    for i in order {
        while next < changepoints.len() && changepoints[next] <= t[i] {
            rate += deltas[next];
            offset -= deltas[next] * changepoints[next];
            next += 1;
        }
        out[i] = rate * t[i] + offset;
    }
}

/// The indices of `t` by increasing time.
pub(super) fn time_order(t: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..t.len()).collect();
    order.sort_by(|&a, &b| t[a].total_cmp(&t[b]));
    order
}
