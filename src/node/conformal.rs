//! AutoEnsemble's conformal intervals (`lib/ensemble.js`): the engine's own computation
//! ([`crate::engine::conformal_intervals`]) over the ensemble's combined forecast and its conformity scores, so
//! the ensemble's intervals and a single model's are the same arithmetic.

use napi::bindgen_prelude::{Float64ArraySlice, Object, Unknown};
use napi::Env;
use napi_derive::napi;

use super::args::{self, with_js_errors, ArgError};
use crate::engine::{conformal_intervals as intervals, Calibration, IntervalMethod};

/// The interval columns `alias-lo-L` / `alias-hi-L` (NeuralForecast's order) of `point` (`[series, horizon]`) from
/// `scores` (`[series, window, h]`, `nWindows` windows of `h` steps) with `method` ('conformal_distribution' or
/// 'conformal_error').
#[napi(
    catch_unwind,
    ts_args_type = "alias: string, point: Float64Array, scores: Float64Array, horizon: number, nWindows: number, h: number, method: string, levels: number[]",
    ts_return_type = "Record<string, Float64Array>"
)]
#[allow(clippy::too_many_arguments)] // positional like the core function it binds; lib/ensemble.js is its one caller
pub fn conformal_intervals<'env>(
    env: &'env Env,
    alias: Unknown<'_>,
    point: Unknown<'_>,
    scores: Unknown<'_>,
    horizon: Unknown<'_>,
    n_windows: Unknown<'_>,
    h: Unknown<'_>,
    method: Unknown<'_>,
    levels: Unknown<'_>,
) -> napi::Result<Object<'env>> {
    let columns = with_js_errors(env, "conformalIntervals", || {
        let alias = args::string(&alias, "alias")?;
        let horizon = args::integer(&horizon, "horizon", 1, u32::MAX as usize)?;
        let windows = args::integer(&n_windows, "nWindows", 2, u32::MAX as usize)?;
        let h = args::integer(&h, "h", 1, u32::MAX as usize)?;
        let method = args::string(&method, "method")?;
        let method = IntervalMethod::parse(&method)
            .ok_or_else(|| ArgError::Range(format!("method must be 'conformal_distribution' or 'conformal_error', got '{method}'")))?;
        let levels = args::f64s(&levels, "levels")?;
        let point = args::copied::<f64>(&point, "point", "a Float64Array")?;
        let scores = args::copied::<f64>(&scores, "scores", "a Float64Array")?;
        intervals(&alias, &point, &scores, horizon, Calibration { windows, h, method }, &levels).map_err(|e| ArgError::Range(e.to_string()))
    })?;
    let mut object = Object::new(env)?;
    for (name, values) in columns {
        object.set(name, Float64ArraySlice::copy_from(env, &values)?.into_typed_array(env)?)?;
    }
    Ok(object)
}
