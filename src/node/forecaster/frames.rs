//! Forecast and cross-validation results as the JS objects main.js unpacks: `{ unique_id: { labels, counts },
//! ds, …, <alias>: Float64Array, … }`. The ids are packed as one label per run of equal ids (a series' rows) with
//! the run lengths, and integer steps as a Float64Array: setting 120,000 array elements one napi call at a time
//! costs more than the forecast of 10,000 series on a thread; JavaScript builds the same arrays from the packed
//! form in a millisecond.

use napi::bindgen_prelude::{Float64Array, Float64ArraySlice, Object, ToNapiValue, TypeName, Uint32ArraySlice};
use napi::{Env, JsValue, ValueType};

use crate::data::{format_ds_column, Ds};
use crate::engine::{CrossValidationResult, FeatureImportances, Forecast};

/// A result in the packed form: a [`Forecast`] (`{ unique_id, ds, <column>… }`) or a [`CrossValidationResult`]
/// (`{ unique_id, ds, cutoff, y, <column>… }`).
pub struct Frame<T>(pub T);

impl<T> TypeName for Frame<T> {
    fn type_name() -> &'static str {
        "Forecast"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for Frame<Forecast> {
    unsafe fn to_napi_value(raw_env: napi::sys::napi_env, value: Self) -> napi::Result<napi::sys::napi_value> {
        let forecast = value.0;
        packed(&Env::from_raw(raw_env), &forecast.unique_id, &[("ds", &forecast.ds)], forecast.columns)
    }
}

impl ToNapiValue for Frame<CrossValidationResult> {
    unsafe fn to_napi_value(raw_env: napi::sys::napi_env, value: Self) -> napi::Result<napi::sys::napi_value> {
        let cv = value.0;
        let columns = std::iter::once(("y".to_string(), cv.y)).chain(cv.columns).collect();
        packed(&Env::from_raw(raw_env), &cv.unique_id, &[("ds", &cv.ds), ("cutoff", &cv.cutoff)], columns)
    }
}

/// A TFT's interpretability outputs: `{ model, static, past, future, attention }`, each group `{ <variable>:
/// importance }` in the model's order, and the attention as rows of `inputSize + h` step weights.
impl ToNapiValue for Frame<FeatureImportances> {
    unsafe fn to_napi_value(raw_env: napi::sys::napi_env, value: Self) -> napi::Result<napi::sys::napi_value> {
        let (env, importances) = (Env::from_raw(raw_env), value.0);
        let group = |pairs: &[(String, f64)]| {
            let mut object = Object::new(&env)?;
            pairs.iter().try_for_each(|(name, weight)| object.set(name, *weight))?;
            Ok::<_, napi::Error>(object)
        };
        let mut object = Object::new(&env)?;
        object.set("model", importances.model.as_str())?;
        object.set("static", group(&importances.stat)?)?;
        object.set("past", group(&importances.past)?)?;
        object.set("future", group(&importances.future)?)?;
        let rows: Vec<Vec<f64>> = importances.attention.chunks_exact(importances.steps.max(1)).map(<[f64]>::to_vec).collect();
        object.set("attention", rows)?;
        Ok(object.raw())
    }
}

/// `{ unique_id: { labels, counts }, <ds column>…, <column>: Float64Array… }` in that order.
fn packed(env: &Env, unique_id: &[String], ds_columns: &[(&str, &[Ds])], columns: Vec<(String, Vec<f64>)>) -> napi::Result<napi::sys::napi_value> {
    let mut object = Object::new(env)?;
    object.set("unique_id", packed_ids(env, unique_id)?)?;
    set_ds_columns(env, &mut object, ds_columns)?;
    for (name, values) in columns {
        object.set(name, floats(env, &values)?)?;
    }
    Ok(object.raw())
}

/// Values as a typed array in JS-owned memory, as forecastWindow's: an external buffer waits for a finalizer on the
/// event loop, so a synchronous loop of forecasts would hold every result until it yields.
fn floats(env: &Env, values: &[f64]) -> napi::Result<Float64Array> {
    Float64ArraySlice::copy_from(env, values)?.into_typed_array(env)
}

/// Sets ds columns formatted alike: integer steps as Float64Arrays when every value is one, else strings in the
/// one format that fits all of them.
fn set_ds_columns(env: &Env, object: &mut Object<'_>, columns: &[(&str, &[Ds])]) -> napi::Result<()> {
    if columns.iter().all(|(_, ds)| ds.iter().all(|d| d.is_int())) {
        for (key, ds) in columns {
            object.set(key, floats(env, &ds.iter().map(|d| d.to_epoch_millis()).collect::<Vec<_>>())?)?;
        }
        return Ok(());
    }
    let all: Vec<Ds> = columns.iter().flat_map(|(_, ds)| ds.iter().copied()).collect();
    let mut text = format_ds_column(&all).into_iter();
    for (key, ds) in columns {
        object.set(key, text.by_ref().take(ds.len()).collect::<Vec<String>>())?;
    }
    Ok(())
}

/// Row ids as `{ labels, counts }`: one label per run of equal ids and the run's length.
fn packed_ids<'e>(env: &'e Env, ids: &[String]) -> napi::Result<Object<'e>> {
    let mut labels: Vec<&str> = Vec::new();
    let mut counts: Vec<u32> = Vec::new();
    for id in ids {
        match (labels.last(), counts.last_mut()) {
            (Some(&last), Some(count)) if last == id => *count += 1,
            _ => {
                labels.push(id);
                counts.push(1);
            }
        }
    }
    let mut packed = Object::new(env)?;
    packed.set("labels", labels)?;
    packed.set("counts", Uint32ArraySlice::copy_from(env, &counts)?.into_typed_array(env)?)?;
    Ok(packed)
}
