//! The scalar element trait shared by every kernel (implemented for `f32` and `f64`).

use super::vector::SimdVec;
use std::cell::Cell;
use std::cmp::Ordering;
use std::fmt::{Debug, Display};
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

/// Maps an element type to its vector type at each instruction-set level.
///
/// Sealed (public in a private module) so that [`Float`] cannot be implemented outside the
/// crate; the vector types' methods are reachable only in-crate via the crate-private `SimdVec`.
pub trait Lanes: Sized {
    type Portable: SimdVec<Elem = Self>;
    #[cfg(target_arch = "x86_64")]
    type Avx2: SimdVec<Elem = Self>;
    #[cfg(target_arch = "x86_64")]
    type Avx512: SimdVec<Elem = Self>;

    /// Runs `f` on a thread-local scratch slice of `len` elements with unspecified contents.
    ///
    /// Kernels that need temporaries borrow them here: allocating fresh megabyte buffers on
    /// every call costs more in page faults than the kernels themselves. A nested call gets a
    /// fresh allocation; buffers above [`SCRATCH_KEEP`] elements are freed after use.
    fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R;
}

/// Largest scratch buffer (in elements) kept alive per thread between calls.
const SCRATCH_KEEP: usize = 1 << 22;

/// A floating-point element: `f32` or `f64`.
pub trait Float:
    Copy
    + Send
    + Sync
    + Default
    + Debug
    + Display
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + Lanes
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    const INFINITY: Self;
    const NEG_INFINITY: Self;
    const NAN: Self;
    /// Machine epsilon: the gap between 1 and the next larger value.
    const EPSILON: Self;

    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    fn is_nan(self) -> bool;
    fn is_finite(self) -> bool;
    fn total_cmp(&self, other: &Self) -> Ordering;

    /// Converts a count (exact below 2^53 for f64, 2^24 for f32).
    #[inline(always)]
    fn from_usize(n: usize) -> Self {
        Self::from_f64(n as f64)
    }

    /// Minimum that propagates NaN (like numpy's `minimum`, unlike `f64::min`).
    #[inline(always)]
    fn min_nan(self, other: Self) -> Self {
        if self < other || self.is_nan() {
            self
        } else {
            other
        }
    }

    /// Maximum that propagates NaN.
    #[inline(always)]
    fn max_nan(self, other: Self) -> Self {
        if self > other || self.is_nan() {
            self
        } else {
            other
        }
    }
}

macro_rules! impl_float {
    ($t:ident, $portable:ty, $avx2:ident, $avx512:ident) => {
        impl_float!($t, $portable, $avx2, $avx512, [sqrt -> Self, abs -> Self, is_nan -> bool, is_finite -> bool]);
    };
    ($t:ident, $portable:ty, $avx2:ident, $avx512:ident, [$($method:ident -> $ret:ty),*]) => {
        impl Lanes for $t {
            type Portable = $portable;
            #[cfg(target_arch = "x86_64")]
            type Avx2 = super::x86::$avx2;
            #[cfg(target_arch = "x86_64")]
            type Avx512 = super::x86::$avx512;

            fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [Self]) -> R) -> R {
                thread_local! {
                    static SCRATCH: Cell<Vec<$t>> = const { Cell::new(Vec::new()) };
                }
                // Taking the buffer out (rather than borrowing it) makes nested use safe.
                let mut buf = SCRATCH.try_with(Cell::take).unwrap_or_default();
                if buf.len() < len {
                    buf.resize(len, 0.0);
                }
                let r = f(&mut buf[..len]);
                if buf.len() <= SCRATCH_KEEP {
                    let _ = SCRATCH.try_with(|s| s.set(buf));
                }
                r
            }
        }

        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const INFINITY: Self = $t::INFINITY;
            const NEG_INFINITY: Self = $t::NEG_INFINITY;
            const NAN: Self = $t::NAN;
            const EPSILON: Self = $t::EPSILON;

            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            // The inherent methods of the same names.
            $(
                #[inline(always)]
                fn $method(self) -> $ret {
                    $t::$method(self)
                }
            )*
            #[inline(always)]
            fn total_cmp(&self, other: &Self) -> Ordering {
                $t::total_cmp(self, other)
            }
        }
    };
}

impl_float!(f64, wide::f64x4, Avx2F64, Avx512F64);
impl_float!(f32, wide::f32x8, Avx2F32, Avx512F32);
