//! Shared test helpers: the SIMD levels to check, tolerant comparison and input strategies.
//!
//! Tolerance: SIMD and scalar results may differ only by rounding (different summation order,
//! fused multiply-add), so values are compared with a relative tolerance of 1e-12 for f64 and
//! 1e-5 for f32, relative to a problem-dependent scale (e.g. Σ|x| for sums, max|x| for
//! element-wise results) so that cancellation cannot produce false failures.

use crate::simd::{Float, Isa};
use proptest::prelude::*;

/// Every SIMD level this CPU can run (the scalar twin is the reference).
pub fn simd_isas() -> Vec<Isa> {
    [Isa::Portable, Isa::Avx2, Isa::Avx512].into_iter().filter(|i| i.available() == *i).collect()
}

/// The relative tolerance for `T`.
pub fn tol<T: Float>() -> f64 {
    if std::mem::size_of::<T>() == 8 {
        1e-12
    } else {
        1e-5
    }
}

/// `a` and `b` agree within `tol<T>() * scale` (absolute), or are both NaN, or equal infinities.
pub fn close<T: Float>(a: T, b: T, scale: f64) -> bool {
    let (a, b) = (a.to_f64(), b.to_f64());
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a == b || (a - b).abs() <= tol::<T>() * scale.max(a.abs()).max(b.abs()).max(f64::MIN_POSITIVE)
}

/// Asserts `close` element-wise with a common scale.
pub fn assert_all_close<T: Float>(got: &[T], want: &[T], scale: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(close(g, w, scale), "{what}: index {i}: got {g}, want {w} (scale {scale})");
    }
}

/// Largest |x| (1 for an empty or all-zero slice).
pub fn max_abs<T: Float>(x: &[T]) -> f64 {
    x.iter().map(|v| v.to_f64().abs()).fold(1.0, f64::max)
}

/// Sum of |x| (at least 1).
pub fn sum_abs<T: Float>(x: &[T]) -> f64 {
    x.iter().map(|v| v.to_f64().abs()).sum::<f64>().max(1.0)
}

/// Finite vectors: every length 0..=67 (all tail shapes) and random longer ones.
pub fn vec_f64() -> impl Strategy<Value = Vec<f64>> {
    let elem = prop_oneof![-1e3..1e3f64, (-1e3..1e3f64).prop_map(|v| v + 1e6)];
    prop_oneof![
        prop::collection::vec(elem.clone(), 0..=67),
        prop::collection::vec(elem, 68..3000)
    ]
}

/// Finite f32 vectors with the same length shapes as `vec_f64`.
pub fn vec_f32() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(-1e3..1e3f32, 0..=67)
        .boxed()
        .prop_union(prop::collection::vec(-1e3..1e3f32, 68..3000).boxed())
}

/// A vector of length at least 1 and a window in 1..=len.
pub fn vec_and_window() -> impl Strategy<Value = (Vec<f64>, usize)> {
    prop_oneof![
        prop::collection::vec(-1e3..1e3f64, 1..=67),
        prop::collection::vec(-1e3..1e3f64, 68..2000)
    ]
    .prop_flat_map(|v| {
        let n = v.len();
        (Just(v), prop_oneof![1..=n.min(40), 1..=n])
    })
}

/// Property tests `$f64_test` and `$f32_test`: `$check(&x)` (generic over the float type) holds
/// for random f64 and f32 vectors (`vec_f64`, `vec_f32`).
macro_rules! proptest_f64_f32 {
    ($f64_test:ident, $f32_test:ident, $check:ident) => {
        proptest::proptest! {
            #![proptest_config($crate::kernels::testutil::config())]
            #[test]
            fn $f64_test(x in $crate::kernels::testutil::vec_f64()) { $check(&x); }

            #[test]
            fn $f32_test(x in $crate::kernels::testutil::vec_f32()) { $check(&x); }
        }
    };
}
pub(crate) use proptest_f64_f32;

/// Proptest configuration with a moderate case count (debug builds are slow).
pub fn config() -> ProptestConfig {
    ProptestConfig { cases: 96, ..ProptestConfig::default() }
}
