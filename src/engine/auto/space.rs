//! Search spaces in plain data: each option of a model either fixed or drawn from a distribution (Ray Tune's
//! `choice`, `uniform`, `loguniform`, `randint`, `quniform`, which NeuralForecast's Auto models use), written in
//! JSON as `{ sample: 'uniform', low, high }` and friends; and the seeded draw of a configuration from one.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use crate::engine::error::EngineError;

/// How one option of a configuration is chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    Fixed(Value),
    Choice(Vec<Value>),
    Uniform { low: f64, high: f64 },
    LogUniform { low: f64, high: f64 },
    /// An integer in `low..high` (Ray Tune's `randint`: the upper bound excluded).
    RandInt { low: i64, high: i64 },
    /// `round(uniform(low, high) / q) * q`, Ray Tune's `quniform`.
    QUniform { low: f64, high: f64, q: f64 },
}

/// The marker key of a distribution object.
const SAMPLE: &str = "sample";

impl Domain {
    /// Reads `value`, the entry of `key` (`path` names it in messages): a distribution object or a fixed value.
    pub fn parse(value: &Value, path: &str) -> Result<Domain, EngineError> {
        let Some(object) = value.as_object().filter(|o| o.contains_key(SAMPLE)) else {
            return Ok(Domain::Fixed(value.clone()));
        };
        let name = object[SAMPLE].as_str().ok_or_else(|| EngineError::Type(format!("{path}.sample must be a string")))?;
        let bound = |field: &str| {
            object.get(field).and_then(Value::as_f64).filter(|x| x.is_finite()).ok_or_else(|| {
                EngineError::Type(format!("{path}: {name} needs a finite number '{field}', got {}", object.get(field).map_or("nothing".into(), describe)))
            })
        };
        let ordered = |low: f64, high: f64| {
            if low > high {
                Err(EngineError::Range(format!("{path}: {name} has low {low} > high {high}")))
            } else {
                Ok((low, high))
            }
        };
        let expected: &[&str] = match name {
            "choice" => &["values"],
            "uniform" | "loguniform" | "randint" => &["low", "high"],
            "quniform" => &["low", "high", "q"],
            other => {
                return Err(EngineError::Range(format!(
                    "{path}: unknown distribution '{other}'; distributions are choice, uniform, loguniform, randint, quniform"
                )))
            }
        };
        if let Some(extra) = object.keys().find(|k| *k != SAMPLE && !expected.contains(&k.as_str())) {
            return Err(EngineError::Type(format!("{path}: {name} has an unknown field '{extra}' (it takes {})", expected.join(", "))));
        }
        Ok(match name {
            "choice" => {
                let values = object.get("values").and_then(Value::as_array).ok_or_else(|| EngineError::Type(format!("{path}: choice needs an array 'values'")))?;
                if values.is_empty() {
                    return Err(EngineError::Range(format!("{path}: choice has no values")));
                }
                Domain::Choice(values.clone())
            }
            "uniform" => {
                let (low, high) = ordered(bound("low")?, bound("high")?)?;
                Domain::Uniform { low, high }
            }
            "loguniform" => {
                let (low, high) = ordered(bound("low")?, bound("high")?)?;
                if low <= 0.0 {
                    return Err(EngineError::Range(format!("{path}: loguniform bounds must be greater than 0, got low {low}")));
                }
                Domain::LogUniform { low, high }
            }
            "randint" => {
                let (low, high) = (bound("low")?, bound("high")?);
                if low.fract() != 0.0 || high.fract() != 0.0 {
                    return Err(EngineError::Range(format!("{path}: randint bounds must be integers, got {low} and {high}")));
                }
                if low >= high {
                    return Err(EngineError::Range(format!("{path}: randint has low {low} >= high {high} (high is excluded)")));
                }
                Domain::RandInt { low: low as i64, high: high as i64 }
            }
            _ => {
                let (low, high) = ordered(bound("low")?, bound("high")?)?;
                let q = bound("q")?;
                if q <= 0.0 {
                    return Err(EngineError::Range(format!("{path}: quniform needs q > 0, got {q}")));
                }
                Domain::QUniform { low, high, q }
            }
        })
    }

    /// The distribution object [`Domain::parse`] reads.
    pub fn to_value(&self) -> Value {
        let object = |name: &str, fields: &[(&str, Value)]| {
            let mut o = Map::new();
            o.insert(SAMPLE.into(), name.into());
            fields.iter().for_each(|(k, v)| {
                o.insert((*k).into(), v.clone());
            });
            Value::Object(o)
        };
        match self {
            Domain::Fixed(value) => value.clone(),
            Domain::Choice(values) => object("choice", &[("values", Value::Array(values.clone()))]),
            Domain::Uniform { low, high } => object("uniform", &[("low", (*low).into()), ("high", (*high).into())]),
            Domain::LogUniform { low, high } => object("loguniform", &[("low", (*low).into()), ("high", (*high).into())]),
            Domain::RandInt { low, high } => object("randint", &[("low", (*low).into()), ("high", (*high).into())]),
            Domain::QUniform { low, high, q } => object("quniform", &[("low", (*low).into()), ("high", (*high).into()), ("q", (*q).into())]),
        }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> Value {
        let unit = |rng: &mut ChaCha8Rng| (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        match self {
            Domain::Fixed(value) => value.clone(),
            Domain::Choice(values) => values[((unit(rng) * values.len() as f64) as usize).min(values.len() - 1)].clone(),
            Domain::Uniform { low, high } => (low + unit(rng) * (high - low)).into(),
            Domain::LogUniform { low, high } => (low.ln() + unit(rng) * (high.ln() - low.ln())).exp().into(),
            Domain::RandInt { low, high } => {
                let span = (high - low) as f64;
                (low + ((unit(rng) * span) as i64).min(high - low - 1)).into()
            }
            Domain::QUniform { low, high, q } => {
                let x = ((low + unit(rng) * (high - low)) / q).round() * q;
                // Integral grids (maxSteps) give integers, which every size option reads.
                if x.fract() == 0.0 && x.abs() < 9e15 {
                    (x as i64).into()
                } else {
                    x.into()
                }
            }
        }
    }
}

fn describe(value: &Value) -> String {
    crate::models::options::describe(value)
}

/// A configuration space: option name to [`Domain`], in a fixed order (the draw depends on it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchSpace {
    pub entries: Vec<(String, Domain)>,
}

impl SearchSpace {
    /// Reads a space object; every key must be one of `accepted` (the error names the key under `path`).
    pub fn parse(object: &Map<String, Value>, path: &str, accepted: &[&str]) -> Result<SearchSpace, EngineError> {
        let mut entries = Vec::with_capacity(object.len());
        for (key, value) in object {
            let field = format!("{path}.{key}");
            if !accepted.contains(&key.as_str()) {
                return Err(EngineError::Type(format!("{field}: unknown option '{key}'; options that can be searched are: {}", accepted.join(", "))));
            }
            entries.push((key.clone(), Domain::parse(value, &field)?));
        }
        Ok(SearchSpace { entries })
    }

    /// Trial `trial`'s configuration: a function of `(seed, trial)` alone (a ChaCha8 stream per trial), so every
    /// trial is the same however many run at once or in which order.
    pub fn sample(&self, seed: u64, trial: usize) -> Map<String, Value> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(trial as u64);
        self.entries.iter().map(|(key, domain)| (key.clone(), domain.sample(&mut rng))).collect()
    }

    pub fn to_value(&self) -> Value {
        Value::Object(self.entries.iter().map(|(k, d)| (k.clone(), d.to_value())).collect())
    }
}
