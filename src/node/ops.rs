//! `ops`: the preprocessing kernels as plain functions over Float64Array, Float32Array or number[].

use napi::bindgen_prelude::Unknown;
use napi::Env;
use napi_derive::napi;

use super::args::{self, with_js_errors, ArgError, ArgResult, Numbers};
use std::sync::LazyLock;

mod output;
use output::{write, write_parts, Element, Written};

use crate::kernels::{self, Float, KernelError};
use crate::pool::MemoryPool;
use crate::simd;

impl From<KernelError> for ArgError {
    fn from(e: KernelError) -> Self {
        ArgError::Range(e.to_string())
    }
}

/// Evaluates `$body` with `$x` bound to the input as `&[f64]` or `&[f32]`, whichever it holds; the body is
/// written once and instantiated for both element types.
macro_rules! on_elements {
    ($numbers:expr, |$x:ident| $body:expr) => {
        match &$numbers {
            Numbers::F64(v) => {
                let $x: &[f64] = v;
                $body
            }
            Numbers::F32(v) => {
                let $x: &[f32] = v;
                $body
            }
        }
    };
}

/// As `on_elements!` for two inputs: f32 when both are Float32Array, f64 otherwise.
macro_rules! on_pair {
    ($first:expr, $second:expr, |$a:ident, $b:ident| $body:expr) => {
        match (&$first, &$second) {
            (Numbers::F32(p), Numbers::F32(q)) => {
                let ($a, $b): (&[f32], &[f32]) = (p, q);
                $body
            }
            (p, q) => {
                let (p, q) = (p.to_f64(), q.to_f64());
                let ($a, $b): (&[f64], &[f64]) = (&p, &q);
                $body
            }
        }
    };
}

/// Runs `kernel` over `x` into `out` or a new array of `len` elements (see `output::write`) and returns that array.
fn written<T: Element>(
    env: &Env,
    out: &Option<Unknown<'_>>,
    len: usize,
    x: &[T],
    kernel: impl FnOnce(&[T], &mut [T]) -> Result<(), KernelError>,
) -> ArgResult<Written> {
    Ok(write(env, out.as_ref(), len, [x], |[x], out| kernel(x, out))?.0)
}

fn ddof_arg(ddof: Option<Unknown<'_>>) -> ArgResult<usize> {
    ddof.map_or(Ok(0), |d| args::integer(&d, "ddof", 0, u32::MAX as usize))
}

fn window_arg(window: &Unknown<'_>, len: usize) -> ArgResult<usize> {
    args::integer(window, "window", 1, len.max(1))
}

/// Defines the `#[napi]` function of an op in the `ops` namespace: its arguments are JS values (`Unknown`), those
/// after `;` optional, and `$body` runs under `with_js_errors`, whose messages name the op `$js`. What follows `->`
/// sets the return type and its TypeScript type, the arguments' being `$ts_args`:
/// - `f64`: a number;
/// - `T`: an array of the first argument's element type (TypeScript's `T`, that argument's type);
/// - `FloatArray`: an array of either element type;
/// - `$object as $ts_object`: an object of the `#[napi(object)]` struct `$object`.
/// The arrays are the optional last argument `out` when given (written in place), new ones otherwise.
///
/// The ops' docs are written `#[doc = "…"]`: a `///` comment passed through a macro reaches napi as a raw string,
/// whose `r"` it would copy into index.d.ts.
macro_rules! op {
    ($(#[$doc:meta])* $js:literal fn $name:ident($($params:tt)*) -> f64, ts_args $ts_args:tt $body:block) => {
        op!(@fn [$(#[$doc])* #[napi(namespace = "ops", catch_unwind, ts_args_type = $ts_args)]]
            $js $name($($params)*) -> f64 $body);
    };
    ($(#[$doc:meta])* $js:literal fn $name:ident($($params:tt)*) -> T, ts_args $ts_args:tt $body:block) => {
        op!(@fn [
            $(#[$doc])*
            #[napi(
                namespace = "ops",
                catch_unwind,
                ts_generic_types = "T extends Float64Array | Float32Array | number[]",
                ts_args_type = $ts_args,
                ts_return_type = "T extends Float32Array ? Float32Array : Float64Array"
            )]
        ] $js $name($($params)*) -> Written $body);
    };
    ($(#[$doc:meta])* $js:literal fn $name:ident($($params:tt)*) -> FloatArray, ts_args $ts_args:tt $body:block) => {
        op!(@fn [
            $(#[$doc])*
            #[napi(namespace = "ops", catch_unwind, ts_args_type = $ts_args, ts_return_type = "Float64Array | Float32Array")]
        ] $js $name($($params)*) -> Written $body);
    };
    ($(#[$doc:meta])* $js:literal fn $name:ident($($params:tt)*) -> $object:ident as $ts_object:tt, ts_args $ts_args:tt $body:block) => {
        op!(@fn [
            $(#[$doc])*
            #[napi(namespace = "ops", catch_unwind, ts_args_type = $ts_args, ts_return_type = $ts_object)]
        ] $js $name($($params)*) -> $object $body);
    };
    (@fn [$($attrs:tt)*] $js:tt $name:ident($env:ident $(, $arg:ident)* $(; $($optional:ident),+)?) -> $ret:ident $body:block) => {
        $($attrs)*
        pub fn $name($env: Env $(, $arg: Unknown<'_>)* $($(, $optional: Option<Unknown<'_>>)+)?) -> napi::Result<$ret> {
            with_js_errors(&$env, $js, || $body)
        }
    };
}

// ---- reductions ---------------------------------------------------------------------------------------------

/// Defines a reduction of one array to a number by `$kernel(x)`, which fails on an empty array.
macro_rules! reduction_ops {
    ($($(#[$doc:meta])* $js:literal fn $name:ident = $kernel:path;)*) => {$(
        op! {
            $(#[$doc])*
            $js fn $name(env, x) -> f64, ts_args "x: Float64Array | Float32Array | number[]" {
                let x = args::numbers(&x, "x")?;
                Ok(on_elements!(x, |v| $kernel(v)?.to_f64()))
            }
        }
    )*};
}

op! {
    #[doc = " Sum of the values (0 for an empty array). Compensated/pairwise, so it stays accurate for long inputs."]
    "ops.sum" fn sum(env, x) -> f64, ts_args "x: Float64Array | Float32Array | number[]" {
        let x = args::numbers(&x, "x")?;
        Ok(on_elements!(x, |v| kernels::sum(v).to_f64()))
    }
}

reduction_ops! {
    #[doc = " Arithmetic mean. Throws a RangeError for an empty array."]
    "ops.mean" fn mean = kernels::mean;
    #[doc = " Smallest value; NaN if any value is NaN (like numpy's `min`)."]
    "ops.min" fn min = kernels::min;
    #[doc = " Largest value; NaN if any value is NaN (like numpy's `max`)."]
    "ops.max" fn max = kernels::max;
}

op! {
    #[doc = " Variance around the mean, divided by `n - ddof` (default ddof 0, the population variance; 1 gives the"]
    #[doc = " sample variance). Two-pass, so large offsets do not cancel."]
    "ops.variance" fn variance(env, x; ddof) -> f64, ts_args "x: Float64Array | Float32Array | number[], ddof?: number" {
        let (x, ddof) = (args::numbers(&x, "x")?, ddof_arg(ddof)?);
        Ok(on_elements!(x, |v| kernels::variance(v, ddof)?.to_f64()))
    }
}

op! {
    #[doc = " Standard deviation: the square root of `variance(x, ddof)`."]
    "ops.std" fn std(env, x; ddof) -> f64, ts_args "x: Float64Array | Float32Array | number[], ddof?: number" {
        let (x, ddof) = (args::numbers(&x, "x")?, ddof_arg(ddof)?);
        Ok(on_elements!(x, |v| kernels::std(v, ddof)?.to_f64()))
    }
}

op! {
    #[doc = " Dot product of two arrays of the same length."]
    "ops.dot" fn dot(env, a, b) -> f64,
    ts_args "a: Float64Array | Float32Array | number[], b: Float64Array | Float32Array | number[]" {
        let (a, b) = args::numbers_pair((&a, "a"), (&b, "b"))?;
        Ok(on_pair!(a, b, |p, q| kernels::dot(p, q)?.to_f64()))
    }
}

// ---- element-wise -----------------------------------------------------------------------------------------

/// Defines an element-wise op of two arrays of the same length, `$kernel(a, b, out)`.
macro_rules! zip_ops {
    ($($(#[$doc:meta])* $js:literal fn $name:ident = $kernel:path;)*) => {$(
        op! {
            $(#[$doc])*
            $js fn $name(env, a, b; out) -> FloatArray,
            ts_args "a: Float64Array | Float32Array | number[], b: Float64Array | Float32Array | number[], out?: Float64Array | Float32Array" {
                let (a, b) = args::numbers_pair((&a, "a"), (&b, "b"))?;
                on_pair!(a, b, |p, q| Ok(write(&env, out.as_ref(), p.len(), [p, q], |[p, q], out| $kernel(p, q, out))?.0))
            }
        }
    )*};
}

zip_ops! {
    #[doc = " Element-wise sum `a + b`, into `out` when given (Float32Array when `a` and `b` are, else Float64Array)."]
    "ops.add" fn add = kernels::add;
    #[doc = " Element-wise product `a * b`, into `out` when given (Float32Array when `a` and `b` are, else Float64Array)."]
    "ops.mul" fn mul = kernels::mul;
}

op! {
    #[doc = " `x * s`, into `out` when given (x's element type and length; it may be `x` itself)."]
    "ops.scale" fn scale(env, x, s; out) -> T, ts_args "x: T, s: number, out?: T extends Float32Array ? Float32Array : Float64Array" {
        let (x, s) = (args::numbers(&x, "x")?, args::number(&s, "s")?);
        on_elements!(x, |v| written(&env, &out, v.len(), v, |v, out| kernels::scale(v, Float::from_f64(s), out)))
    }
}

op! {
    #[doc = " `alpha * x + y` (BLAS axpy), into `out` when given (it may be `y`, for BLAS's in-place form); else `y`"]
    #[doc = " is not modified."]
    "ops.axpy" fn axpy(env, alpha, x, y; out) -> FloatArray,
    ts_args "alpha: number, x: Float64Array | Float32Array | number[], y: Float64Array | Float32Array | number[], out?: Float64Array | Float32Array" {
        let alpha = args::number(&alpha, "alpha")?;
        let (x, y) = args::numbers_pair((&x, "x"), (&y, "y"))?;
        on_pair!(x, y, |p, q| {
            let axpy = |[p, q]: [&[_]; 2], out: &mut [_]| {
                // Checked before `out` takes `y`'s values, so that a refused call leaves `out` as it was.
                if p.len() != q.len() {
                    return Err(KernelError::LengthMismatch { arg: "y", expected: p.len(), got: q.len() });
                }
                out.copy_from_slice(q);
                kernels::axpy(Float::from_f64(alpha), p, out)
            };
            Ok(write(&env, out.as_ref(), q.len(), [p, q], axpy)?.0)
        })
    }
}

// ---- scaling ------------------------------------------------------------------------------------------------

/// Z-scores `(x - mean) / std` (population std) with the statistics needed to invert them. A constant input
/// (std 0) maps to zeros.
#[napi(object, object_from_js = false, namespace = "ops")]
pub struct Normalized {
    #[napi(ts_type = "Float64Array | Float32Array")]
    pub values: Written,
    pub mean: f64,
    pub std: f64,
}

/// Values scaled to [0, 1] with the range needed to invert them. A constant input maps to zeros.
#[napi(object, object_from_js = false, namespace = "ops")]
pub struct MinMaxScaled {
    #[napi(ts_type = "Float64Array | Float32Array")]
    pub values: Written,
    pub min: f64,
    pub max: f64,
}

/// Values scaled as `(x - median) / iqr` (interquartile range q75 - q25, numpy's linear interpolation), robust
/// to outliers. A zero IQR is treated as 1.
#[napi(object, object_from_js = false, namespace = "ops")]
pub struct RobustScaled {
    #[napi(ts_type = "Float64Array | Float32Array")]
    pub values: Written,
    pub median: f64,
    pub iqr: f64,
}

/// Reads the arguments of an inverse scaler: `values`, and the two statistics `keys` of the object `stats`
/// (first: their getters may run JavaScript, which must not find `values` lent).
fn unscale_args<'a>(
    values: &Unknown<'a>,
    stats: &Unknown<'_>,
    [first, second]: [&str; 2],
) -> ArgResult<(Numbers<'a>, f64, f64)> {
    let stats = args::object(stats, "stats")?;
    let first = args::required_number(&stats, first, "stats")?;
    let second = args::required_number(&stats, second, "stats")?;
    Ok((args::numbers(values, "values")?, first, second))
}

/// Defines a scaler's two ops: `$forward` scales `x` by `$kernel` and returns the values (`out` when given)
/// with the statistics `$first` and `$second` as a `$object`; `$inverse` maps values back by `$inverse_kernel`
/// from those statistics (the object `$forward` returned will do).
macro_rules! scaler_ops {
    (
        $(#[$forward_doc:meta])* $forward_js:literal fn $forward:ident -> $object:ident as $ts_object:tt, $kernel:path;
        $(#[$inverse_doc:meta])* $inverse_js:literal fn $inverse:ident, ts_args $ts_args:tt, $inverse_kernel:path;
        stats $first:ident, $second:ident
    ) => {
        op! {
            $(#[$forward_doc])*
            $forward_js fn $forward(env, x; out) -> $object as $ts_object,
            ts_args "x: Float64Array | Float32Array | number[], out?: Float64Array | Float32Array" {
                let x = args::numbers(&x, "x")?;
                let (values, ($first, $second)) = on_elements!(x, |v| {
                    let (values, (first, second)) = write(&env, out.as_ref(), v.len(), [v], |[v], out| $kernel(v, out))?;
                    ArgResult::Ok((values, (first.to_f64(), second.to_f64())))
                })?;
                Ok($object { values, $first, $second })
            }
        }

        op! {
            $(#[$inverse_doc])*
            $inverse_js fn $inverse(env, values, stats; out) -> T, ts_args $ts_args {
                let (values, $first, $second) = unscale_args(&values, &stats, [stringify!($first), stringify!($second)])?;
                on_elements!(values, |v| written(&env, &out, v.len(), v, |v, out| {
                    $inverse_kernel(v, Float::from_f64($first), Float::from_f64($second), out)
                }))
            }
        }
    };
}

scaler_ops! {
    #[doc = " Z-score normalization: returns `{ values, mean, std }` (`values` is `out` when given: x's element type and"]
    #[doc = " length, `x` itself allowed); `denormalize(values, { mean, std })` inverts it."]
    "ops.normalize" fn normalize -> Normalized as "ops.Normalized", kernels::zscore_normalize;
    #[doc = " Inverse of `normalize`: `values * std + mean`, into `out` when given. `stats` may be the object `normalize`"]
    #[doc = " returned."]
    "ops.denormalize" fn denormalize, ts_args "values: T, stats: { mean: number; std: number }, out?: T extends Float32Array ? Float32Array : Float64Array", kernels::zscore_denormalize;
    stats mean, std
}

scaler_ops! {
    #[doc = " Min-max scaling to [0, 1]: returns `{ values, min, max }` (`values` is `out` when given);"]
    #[doc = " `minMaxDenormalize` inverts it."]
    "ops.minMaxNormalize" fn min_max_normalize -> MinMaxScaled as "ops.MinMaxScaled", kernels::minmax_normalize;
    #[doc = " Inverse of `minMaxNormalize`: `values * (max - min) + min`, into `out` when given."]
    "ops.minMaxDenormalize" fn min_max_denormalize, ts_args "values: T, stats: { min: number; max: number }, out?: T extends Float32Array ? Float32Array : Float64Array",
    kernels::minmax_denormalize;
    stats min, max
}

scaler_ops! {
    #[doc = " Robust scaling: returns `{ values, median, iqr }` (`values` is `out` when given); `robustUnscale` inverts it."]
    "ops.robustScale" fn robust_scale -> RobustScaled as "ops.RobustScaled", kernels::robust_scale;
    #[doc = " Inverse of `robustScale`: `values * iqr + median`, into `out` when given."]
    "ops.robustUnscale" fn robust_unscale, ts_args "values: T, stats: { median: number; iqr: number }, out?: T extends Float32Array ? Float32Array : Float64Array",
    kernels::robust_denormalize;
    stats median, iqr
}

// ---- rolling windows ----------------------------------------------------------------------------------------

/// Defines a rolling-window op: output `out[i]` covers `x[i..i + window]`, length `x.length - window + 1`.
macro_rules! rolling_ops {
    ($($(#[$doc:meta])* $js:literal fn $name:ident = $kernel:path;)*) => {$(
        op! {
            $(#[$doc])*
            #[doc = " Into `out` when given (x's element type, `x.length - window + 1` elements)."]
            $js fn $name(env, x, window; out) -> T,
            ts_args "x: T, window: number, out?: T extends Float32Array ? Float32Array : Float64Array" {
                let x = args::numbers(&x, "x")?;
                let window = window_arg(&window, x.len())?;
                on_elements!(x, |v| written(&env, &out, v.len() + 1 - window, v, |v, out| $kernel(v, window, out)))
            }
        }
    )*};
}

rolling_ops! {
    #[doc = " Rolling mean over `window` values, in O(n) whatever the window. A window containing NaN gives NaN."]
    "ops.rollingMean" fn rolling_mean = kernels::rolling_mean;
    #[doc = " Rolling minimum over `window` values (van Herk/Gil-Werman, O(n)). NaN propagates to its windows."]
    "ops.rollingMin" fn rolling_min = kernels::rolling_min;
    #[doc = " Rolling maximum over `window` values (van Herk/Gil-Werman, O(n)). NaN propagates to its windows."]
    "ops.rollingMax" fn rolling_max = kernels::rolling_max;
}

op! {
    #[doc = " Rolling standard deviation over `window` values, divided by `window - ddof` (default ddof 0), in O(n)."]
    #[doc = " Into `out` when given (x's element type, `x.length - window + 1` elements)."]
    "ops.rollingStd" fn rolling_std(env, x, window; ddof, out) -> T,
    ts_args "x: T, window: number, ddof?: number, out?: T extends Float32Array ? Float32Array : Float64Array" {
        let x = args::numbers(&x, "x")?;
        let window = window_arg(&window, x.len())?;
        let ddof = ddof_arg(ddof)?;
        on_elements!(x, |v| written(&env, &out, v.len() + 1 - window, v, |v, out| kernels::rolling_std(v, window, ddof, out)))
    }
}

// ---- exponential moving average -----------------------------------------------------------------------------

const EMA_OPTIONS: &[&str] = &["alpha", "span"];

/// Reads `{ alpha }` (in (0, 1]) or `{ span }` (≥ 1, alpha = 2 / (span + 1)), exactly one of them.
fn ema_alpha(options: &Unknown<'_>) -> ArgResult<f64> {
    let options = args::options(Some(options), "options", EMA_OPTIONS)?
        .ok_or_else(|| ArgError::Type("options must be an object with alpha or span, got undefined".into()))?;
    match (args::property(&options, "alpha")?, args::property(&options, "span")?) {
        (Some(alpha), None) => {
            let alpha = args::number(&alpha, "options.alpha")?;
            if alpha > 0.0 && alpha <= 1.0 {
                Ok(alpha)
            } else {
                Err(KernelError::Alpha(alpha).into())
            }
        }
        (None, Some(span)) => Ok(kernels::alpha_from_span(args::number(&span, "options.span")?)?),
        _ => Err(ArgError::Type("options must set exactly one of alpha and span".into())),
    }
}

op! {
    #[doc = " Exponential moving average `y[0] = x[0]`, `y[t] = alpha * x[t] + (1 - alpha) * y[t - 1]` (pandas"]
    #[doc = " `ewm(adjust=False)`), with `{ alpha }` or `{ span }` (alpha = 2 / (span + 1))."]
    #[doc = " Into `out` when given (x's element type and length; it may be `x` itself)."]
    "ops.ema" fn ema(env, x, options; out) -> T,
    ts_args "x: T, options: { alpha: number } | { span: number }, out?: T extends Float32Array ? Float32Array : Float64Array" {
        let alpha = ema_alpha(&options)?;
        let x = args::numbers(&x, "x")?;
        on_elements!(x, |v| written(&env, &out, v.len(), v, |v, out| kernels::ema(v, Float::from_f64(alpha), out)))
    }
}

/// The `ema` of each series in `series`, computed in one batched, parallel pass. Computed in f32 (and returned
/// as Float32Arrays) when every series is a Float32Array, in f64 otherwise. Into `out` when given: an array
/// of one typed array per series, of that element type and the series' length.
#[napi(
    namespace = "ops",
    catch_unwind,
    ts_args_type = "series: Array<Float64Array | Float32Array | number[]>, options: { alpha: number } | { span: number }, out?: Array<Float64Array | Float32Array>",
    ts_return_type = "Array<Float64Array | Float32Array>"
)]
pub fn ema_batch(env: Env, series: Unknown<'_>, options: Unknown<'_>, out: Option<Unknown<'_>>) -> napi::Result<Written> {
    with_js_errors(&env, "ops.emaBatch", || {
        let alpha = ema_alpha(&options)?;
        // `out`'s elements before the series: reading them may run JavaScript (a getter or a Proxy), which must
        // not find a series' memory lent.
        let out = out.map(|out| output::OutArrays::read(&out)).transpose()?;
        let series = args::numbers_list(&series, "series")?;
        if series.iter().all(|s| matches!(s, Numbers::F32(_))) {
            ema_batch_as::<f32>(&env, &series, alpha, out.as_ref())
        } else {
            ema_batch_as::<f64>(&env, &series, alpha, out.as_ref())
        }
    })
}

/// Concatenates the series into pooled buffers, smooths them in one kernel call and splits the result.
fn ema_batch_as<T: Element>(env: &Env, series: &[Numbers<'_>], alpha: f64, out: Option<&output::OutArrays<'_>>) -> ArgResult<Written> {
    let mut offsets = Vec::with_capacity(series.len() + 1);
    offsets.push(0);
    for s in series {
        offsets.push(offsets[offsets.len() - 1] + s.len());
    }
    let total = offsets[series.len()];
    let mut values = T::pool().acquire(total);
    for (s, range) in series.iter().zip(offsets.windows(2)) {
        s.write_as(&mut values[range[0]..range[1]]);
    }
    let mut smoothed = T::pool().acquire(total);
    kernels::ema_batch(&values, &offsets, T::from_f64(alpha), &mut smoothed)?;
    let parts: Vec<&[T]> = offsets.windows(2).map(|r| &smoothed[r[0]..r[1]]).collect();
    write_parts(env, out, &parts)
}

// ---- buffer pool --------------------------------------------------------------------------------------------

/// The element types `ops` keeps a buffer pool for (temporaries of batched calls).
trait Pooled: Float {
    fn pool() -> &'static MemoryPool<Self>;
}

static POOL_F64: LazyLock<MemoryPool<f64>> = LazyLock::new(MemoryPool::default);
static POOL_F32: LazyLock<MemoryPool<f32>> = LazyLock::new(MemoryPool::default);

impl Pooled for f64 {
    fn pool() -> &'static MemoryPool<f64> {
        &POOL_F64
    }
}

impl Pooled for f32 {
    fn pool() -> &'static MemoryPool<f32> {
        &POOL_F32
    }
}

/// Counters of the buffer pool behind `ops` (its f64 and f32 pools together).
#[napi(object, namespace = "ops")]
pub struct PoolStats {
    /// Leases served by reusing an idle buffer.
    pub hits: f64,
    /// Leases that had to allocate.
    pub misses: f64,
    /// Returned buffers freed because keeping them would exceed the idle bound.
    pub evictions: f64,
    /// Bytes currently leased out.
    pub bytes_in_use: f64,
    /// Bytes held idle for reuse.
    pub bytes_idle: f64,
    /// Highest footprint (in use + idle) reached, summed over the pools.
    pub high_water_bytes: f64,
    /// The bound on idle bytes, summed over the pools.
    pub max_idle_bytes: f64,
}

/// Reads the counters of the buffer pool `ops` uses for temporaries.
#[napi(namespace = "ops", catch_unwind)]
pub fn pool_stats() -> PoolStats {
    let (a, b) = (POOL_F64.stats(), POOL_F32.stats());
    let sum = |x: usize, y: usize| (x + y) as f64;
    PoolStats {
        hits: (a.hits + b.hits) as f64,
        misses: (a.misses + b.misses) as f64,
        evictions: (a.evictions + b.evictions) as f64,
        bytes_in_use: sum(a.bytes_in_use, b.bytes_in_use),
        bytes_idle: sum(a.bytes_idle, b.bytes_idle),
        high_water_bytes: sum(a.high_water_bytes, b.high_water_bytes),
        max_idle_bytes: sum(a.max_idle_bytes, b.max_idle_bytes),
    }
}

// ---- SIMD switch ----------------------------------------------------------------------------------------------

/// The instruction sets: `detected` is the best this CPU supports, `active` the one the kernels use now.
#[napi(object, namespace = "ops")]
pub struct SimdInfo {
    /// Whether the SIMD paths are enabled (see `setSimdEnabled`).
    pub enabled: bool,
    /// Best instruction set of this CPU: "avx512f", "avx2+fma", "sse2" or "neon".
    pub detected: String,
    /// Instruction set in use: `detected`, or "scalar" while SIMD is disabled.
    pub active: String,
}

/// Reports the SIMD instruction set detected at run time and the one in use.
#[napi(namespace = "ops", catch_unwind)]
pub fn simd_info() -> SimdInfo {
    SimdInfo {
        enabled: simd::is_enabled(),
        detected: simd::detected().name().into(),
        active: simd::active().name().into(),
    }
}

/// Enables or disables the SIMD paths of every `ops` kernel, process-wide; disabled, the plain scalar twins
/// run (the reference implementations, useful to compare results).
#[napi(namespace = "ops", catch_unwind, ts_args_type = "enabled: boolean")]
pub fn set_simd_enabled(env: Env, enabled: Unknown<'_>) -> napi::Result<()> {
    with_js_errors(&env, "ops.setSimdEnabled", || {
        simd::set_enabled(args::boolean(&enabled, "enabled")?);
        Ok(())
    })
}
