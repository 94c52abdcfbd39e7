//! Argument conversion and validation for the binding layer.
//!
//! Every user-facing argument arrives as an `Unknown` and is checked here, so that a wrong type or value
//! becomes a JS `TypeError` or `RangeError` whose message names the function and the argument, instead of
//! napi's generic conversion error.

use std::borrow::Cow;

use napi::bindgen_prelude::{FromNapiValue, Object, Unknown};
use napi::bindgen_prelude::JsObjectValue;
use napi::{Env, JsRangeError, JsTypeError, JsValue, Status, ValueType};

pub use super::arrays::{copied, each_element, f64s, lent, numbers, numbers_list, numbers_pair, typed_kind};

/// A user error to be thrown as a JS `TypeError` or `RangeError`, or a napi failure passed through.
#[derive(Debug)]
pub enum ArgError {
    Type(String),
    Range(String),
    Napi(napi::Error),
}

impl ArgError {
    /// Prefixes the message with where it happened, e.g. `ops.rollingMean: `.
    pub fn context(self, function: &str) -> Self {
        match self {
            ArgError::Type(m) => ArgError::Type(format!("{function}: {m}")),
            ArgError::Range(m) => ArgError::Range(format!("{function}: {m}")),
            ArgError::Napi(e) => ArgError::Napi(napi::Error::new(e.status, format!("{function}: {}", e.reason))),
        }
    }

    /// The error as a JS `TypeError`/`RangeError` object held by a napi error: returned from a function, napi
    /// throws it; returned from an async task's `reject`, the Promise rejects with it.
    pub fn into_napi(self, env: &Env) -> napi::Error {
        let error = |m: String| napi::Error::new(Status::GenericFailure, m);
        let js = match self {
            ArgError::Type(m) => JsTypeError::from(error(m)).into_unknown(*env),
            ArgError::Range(m) => JsRangeError::from(error(m)).into_unknown(*env),
            ArgError::Napi(e) => return e,
        };
        napi::Error::from(js)
    }
}

impl From<napi::Error> for ArgError {
    fn from(e: napi::Error) -> Self {
        ArgError::Napi(e)
    }
}

pub type ArgResult<T> = Result<T, ArgError>;

/// Runs a binding body and turns its `ArgError` into a thrown JS error prefixed with the function name.
pub fn with_js_errors<T>(env: &Env, function: &str, body: impl FnOnce() -> ArgResult<T>) -> napi::Result<T> {
    body().map_err(|e| e.context(function).into_napi(env))
}

/// A numeric array argument: f64 or f32 values, borrowed from a typed array's memory where [`numbers`] may lend
/// it, copied otherwise.
pub enum Numbers<'a> {
    F64(Cow<'a, [f64]>),
    F32(Cow<'a, [f32]>),
}

impl<'a> Numbers<'a> {
    pub fn len(&self) -> usize {
        match self {
            Numbers::F64(x) => x.len(),
            Numbers::F32(x) => x.len(),
        }
    }

    /// Copies the values into `out` (of the same length), converting to its element type.
    pub fn write_as<T: crate::kernels::Float>(&self, out: &mut [T]) {
        match self {
            Numbers::F32(x) => out.iter_mut().zip(x.iter()).for_each(|(o, &v)| *o = T::from_f64(v as f64)),
            Numbers::F64(x) => out.iter_mut().zip(x.iter()).for_each(|(o, &v)| *o = T::from_f64(v)),
        }
    }

    /// The values as f64, borrowing when they already are.
    pub fn to_f64(&self) -> Cow<'_, [f64]> {
        match self {
            Numbers::F64(x) => Cow::Borrowed(x),
            Numbers::F32(x) => Cow::Owned(x.iter().map(|&v| v as f64).collect()),
        }
    }
}

/// Describes a JS value's type for error messages ("a string", "undefined", ...).
pub fn describe(value: &Unknown<'_>) -> String {
    let kind = match value.get_type() {
        Ok(t) => t,
        Err(_) => return "an unreadable value".into(),
    };
    match kind {
        ValueType::Undefined => "undefined".into(),
        ValueType::Null => "null".into(),
        ValueType::Boolean => "a boolean".into(),
        ValueType::Number => "a number".into(),
        ValueType::String => "a string".into(),
        ValueType::Symbol => "a symbol".into(),
        ValueType::Function => "a function".into(),
        ValueType::BigInt => "a bigint".into(),
        ValueType::Object if value.is_array().unwrap_or(false) => "an array".into(),
        ValueType::Object if value.is_typedarray().unwrap_or(false) => typed_array_name(value),
        _ => "an object".into(),
    }
}

fn typed_array_name(value: &Unknown<'_>) -> String {
    use napi::sys::TypedarrayType as Kind;
    let name = match super::arrays::typed_kind(value) {
        Ok(Some(Kind::int8_array)) => "an Int8Array",
        Ok(Some(Kind::uint8_array)) => "a Uint8Array",
        Ok(Some(Kind::uint8_clamped_array)) => "a Uint8ClampedArray",
        Ok(Some(Kind::int16_array)) => "an Int16Array",
        Ok(Some(Kind::uint16_array)) => "a Uint16Array",
        Ok(Some(Kind::int32_array)) => "an Int32Array",
        Ok(Some(Kind::uint32_array)) => "a Uint32Array",
        Ok(Some(Kind::float32_array)) => "a Float32Array",
        Ok(Some(Kind::float64_array)) => "a Float64Array",
        Ok(Some(Kind::bigint64_array)) => "a BigInt64Array",
        Ok(Some(Kind::biguint64_array)) => "a BigUint64Array",
        _ => "a typed array",
    };
    name.into()
}

/// Reads a JS number (any value, NaN and ±Infinity included: the kernels' NaN policy applies).
pub fn number(value: &Unknown<'_>, name: &str) -> ArgResult<f64> {
    if value.get_type()? != ValueType::Number {
        return Err(ArgError::Type(format!("{name} must be a number, got {}", describe(value))));
    }
    let raw = value.value();
    Ok(unsafe { f64::from_napi_value(raw.env, raw.value) }?)
}

/// Reads an integer in `min..=max`; fractional, non-finite and out-of-range values are RangeErrors.
pub fn integer(value: &Unknown<'_>, name: &str, min: usize, max: usize) -> ArgResult<usize> {
    let x = number(value, name)?;
    if !(x.is_finite() && x.fract() == 0.0 && x >= min as f64 && x <= max as f64) {
        return Err(ArgError::Range(format!("{name} must be an integer between {min} and {max}, got {x}")));
    }
    Ok(x as usize)
}

/// Reads a plain options object (undefined means "no options") and rejects keys outside `accepted`.
pub fn options<'a>(value: Option<&Unknown<'a>>, name: &str, accepted: &[&str]) -> ArgResult<Option<Object<'a>>> {
    let Some(value) = value else { return Ok(None) };
    match value.get_type()? {
        ValueType::Undefined => return Ok(None),
        ValueType::Object if !value.is_array()? && !value.is_typedarray()? => {}
        _ => return Err(ArgError::Type(format!("{name} must be an object, got {}", describe(value)))),
    }
    let raw = value.value();
    let object = Object::from_raw(raw.env, raw.value);
    let keys: Vec<String> = Object::keys(&object)?;
    if let Some(unknown) = keys.iter().find(|k| !accepted.contains(&k.as_str())) {
        return Err(ArgError::Type(format!(
            "{name} has an unknown option '{unknown}'; accepted options are: {}",
            accepted.join(", ")
        )));
    }
    Ok(Some(object))
}

/// Reads `options[key]`, treating undefined as absent.
pub fn property<'a>(object: &Object<'a>, key: &str) -> ArgResult<Option<Unknown<'a>>> {
    let value: Unknown = object.get_named_property(key)?;
    Ok((value.get_type()? != ValueType::Undefined).then_some(value))
}

/// Reads an object argument without restricting its keys (for example statistics returned by another call).
pub fn object<'a>(value: &Unknown<'a>, name: &str) -> ArgResult<Object<'a>> {
    if value.get_type()? != ValueType::Object || value.is_array()? {
        return Err(ArgError::Type(format!("{name} must be an object, got {}", describe(value))));
    }
    let raw = value.value();
    Ok(Object::from_raw(raw.env, raw.value))
}

/// Reads the number `object[key]`, which must be present.
pub fn required_number(object: &Object<'_>, key: &str, name: &str) -> ArgResult<f64> {
    let field = format!("{name}.{key}");
    match property(object, key)? {
        Some(value) => number(&value, &field),
        None => Err(ArgError::Type(format!("{field} must be a number, got undefined"))),
    }
}

/// Reads a string.
pub fn string(value: &Unknown<'_>, name: &str) -> ArgResult<String> {
    if value.get_type()? != ValueType::String {
        return Err(ArgError::Type(format!("{name} must be a string, got {}", describe(value))));
    }
    let raw = value.value();
    Ok(unsafe { String::from_napi_value(raw.env, raw.value) }?)
}

/// Reads a boolean.
pub fn boolean(value: &Unknown<'_>, name: &str) -> ArgResult<bool> {
    if value.get_type()? != ValueType::Boolean {
        return Err(ArgError::Type(format!("{name} must be a boolean, got {}", describe(value))));
    }
    let raw = value.value();
    Ok(unsafe { bool::from_napi_value(raw.env, raw.value) }?)
}

/// Reads a finite number greater than 0.
pub fn positive_number(value: &Unknown<'_>, name: &str) -> ArgResult<f64> {
    let x = number(value, name)?;
    if !(x.is_finite() && x > 0.0) {
        return Err(ArgError::Range(format!("{name} must be a finite number greater than 0, got {x}")));
    }
    Ok(x)
}

/// Reads a Buffer or Uint8Array into owned bytes.
pub fn bytes(value: &Unknown<'_>, name: &str) -> ArgResult<Vec<u8>> {
    copied::<u8>(value, name, "a Buffer or Uint8Array")
}

/// Nesting deeper than this in an options object is refused (options are a few levels deep at most).
const MAX_JSON_DEPTH: usize = 8;

/// Converts an options value (plain objects, arrays, strings, finite numbers, booleans, null) into JSON for the
/// core to validate; `undefined` properties are left out. Other values (functions, symbols, NaN, typed arrays)
/// are refused with the property's path.
pub fn json(value: &Unknown<'_>, name: &str) -> ArgResult<serde_json::Value> {
    json_at(value, name, 0)
}

fn json_at(value: &Unknown<'_>, name: &str, depth: usize) -> ArgResult<serde_json::Value> {
    use serde_json::Value;
    if depth > MAX_JSON_DEPTH {
        return Err(ArgError::Range(format!("{name} is nested too deeply")));
    }
    match value.get_type()? {
        ValueType::Null => Ok(Value::Null),
        ValueType::Boolean => Ok(Value::Bool(boolean(value, name)?)),
        ValueType::String => Ok(Value::String(string(value, name)?)),
        ValueType::Number => {
            let x = number(value, name)?;
            serde_json::Number::from_f64(x)
                .map(Value::Number)
                .ok_or_else(|| ArgError::Range(format!("{name} must be a finite number, got {x}")))
        }
        ValueType::Object if value.is_array()? => {
            each_element(value, name, "values", |item, i| json_at(item, &format!("{name}[{i}]"), depth + 1)).map(Value::Array)
        }
        ValueType::Object if !value.is_typedarray()? => {
            let raw = value.value();
            let object = Object::from_raw(raw.env, raw.value);
            let mut map = serde_json::Map::new();
            for key in Object::keys(&object)? {
                if let Some(item) = property(&object, &key)? {
                    map.insert(key.clone(), json_at(&item, &format!("{name}.{key}"), depth + 1)?);
                }
            }
            Ok(Value::Object(map))
        }
        _ => Err(ArgError::Type(format!("{name} must be a plain value (object, array, string, number or boolean), got {}", describe(value)))),
    }
}

/// An options object as JSON (`undefined` is "no options").
pub fn json_object(value: &Unknown<'_>, name: &str) -> ArgResult<serde_json::Map<String, serde_json::Value>> {
    match json(value, name)? {
        serde_json::Value::Object(map) => Ok(map),
        _ => Err(ArgError::Type(format!("{name} must be an object, got {}", describe(value)))),
    }
}
