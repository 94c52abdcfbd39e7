//! Reading a model's hyper-parameters from a JSON-like options object (camelCase, NeuralForecast's names), with
//! errors that name the option and say what was expected. The Node binding converts a JS object into a
//! `serde_json::Map` and hands it here, so every model validates its own options in the core.

use serde_json::{Map, Value};
use std::fmt;

/// Sizes beyond this are rejected before anything is allocated.
pub const MAX_SIZE: usize = 1 << 20;

/// An option of the wrong type (a JS `TypeError`) or a value out of range (a `RangeError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionError {
    Type(String),
    Range(String),
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionError::Type(m) | OptionError::Range(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for OptionError {}

pub type OptionResult<T> = Result<T, OptionError>;

/// Describes a value's type for messages ("a string", "an array", ...).
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string '{s}'"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Writes the `(key, value)` entries into `out`, in order: a configuration's `write_options`.
pub fn write_entries<const N: usize>(out: &mut Map<String, Value>, entries: [(&str, Value); N]) {
    for (key, value) in entries {
        out.insert(key.into(), value);
    }
}

/// The options of one model, under a path used in messages (`models[0]`, `LSTM`).
#[derive(Debug, Clone, Copy)]
pub struct ModelOptions<'a> {
    path: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> ModelOptions<'a> {
    pub fn new(path: &'a str, map: &'a Map<String, Value>) -> Self {
        ModelOptions { path, map }
    }

    pub fn path(&self) -> &str {
        self.path
    }

    /// `<path>.<key>`, for messages.
    pub fn field(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// Rejects keys outside the accepted groups, listing every accepted key.
    pub fn check_keys(&self, accepted: &[&[&str]]) -> OptionResult<()> {
        let known = |key: &str| accepted.iter().any(|group| group.contains(&key));
        match self.map.keys().find(|k| !known(k)) {
            Some(unknown) => {
                let all: Vec<&str> = accepted.iter().flat_map(|g| g.iter().copied()).collect();
                Err(OptionError::Type(format!(
                    "{} has an unknown option '{unknown}'; accepted options are: {}",
                    self.path,
                    all.join(", ")
                )))
            }
            None => Ok(()),
        }
    }

    /// The value under `key`; `null` counts as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn type_error(&self, key: &str, expected: &str, value: &Value) -> OptionError {
        OptionError::Type(format!("{} must be {expected}, got {}", self.field(key), describe(value)))
    }

    /// A number.
    pub fn number(&self, key: &str) -> OptionResult<Option<f64>> {
        self.get(key).map(|v| v.as_f64().ok_or_else(|| self.type_error(key, "a number", v))).transpose()
    }

    /// A number in `min..=max`.
    pub fn number_in(&self, key: &str, min: f64, max: f64) -> OptionResult<Option<f64>> {
        let value = self.number(key)?;
        match value {
            Some(x) if !(x.is_finite() && (min..=max).contains(&x)) => {
                Err(OptionError::Range(format!("{} must be a number between {min} and {max}, got {x}", self.field(key))))
            }
            _ => Ok(value),
        }
    }

    /// A dropout probability: a number in `[0, 1)` (torch's `nn.Dropout` takes 1, which zeroes everything).
    pub fn dropout_probability(&self, key: &str) -> OptionResult<Option<f64>> {
        match self.number_in(key, 0.0, 1.0)? {
            Some(p) if p >= 1.0 => Err(OptionError::Range(format!("{} must be below 1, got {p}", self.field(key)))),
            value => Ok(value),
        }
    }

    /// A finite number greater than 0.
    pub fn positive(&self, key: &str) -> OptionResult<Option<f64>> {
        let value = self.number(key)?;
        match value {
            Some(x) if !(x.is_finite() && x > 0.0) => Err(OptionError::Range(format!(
                "{} must be a finite number greater than 0, got {x}",
                self.field(key)
            ))),
            _ => Ok(value),
        }
    }

    fn integer_value(&self, key: &str, value: &Value, min: usize, max: usize) -> OptionResult<usize> {
        let x = value.as_f64().ok_or_else(|| self.type_error(key, "a number", value))?;
        if !(x.is_finite() && x.fract() == 0.0 && x >= min as f64 && x <= max as f64) {
            return Err(OptionError::Range(format!("{} must be an integer between {min} and {max}, got {x}", self.field(key))));
        }
        Ok(x as usize)
    }

    /// An integer in `min..=max`.
    pub fn integer(&self, key: &str, min: usize, max: usize) -> OptionResult<Option<usize>> {
        self.get(key).map(|v| self.integer_value(key, v, min, max)).transpose()
    }

    /// A size: an integer in `1..=MAX_SIZE`.
    pub fn size(&self, key: &str) -> OptionResult<Option<usize>> {
        self.integer(key, 1, MAX_SIZE)
    }

    /// Reads each `(key, field)` in turn: a size (see [`ModelOptions::size`]) replaces the field where the key is
    /// present.
    pub fn read_sizes<const N: usize>(&self, fields: [(&str, &mut usize); N]) -> OptionResult<()> {
        for (key, field) in fields {
            if let Some(value) = self.size(key)? {
                *field = value;
            }
        }
        Ok(())
    }

    pub fn boolean(&self, key: &str) -> OptionResult<Option<bool>> {
        self.get(key).map(|v| v.as_bool().ok_or_else(|| self.type_error(key, "a boolean", v))).transpose()
    }

    pub fn string(&self, key: &str) -> OptionResult<Option<&'a str>> {
        self.get(key).map(|v| v.as_str().ok_or_else(|| self.type_error(key, "a string", v))).transpose()
    }

    /// One of `choices` (exact spelling).
    pub fn choice(&self, key: &str, choices: &[&'static str]) -> OptionResult<Option<&'static str>> {
        let Some(text) = self.string(key)? else { return Ok(None) };
        choices.iter().find(|c| **c == text).map(|c| Some(*c)).ok_or_else(|| {
            OptionError::Range(format!("{}: unknown value '{text}'; expected one of {}", self.field(key), choices.join(", ")))
        })
    }

    fn array(&self, key: &str, expected: &str) -> OptionResult<Option<&'a Vec<Value>>> {
        self.get(key).map(|v| v.as_array().ok_or_else(|| self.type_error(key, expected, v))).transpose()
    }

    /// An array of strings.
    pub fn strings(&self, key: &str) -> OptionResult<Option<Vec<String>>> {
        let Some(items) = self.array(key, "an array of strings")? else { return Ok(None) };
        let strings = items.iter().enumerate().map(|(i, v)| {
            v.as_str().map(str::to_string).ok_or_else(|| self.type_error(&format!("{key}[{i}]"), "a string", v))
        });
        strings.collect::<OptionResult<Vec<_>>>().map(Some)
    }

    /// An array of integers in `min..=max`.
    pub fn integers(&self, key: &str, min: usize, max: usize) -> OptionResult<Option<Vec<usize>>> {
        let Some(items) = self.array(key, "an array of integers")? else { return Ok(None) };
        let values = items.iter().enumerate().map(|(i, v)| self.integer_value(&format!("{key}[{i}]"), v, min, max));
        values.collect::<OptionResult<Vec<_>>>().map(Some)
    }

    /// An array of arrays of integers in `min..=max` (NBEATS' `mlpUnits`, for example).
    pub fn integer_lists(&self, key: &str, min: usize, max: usize) -> OptionResult<Option<Vec<Vec<usize>>>> {
        let Some(items) = self.array(key, "an array of arrays of integers")? else { return Ok(None) };
        let lists = items.iter().enumerate().map(|(i, v)| {
            let inner = v.as_array().ok_or_else(|| self.type_error(&format!("{key}[{i}]"), "an array of integers", v))?;
            let values = inner.iter().enumerate().map(|(j, x)| self.integer_value(&format!("{key}[{i}][{j}]"), x, min, max));
            values.collect::<OptionResult<Vec<_>>>()
        });
        lists.collect::<OptionResult<Vec<_>>>().map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn unknown_keys_list_the_accepted_ones() {
        let m = map(json!({ "h": 3, "hiddenSize": 8 }));
        let err = ModelOptions::new("LSTM", &m).check_keys(&[&["h"], &["inputSize"]]).unwrap_err();
        assert_eq!(err, OptionError::Type("LSTM has an unknown option 'hiddenSize'; accepted options are: h, inputSize".into()));
    }

    #[test]
    fn typed_getters_name_the_field() {
        let m = map(json!({ "h": 2.5, "alias": 5, "units": [[1, 2], [3, "x"]], "lr": -1, "nothing": null }));
        let o = ModelOptions::new("models[0]", &m);
        assert!(matches!(o.size("h"), Err(OptionError::Range(m)) if m.contains("models[0].h must be an integer")));
        assert!(matches!(o.string("alias"), Err(OptionError::Type(m)) if m == "models[0].alias must be a string, got the number 5"));
        assert!(matches!(o.integer_lists("units", 1, 9), Err(OptionError::Type(m)) if m.contains("models[0].units[1][1]")));
        assert!(matches!(o.positive("lr"), Err(OptionError::Range(_))));
        assert_eq!(o.size("nothing"), Ok(None));
        assert_eq!(o.size("missing"), Ok(None));
    }

    #[test]
    fn choices_and_lists() {
        let m = map(json!({ "kind": "trend", "names": ["a", "b"], "sizes": [1, 2] }));
        let o = ModelOptions::new("NBEATS", &m);
        assert_eq!(o.choice("kind", &["identity", "trend"]), Ok(Some("trend")));
        assert!(o.choice("kind", &["identity"]).is_err());
        assert_eq!(o.strings("names"), Ok(Some(vec!["a".into(), "b".into()])));
        assert_eq!(o.integers("sizes", 1, 2), Ok(Some(vec![1, 2])));
        assert!(o.integers("sizes", 2, 2).is_err());
    }
}
