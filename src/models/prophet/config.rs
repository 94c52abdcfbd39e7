//! Prophet's constructor arguments (python/prophet/forecaster.py, `Prophet.__init__`) that this port supports, with
//! Prophet's defaults, read from and written to camelCase options.

use serde_json::{Map, Value};

use super::ProphetError;
use crate::models::options::{describe, OptionError, OptionResult, MAX_SIZE};
use crate::models::ModelOptions;

/// Highest Fourier order accepted for a built-in seasonality: far above any useful order (Prophet's defaults are 10,
/// 3 and 4), low enough that the feature matrix stays small.
pub const MAX_FOURIER_ORDER: usize = 1000;

/// Prophet's `seasonality_mode`: how the seasonal terms combine with the trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeasonalityMode {
    /// `yhat = trend + X beta`.
    #[default]
    Additive,
    /// `yhat = trend * (1 + X beta)`.
    Multiplicative,
}

impl SeasonalityMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SeasonalityMode::Additive => "additive",
            SeasonalityMode::Multiplicative => "multiplicative",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "additive" => Some(SeasonalityMode::Additive),
            "multiplicative" => Some(SeasonalityMode::Multiplicative),
            _ => None,
        }
    }
}

/// Prophet's `yearly_seasonality` / `weekly_seasonality` / `daily_seasonality`: `'auto'`, `True`, `False` or a
/// Fourier order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Seasonality {
    /// On with the default order when the history's span and spacing allow it (`set_auto_seasonalities`).
    #[default]
    Auto,
    Off,
    /// On with the default order, whatever the history.
    On,
    /// On with this order (0 turns it off, as in Prophet).
    Order(usize),
}

impl Seasonality {
    /// The Fourier order (0: off), given Prophet's default order and whether 'auto' would disable it.
    pub(super) fn order(self, default_order: usize, auto_disable: bool) -> usize {
        match self {
            Seasonality::Auto if auto_disable => 0,
            Seasonality::Auto | Seasonality::On => default_order,
            Seasonality::Off => 0,
            Seasonality::Order(n) => n,
        }
    }

    fn to_value(self) -> Value {
        match self {
            Seasonality::Auto => Value::from("auto"),
            Seasonality::Off => Value::from(false),
            Seasonality::On => Value::from(true),
            Seasonality::Order(n) => Value::from(n),
        }
    }
}

/// Prophet's hyper-parameters (linear growth, no holidays or extra regressors, MAP fit), under Prophet's names.
#[derive(Debug, Clone, PartialEq)]
pub struct ProphetConfig {
    /// Potential trend changepoints, placed in the first `changepoint_range` of the history.
    pub n_changepoints: usize,
    /// Share of the history, in `[0, 1]`, in which changepoints are placed.
    pub changepoint_range: f64,
    /// Scale `tau` of the Laplace prior on the rate changes: larger lets the trend bend more.
    pub changepoint_prior_scale: f64,
    /// Standard deviation of the normal prior on the Fourier coefficients.
    pub seasonality_prior_scale: f64,
    pub seasonality_mode: SeasonalityMode,
    /// Period 365.25 days, default order 10.
    pub yearly_seasonality: Seasonality,
    /// Period 7 days, default order 3.
    pub weekly_seasonality: Seasonality,
    /// Period 1 day, default order 4.
    pub daily_seasonality: Seasonality,
    /// Simulated futures behind the intervals; 0 turns intervals off.
    pub uncertainty_samples: usize,
}

impl Default for ProphetConfig {
    /// Prophet's defaults.
    fn default() -> Self {
        ProphetConfig {
            n_changepoints: 25,
            changepoint_range: 0.8,
            changepoint_prior_scale: 0.05,
            seasonality_prior_scale: 10.0,
            seasonality_mode: SeasonalityMode::Additive,
            yearly_seasonality: Seasonality::Auto,
            weekly_seasonality: Seasonality::Auto,
            daily_seasonality: Seasonality::Auto,
            uncertainty_samples: 1000,
        }
    }
}

impl ProphetConfig {
    pub const NAME: &'static str = "Prophet";
    /// camelCase of Prophet's argument names.
    pub const OPTION_KEYS: &'static [&'static str] = &[
        "nChangepoints",
        "changepointRange",
        "changepointPriorScale",
        "seasonalityPriorScale",
        "seasonalityMode",
        "yearlySeasonality",
        "weeklySeasonality",
        "dailySeasonality",
        "uncertaintySamples",
    ];

    /// Overrides the defaults with the options present in `options`, validating each.
    pub fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        if let Some(n) = options.integer("nChangepoints", 0, MAX_SIZE)? {
            self.n_changepoints = n;
        }
        if let Some(x) = options.number_in("changepointRange", 0.0, 1.0)? {
            self.changepoint_range = x;
        }
        if let Some(x) = options.positive("changepointPriorScale")? {
            self.changepoint_prior_scale = x;
        }
        if let Some(x) = options.positive("seasonalityPriorScale")? {
            self.seasonality_prior_scale = x;
        }
        if let Some(mode) = options.choice("seasonalityMode", &["additive", "multiplicative"])? {
            self.seasonality_mode = SeasonalityMode::parse(mode).unwrap_or_default();
        }
        for (key, target) in [
            ("yearlySeasonality", &mut self.yearly_seasonality),
            ("weeklySeasonality", &mut self.weekly_seasonality),
            ("dailySeasonality", &mut self.daily_seasonality),
        ] {
            if let Some(value) = read_seasonality(options, key)? {
                *target = value;
            }
        }
        if let Some(n) = options.integer("uncertaintySamples", 0, MAX_SIZE)? {
            self.uncertainty_samples = n;
        }
        Ok(())
    }

    /// Writes every option, defaults filled in, under the keys `read_options` reads.
    pub fn write_options(&self, out: &mut Map<String, Value>) {
        out.insert("nChangepoints".into(), self.n_changepoints.into());
        out.insert("changepointRange".into(), self.changepoint_range.into());
        out.insert("changepointPriorScale".into(), self.changepoint_prior_scale.into());
        out.insert("seasonalityPriorScale".into(), self.seasonality_prior_scale.into());
        out.insert("seasonalityMode".into(), self.seasonality_mode.as_str().into());
        out.insert("yearlySeasonality".into(), self.yearly_seasonality.to_value());
        out.insert("weeklySeasonality".into(), self.weekly_seasonality.to_value());
        out.insert("dailySeasonality".into(), self.daily_seasonality.to_value());
        out.insert("uncertaintySamples".into(), self.uncertainty_samples.into());
    }

    /// The checks `read_options` makes, for a configuration built in code (its fields are public).
    pub(super) fn validate(&self) -> Result<(), ProphetError> {
        let bad = |what: &str, value: f64, expected: &str| {
            Err(ProphetError::Config(format!("{what} must be {expected}, got {value}")))
        };
        if !(0.0..=1.0).contains(&self.changepoint_range) {
            return bad("changepointRange", self.changepoint_range, "a number between 0 and 1");
        }
        let scales = [
            ("changepointPriorScale", self.changepoint_prior_scale),
            ("seasonalityPriorScale", self.seasonality_prior_scale),
        ];
        for (what, value) in scales {
            if !(value.is_finite() && value > 0.0) {
                return bad(what, value, "a finite number greater than 0");
            }
        }
        let orders = [self.yearly_seasonality, self.weekly_seasonality, self.daily_seasonality];
        if let Some(n) = orders.iter().find_map(|s| match s {
            Seasonality::Order(n) if *n > MAX_FOURIER_ORDER => Some(*n),
            _ => None,
        }) {
            return bad("a seasonality's Fourier order", n as f64, &format!("at most {MAX_FOURIER_ORDER}"));
        }
        if self.n_changepoints > MAX_SIZE || self.uncertainty_samples > MAX_SIZE {
            return Err(ProphetError::Config(format!("nChangepoints and uncertaintySamples must be at most {MAX_SIZE}")));
        }
        Ok(())
    }
}

/// `'auto'`, a boolean or a Fourier order, as Prophet's seasonality arguments.
fn read_seasonality(options: &ModelOptions<'_>, key: &str) -> OptionResult<Option<Seasonality>> {
    let Some(value) = options.get(key) else { return Ok(None) };
    match value {
        Value::String(text) if text == "auto" => Ok(Some(Seasonality::Auto)),
        Value::Bool(true) => Ok(Some(Seasonality::On)),
        Value::Bool(false) => Ok(Some(Seasonality::Off)),
        Value::Number(_) => Ok(options.integer(key, 0, MAX_FOURIER_ORDER)?.map(Seasonality::Order)),
        other => Err(OptionError::Type(format!(
            "{} must be 'auto', a boolean or a Fourier order, got {}",
            options.field(key),
            describe(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> OptionResult<ProphetConfig> {
        let map = value.as_object().cloned().unwrap();
        let mut config = ProphetConfig::default();
        config.read_options(&ModelOptions::new("Prophet", &map))?;
        Ok(config)
    }

    #[test]
    fn options_round_trip() {
        let config = read(json!({
            "nChangepoints": 10, "changepointRange": 0.9, "changepointPriorScale": 0.5, "seasonalityPriorScale": 1,
            "seasonalityMode": "multiplicative", "yearlySeasonality": 5, "weeklySeasonality": false,
            "dailySeasonality": true, "uncertaintySamples": 200,
        }))
        .unwrap();
        assert_eq!(config.yearly_seasonality, Seasonality::Order(5));
        assert_eq!((config.weekly_seasonality, config.daily_seasonality), (Seasonality::Off, Seasonality::On));
        assert_eq!(config.seasonality_mode, SeasonalityMode::Multiplicative);
        let mut written = Map::new();
        config.write_options(&mut written);
        assert_eq!(written.len(), ProphetConfig::OPTION_KEYS.len());
        assert!(ProphetConfig::OPTION_KEYS.iter().all(|k| written.contains_key(*k)));
        assert_eq!(read(Value::Object(written)).unwrap(), config);
        assert_eq!(read(json!({})).unwrap(), ProphetConfig::default());
    }

    #[test]
    fn bad_options_name_the_field() {
        let message = |value: Value| read(value).unwrap_err().to_string();
        assert!(message(json!({ "yearlySeasonality": "sometimes" })).contains("Prophet.yearlySeasonality must be 'auto'"));
        assert!(message(json!({ "weeklySeasonality": 2.5 })).contains("Prophet.weeklySeasonality must be an integer"));
        assert!(message(json!({ "seasonalityMode": "both" })).contains("unknown value 'both'"));
        assert!(message(json!({ "changepointRange": 1.5 })).contains("Prophet.changepointRange"));
        assert!(message(json!({ "changepointPriorScale": 0 })).contains("greater than 0"));
    }

    #[test]
    fn validation_catches_what_code_can_set() {
        assert!(ProphetConfig::default().validate().is_ok());
        let bad = [
            ProphetConfig { changepoint_range: f64::NAN, ..ProphetConfig::default() },
            ProphetConfig { seasonality_prior_scale: f64::INFINITY, ..ProphetConfig::default() },
            ProphetConfig { daily_seasonality: Seasonality::Order(MAX_FOURIER_ORDER + 1), ..ProphetConfig::default() },
        ];
        assert!(bad.iter().all(|c| matches!(c.validate(), Err(ProphetError::Config(_)))));
    }
}
