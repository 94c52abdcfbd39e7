//! Numeric kernels for time-series preprocessing: reductions, element-wise arithmetic,
//! normalisation, rolling-window statistics and exponential moving averages, for `f32` and
//! `f64`.
//!
//! Every kernel `k` comes as `k(...)`, which runs at [`crate::simd::active`], and
//! `k_with(isa, ...)`, which runs at a chosen [`Isa`] (capped at what the CPU supports;
//! [`Isa::Scalar`] selects the plain-loop reference twin). Bad arguments are reported as
//! [`KernelError`]; no public function panics.
//!
//! # NaN policy: NaN in, NaN out
//!
//! Any output that mathematically depends on a NaN input is NaN; every other output is computed
//! exactly as if the NaN were absent.
//! - Reductions (`sum`, `mean`, `variance`, `std`, `dot`) and the statistics of the scalers are
//!   NaN when any input is NaN, so a scaler maps the whole series to NaN.
//! - `min`/`max` propagate NaN like numpy's `min`/`max` (not `nanmin`/`nanmax`).
//! - Element-wise kernels are NaN exactly where an operand is NaN.
//! - Rolling kernels are NaN exactly for the windows that contain a NaN; windows without one are
//!   unaffected (each window is assembled only from partial results over its own elements, so a
//!   NaN cannot leak into later windows).
//! - `ema` is NaN from the first NaN onwards, as the recurrence carries it forever.
//!
//! ±Infinity follows IEEE arithmetic (for example a window holding `inf` has mean `inf` and
//! standard deviation NaN, as `inf - inf` is NaN), and `-0.0` is treated as `0.0`.

use std::fmt;

pub use crate::simd::{Float, Isa};

mod elementwise;
mod ema;
mod reduce;
mod rolling;
mod scaling;
pub use elementwise::{add, add_with, axpy, axpy_with, mul, mul_with, scale, scale_with};
#[cfg(test)]
mod testutil;

pub use ema::{alpha_from_span, ema, ema_batch, ema_batch_with, ema_with};
pub use scaling::{
    minmax_denormalize, minmax_denormalize_with, minmax_normalize, minmax_normalize_with,
    robust_denormalize, robust_denormalize_with, robust_scale, robust_scale_with,
    zscore_denormalize, zscore_denormalize_with, zscore_normalize, zscore_normalize_with,
};
pub use rolling::{
    rolling_max, rolling_max_with, rolling_mean, rolling_mean_with, rolling_min,
    rolling_min_with, rolling_std, rolling_std_with,
};
pub use reduce::{
    dot, dot_with, max, max_with, mean, mean_with, min, min_with, std, std_with, sum, sum_with,
    variance, variance_with,
};

/// Why a kernel rejected its arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum KernelError {
    /// `arg` is empty but the result needs at least one value.
    Empty { arg: &'static str },
    /// `arg` has length `got` where `expected` is required.
    LengthMismatch { arg: &'static str, expected: usize, got: usize },
    /// The rolling window is 0 or longer than the input.
    Window { window: usize, len: usize },
    /// `ddof` leaves no degrees of freedom (`ddof >= count`).
    Ddof { ddof: usize, count: usize },
    /// The EMA smoothing factor is outside (0, 1].
    Alpha(f64),
    /// The EMA span is below 1 (or NaN).
    Span(f64),
    /// Series offsets do not start at 0, decrease somewhere, or do not end at `len`.
    Offsets { len: usize },
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            KernelError::Empty { arg } => write!(f, "{arg} must not be empty"),
            KernelError::LengthMismatch { arg, expected, got } => {
                write!(f, "{arg} must have length {expected}, got {got}")
            }
            KernelError::Window { window, len } => {
                write!(f, "window must be between 1 and the input length {len}, got {window}")
            }
            KernelError::Ddof { ddof, count } => write!(
                f,
                "ddof must be less than the number of values in the window or series {count}, got {ddof}"
            ),
            KernelError::Alpha(a) => write!(f, "alpha must be in (0, 1], got {a}"),
            KernelError::Span(s) => write!(f, "span must be at least 1, got {s}"),
            KernelError::Offsets { len } => write!(
                f,
                "offsets must start at 0, never decrease and end at the values length {len}"
            ),
        }
    }
}

impl std::error::Error for KernelError {}

/// Checks that `arg` has length `expected`.
fn check_len(arg: &'static str, expected: usize, got: usize) -> Result<(), KernelError> {
    if expected == got {
        Ok(())
    } else {
        Err(KernelError::LengthMismatch { arg, expected, got })
    }
}

/// Checks that `x` is not empty.
fn check_nonempty<T>(arg: &'static str, x: &[T]) -> Result<(), KernelError> {
    if x.is_empty() {
        Err(KernelError::Empty { arg })
    } else {
        Ok(())
    }
}
