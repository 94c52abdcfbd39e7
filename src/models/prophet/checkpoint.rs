//! A fit as JSON, for checkpoints: everything `predict` needs, validated on load so that a damaged or hand-edited
//! checkpoint is an error rather than a panic or a silent NaN forecast.

use serde_json::{json, Map, Value};

use super::config::{SeasonalityMode, MAX_FOURIER_ORDER};
use super::design::SeasonalityTerm;
use super::{ProphetError, ProphetFit};
use crate::models::options::MAX_SIZE;

const VERSION: u64 = 1;

impl ProphetFit {
    pub fn to_json(&self) -> Value {
        let seasonalities: Vec<Value> = self
            .seasonalities
            .iter()
            .map(|s| json!({ "name": s.name, "periodDays": s.period_days, "order": s.order, "mode": s.mode.as_str() }))
            .collect();
        json!({
            "version": VERSION,
            "start": self.start,
            "tScale": self.t_scale,
            "yScale": self.y_scale,
            "seasonalities": seasonalities,
            "changepointsT": self.changepoints_t,
            "k": self.k,
            "m": self.m,
            "delta": self.delta,
            "beta": self.beta,
            "sigmaObs": self.sigma_obs,
            "uncertaintySamples": self.uncertainty_samples,
        })
    }

    /// Rebuilds a fit written by [`ProphetFit::to_json`].
    pub fn from_json(value: &Value) -> Result<Self, ProphetError> {
        let object = Reader(value.as_object().ok_or_else(|| invalid("the checkpoint must be an object".into()))?);
        if object.integer("version", u64::MAX)? != VERSION {
            return Err(invalid(format!("unsupported version; expected {VERSION}")));
        }
        let seasonalities = object.seasonalities()?;
        let changepoints_t = object.numbers("changepointsT")?;
        if changepoints_t.is_empty() || changepoints_t.windows(2).any(|w| w[1] < w[0]) {
            return Err(invalid("changepointsT must be a non-empty sorted list".into()));
        }
        let delta = object.numbers("delta")?;
        let beta = object.numbers("beta")?;
        let columns: usize = seasonalities.iter().map(SeasonalityTerm::columns).sum();
        if delta.len() != changepoints_t.len() || beta.len() != columns {
            return Err(invalid(format!(
                "expected {} deltas and {columns} betas, got {} and {}",
                changepoints_t.len(),
                delta.len(),
                beta.len()
            )));
        }
        Ok(ProphetFit {
            start: object.number("start")?,
            t_scale: object.positive("tScale")?,
            y_scale: object.positive("yScale")?,
            seasonalities,
            changepoints_t,
            k: object.number("k")?,
            m: object.number("m")?,
            delta,
            beta,
            sigma_obs: object.non_negative("sigmaObs")?,
            uncertainty_samples: object.integer("uncertaintySamples", MAX_SIZE as u64)? as usize,
            diagnostics: None,
        })
    }
}

fn invalid(message: String) -> ProphetError {
    ProphetError::Checkpoint(message)
}

/// Typed, validating access to a JSON object's fields.
struct Reader<'a>(&'a Map<String, Value>);

impl Reader<'_> {
    fn field(&self, key: &str) -> Result<&Value, ProphetError> {
        self.0.get(key).ok_or_else(|| invalid(format!("'{key}' is missing")))
    }

    fn number(&self, key: &str) -> Result<f64, ProphetError> {
        finite(self.field(key)?, key)
    }

    fn positive(&self, key: &str) -> Result<f64, ProphetError> {
        let x = self.number(key)?;
        if x > 0.0 { Ok(x) } else { Err(invalid(format!("'{key}' must be greater than 0, got {x}"))) }
    }

    fn non_negative(&self, key: &str) -> Result<f64, ProphetError> {
        let x = self.number(key)?;
        if x >= 0.0 { Ok(x) } else { Err(invalid(format!("'{key}' must not be negative, got {x}"))) }
    }

    fn integer(&self, key: &str, max: u64) -> Result<u64, ProphetError> {
        match self.field(key)?.as_u64() {
            Some(n) if n <= max => Ok(n),
            _ => Err(invalid(format!("'{key}' must be an integer between 0 and {max}"))),
        }
    }

    fn numbers(&self, key: &str) -> Result<Vec<f64>, ProphetError> {
        let items = self.field(key)?.as_array().ok_or_else(|| invalid(format!("'{key}' must be an array")))?;
        items.iter().enumerate().map(|(i, v)| finite(v, &format!("{key}[{i}]"))).collect()
    }

    fn seasonalities(&self) -> Result<Vec<SeasonalityTerm>, ProphetError> {
        let items = self.field("seasonalities")?.as_array();
        items.ok_or_else(|| invalid("'seasonalities' must be an array".into()))?.iter().map(seasonality).collect()
    }
}

fn finite(value: &Value, what: &str) -> Result<f64, ProphetError> {
    match value.as_f64() {
        Some(x) if x.is_finite() => Ok(x),
        _ => Err(invalid(format!("'{what}' must be a finite number"))),
    }
}

fn seasonality(value: &Value) -> Result<SeasonalityTerm, ProphetError> {
    let object = Reader(value.as_object().ok_or_else(|| invalid("each seasonality must be an object".into()))?);
    let name = object.field("name")?.as_str().ok_or_else(|| invalid("a seasonality's 'name' must be a string".into()))?;
    let mode = object.field("mode")?.as_str().and_then(SeasonalityMode::parse);
    let order = object.integer("order", MAX_FOURIER_ORDER as u64)? as usize;
    match mode {
        Some(mode) if order > 0 => {
            Ok(SeasonalityTerm { name: name.to_string(), period_days: object.positive("periodDays")?, order, mode })
        }
        _ => Err(invalid(format!(
            "seasonality '{name}' needs an order of at least 1 and a mode 'additive' or 'multiplicative'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::prophet::{fit, ProphetConfig, SECONDS_PER_DAY};

    fn fitted() -> ProphetFit {
        let t: Vec<f64> = (0..60).map(|i| i as f64 * SECONDS_PER_DAY).collect();
        let y: Vec<f64> = (0..60).map(|i| 5.0 + 0.1 * i as f64 + [0.0, 1.0, 2.0, 1.0, 0.0, -1.0, -2.0][i % 7]).collect();
        fit(&ProphetConfig::default(), &t, &y).unwrap()
    }

    #[test]
    fn round_trips_through_json_text() {
        let original = fitted();
        let text = serde_json::to_string(&original.to_json()).unwrap();
        let restored = ProphetFit::from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(restored, ProphetFit { diagnostics: None, ..original.clone() });
        let at = [61.0 * SECONDS_PER_DAY, 70.0 * SECONDS_PER_DAY];
        assert_eq!(restored.predict(&at, &[80.0], 3).unwrap(), original.predict(&at, &[80.0], 3).unwrap());
    }

    #[test]
    fn damaged_checkpoints_are_errors() {
        let good = fitted().to_json();
        let damage = |edit: &dyn Fn(&mut Map<String, Value>)| {
            let mut value = good.clone();
            edit(value.as_object_mut().unwrap());
            ProphetFit::from_json(&value).unwrap_err().to_string()
        };
        assert!(damage(&|o| {
            o.insert("delta".into(), json!([0.1]));
        })
        .contains("deltas"));
        assert!(damage(&|o| {
            o.insert("k".into(), json!("fast"));
        })
        .contains("'k' must be a finite number"));
        assert!(damage(&|o| {
            o.remove("yScale");
        })
        .contains("'yScale' is missing"));
        assert!(damage(&|o| {
            let term = json!({ "name": "weekly", "periodDays": 7, "order": 0, "mode": "additive" });
            o.insert("seasonalities".into(), json!([term]));
        })
        .contains("order of at least 1"));
        assert!(damage(&|o| {
            o.insert("tScale".into(), json!(0));
        })
        .contains("greater than 0"));
        assert!(ProphetFit::from_json(&json!([1, 2])).is_err());
    }
}
