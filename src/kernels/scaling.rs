//! Normalisation (z-score, min-max, robust) and the inverse maps. Each forward scaler writes
//! the scaled series into `out` and returns the statistics that its inverse takes.
//!
//! A degenerate scale (std, range or IQR of 0, i.e. a constant series) is replaced by 1 in both
//! directions, so a constant series maps to all zeros and back, instead of dividing by zero.

use super::elementwise::zip_map;
use super::reduce::{mean_m2, min_max_with};
use super::{check_len, check_nonempty, KernelError};
use crate::simd::{active, simd_dispatch, Float, Isa, SimdVec};

#[inline(always)]
fn normalize_body<V: SimdVec>(x: &[V::Elem], shift: V::Elem, inv_scale: V::Elem, out: &mut [V::Elem]) {
    let (s, i) = (V::splat(shift), V::splat(inv_scale));
    zip_map(x, x, out, |v: V, _| v.sub(s).mul(i));
}

#[inline(always)]
fn denormalize_body<V: SimdVec>(x: &[V::Elem], shift: V::Elem, scale: V::Elem, out: &mut [V::Elem]) {
    let (s, c) = (V::splat(shift), V::splat(scale));
    zip_map(x, x, out, |v: V, _| v.mul_add(c, s));
}

simd_dispatch!(fn normalize(x: &[T], shift: T, inv_scale: T, out: &mut [T])
    = normalize_body | scalar::normalize;);
simd_dispatch!(fn denormalize(x: &[T], shift: T, scale: T, out: &mut [T])
    = denormalize_body | scalar::denormalize;);

/// Plain-loop reference twins.
mod scalar {
    use crate::simd::Float;

    /// out = (x − shift)·inv_scale
    pub fn normalize<T: Float>(x: &[T], shift: T, inv_scale: T, out: &mut [T]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = (v - shift) * inv_scale;
        }
    }

    /// out = x·scale + shift
    pub fn denormalize<T: Float>(x: &[T], shift: T, scale: T, out: &mut [T]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = v * scale + shift;
        }
    }
}

/// The divisor used for a scale statistic: 1 when it is 0.
fn nonzero<T: Float>(scale: T) -> T {
    if scale == T::ZERO {
        T::ONE
    } else {
        scale
    }
}

/// out = (x − shift)/scale for the (shift, scale) that `stats(x)` gives (a `scale` of 0 taken as
/// 1), which it returns; errors unless `x` is non-empty and the lengths agree.
fn normalize_by<T: Float>(
    isa: Isa,
    x: &[T],
    out: &mut [T],
    stats: impl FnOnce(&[T]) -> (T, T),
) -> Result<(T, T), KernelError> {
    check_io(x, out)?;
    let (shift, scale) = stats(x);
    normalize(isa, x, shift, T::ONE / nonzero(scale), out);
    Ok((shift, scale))
}

/// out = x·scale + shift, with a `scale` of 0 taken as 1; errors unless the lengths agree.
fn checked_denormalize<T: Float>(isa: Isa, x: &[T], shift: T, scale: T, out: &mut [T]) -> Result<(), KernelError> {
    check_len("out", x.len(), out.len())?;
    denormalize(isa, x, shift, nonzero(scale), out);
    Ok(())
}

fn check_io<T>(x: &[T], out: &[T]) -> Result<(), KernelError> {
    check_nonempty("x", x)?;
    check_len("out", x.len(), out.len())
}

/// out = (x − mean)/std with the population std (ddof 0); returns (mean, std).
pub fn zscore_normalize<T: Float>(x: &[T], out: &mut [T]) -> Result<(T, T), KernelError> {
    zscore_normalize_with(active(), x, out)
}

/// [`zscore_normalize`] at a chosen instruction-set level.
pub fn zscore_normalize_with<T: Float>(isa: Isa, x: &[T], out: &mut [T]) -> Result<(T, T), KernelError> {
    normalize_by(isa, x, out, |x| {
        let (mean, m2) = mean_m2(isa, x);
        (mean, (m2 / T::from_usize(x.len())).sqrt())
    })
}

/// Inverse of [`zscore_normalize`]: out = x·std + mean.
pub fn zscore_denormalize<T: Float>(x: &[T], mean: T, std: T, out: &mut [T]) -> Result<(), KernelError> {
    zscore_denormalize_with(active(), x, mean, std, out)
}

/// [`zscore_denormalize`] at a chosen instruction-set level.
pub fn zscore_denormalize_with<T: Float>(isa: Isa, x: &[T], mean: T, std: T, out: &mut [T]) -> Result<(), KernelError> {
    checked_denormalize(isa, x, mean, std, out)
}

/// out = (x − min)/(max − min) in [0, 1]; returns (min, max).
pub fn minmax_normalize<T: Float>(x: &[T], out: &mut [T]) -> Result<(T, T), KernelError> {
    minmax_normalize_with(active(), x, out)
}

/// [`minmax_normalize`] at a chosen instruction-set level.
pub fn minmax_normalize_with<T: Float>(isa: Isa, x: &[T], out: &mut [T]) -> Result<(T, T), KernelError> {
    check_io(x, out)?;
    let (lo, hi) = min_max_with(isa, x)?;
    normalize(isa, x, lo, T::ONE / nonzero(hi - lo), out);
    Ok((lo, hi))
}

/// Inverse of [`minmax_normalize`]: out = x·(max − min) + min.
pub fn minmax_denormalize<T: Float>(x: &[T], min: T, max: T, out: &mut [T]) -> Result<(), KernelError> {
    minmax_denormalize_with(active(), x, min, max, out)
}

/// [`minmax_denormalize`] at a chosen instruction-set level.
pub fn minmax_denormalize_with<T: Float>(isa: Isa, x: &[T], min: T, max: T, out: &mut [T]) -> Result<(), KernelError> {
    checked_denormalize(isa, x, min, max - min, out)
}

/// out = (x − median)/IQR with IQR = q75 − q25 (numpy's default linear interpolation);
/// returns (median, IQR). O(n): quantiles come from `select_nth_unstable` on a scratch copy.
pub fn robust_scale<T: Float>(x: &[T], out: &mut [T]) -> Result<(T, T), KernelError> {
    robust_scale_with(active(), x, out)
}

/// [`robust_scale`] at a chosen instruction-set level.
pub fn robust_scale_with<T: Float>(isa: Isa, x: &[T], out: &mut [T]) -> Result<(T, T), KernelError> {
    normalize_by(isa, x, out, |x| {
        let [q25, median, q75] = quantiles(x, [0.25, 0.5, 0.75]);
        (median, q75 - q25)
    })
}

/// Inverse of [`robust_scale`]: out = x·IQR + median.
pub fn robust_denormalize<T: Float>(x: &[T], median: T, iqr: T, out: &mut [T]) -> Result<(), KernelError> {
    robust_denormalize_with(active(), x, median, iqr, out)
}

/// [`robust_denormalize`] at a chosen instruction-set level.
pub fn robust_denormalize_with<T: Float>(isa: Isa, x: &[T], median: T, iqr: T, out: &mut [T]) -> Result<(), KernelError> {
    checked_denormalize(isa, x, median, iqr, out)
}

/// Quantiles `qs` (ascending) of non-empty `x` with numpy's default linear interpolation; all
/// NaN when `x` holds a NaN (numpy's `quantile` propagates it too).
fn quantiles<T: Float, const K: usize>(x: &[T], qs: [f64; K]) -> [T; K] {
    if x.iter().any(|v| v.is_nan()) {
        return [T::NAN; K];
    }
    T::with_scratch(x.len(), |v| {
        v.copy_from_slice(x);
        let last = v.len().saturating_sub(1);
        // Each selection partitions the slice, so the next (larger) one searches only right of it.
        let mut from = 0;
        qs.map(|q| {
            let pos = q * last as f64;
            let k = (pos.floor() as usize).clamp(from, last);
            let (_, &mut a, right) = v[from..].select_nth_unstable_by(k - from, T::total_cmp);
            // The next order statistic is the smallest value right of the k-th.
            let b = right.iter().copied().reduce(T::min_nan).unwrap_or(a);
            from = k;
            lerp(a, b, T::from_f64(pos - k as f64))
        })
    })
}

/// numpy's `_lerp`: a + (b − a)·t, evaluated from the nearer end for t ≥ 0.5.
fn lerp<T: Float>(a: T, b: T, t: T) -> T {
    let d = b - a;
    if t >= T::from_f64(0.5) {
        b - d * (T::ONE - t)
    } else {
        a + d * t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::*;
    use proptest::prelude::*;

    type Forward<T> = fn(Isa, &[T], &mut [T]) -> Result<(T, T), KernelError>;
    type Inverse<T> = fn(Isa, &[T], T, T, &mut [T]) -> Result<(), KernelError>;

    fn scalers<T: Float>() -> [(Forward<T>, Inverse<T>); 3] {
        [
            (zscore_normalize_with, zscore_denormalize_with),
            (minmax_normalize_with, minmax_denormalize_with),
            (robust_scale_with, robust_denormalize_with),
        ]
    }

    fn check<T: Float>(x: &[T]) {
        if x.is_empty() {
            return;
        }
        let n = x.len();
        let (mut want, mut got, mut back) = (vec![T::ZERO; n], vec![T::ZERO; n], vec![T::ZERO; n]);
        for (fwd, inv) in scalers::<T>() {
            let (a, b) = fwd(Isa::Scalar, x, &mut want).unwrap();
            for isa in simd_isas() {
                let (c, d) = fwd(isa, x, &mut got).unwrap();
                assert!(close(a, c, max_abs(x)) && close(b, d, max_abs(x)), "{}", isa.name());
                // Normalised values are O(1) relative to the data's spread.
                let spread = max_abs(&want) * 4.0;
                assert_all_close(&got, &want, spread, isa.name());
                inv(isa, &got, c, d, &mut back).unwrap();
                assert_all_close(&back, x, max_abs(x) * 10.0, "roundtrip");
            }
        }
    }

    proptest_f64_f32!(scaling_simd_matches_scalar_f64, scaling_simd_matches_scalar_f32, check);

    proptest! {
        #![proptest_config(config())]
        #[test]
        fn robust_matches_sorting(x in prop::collection::vec(-1e3..1e3f64, 1..300)) {
            let mut s = x.clone();
            s.sort_by(f64::total_cmp);
            let q = |q: f64| {
                let pos = q * (s.len() - 1) as f64;
                let k = pos.floor() as usize;
                lerp(s[k], s[(k + 1).min(s.len() - 1)], pos - k as f64)
            };
            let mut out = vec![0.0; x.len()];
            let (median, iqr) = robust_scale(&x, &mut out).unwrap();
            prop_assert_eq!(median, q(0.5));
            prop_assert_eq!(iqr, q(0.75) - q(0.25));
        }
    }

    #[test]
    fn scaling_known_values_constant_series_and_nan() {
        let mut out = [0.0; 5];
        assert_eq!(robust_scale(&[5.0, 1.0, 4.0, 2.0, 3.0], &mut out), Ok((3.0, 2.0)));
        assert_eq!(out, [1.0, -1.0, 0.5, -0.5, 0.0]);
        assert_eq!(minmax_normalize(&[2.0, 4.0, 3.0, 6.0, 2.0], &mut out), Ok((2.0, 6.0)));
        assert_eq!(out, [0.0, 0.5, 0.25, 1.0, 0.0]);
        for (fwd, inv) in scalers::<f64>() {
            for isa in [Isa::Scalar].into_iter().chain(simd_isas()) {
                let (a, b) = fwd(isa, &[7.0; 5], &mut out).unwrap();
                assert_eq!(out, [0.0; 5], "constant series maps to 0");
                let mut back = [0.0; 5];
                inv(isa, &out, a, b, &mut back).unwrap();
                assert_eq!(back, [7.0; 5]);
                fwd(isa, &[1.0, f64::NAN, 3.0, 4.0, 5.0], &mut out).unwrap();
                assert!(out.iter().all(|v| v.is_nan()), "{}", isa.name());
            }
        }
    }

    #[test]
    fn scaling_errors() {
        let mut out = [0.0; 2];
        assert_eq!(zscore_normalize(&[] as &[f64], &mut []), Err(KernelError::Empty { arg: "x" }));
        assert!(minmax_normalize(&[1.0, 2.0, 3.0], &mut out).is_err());
        assert!(robust_scale(&[1.0], &mut out).is_err());
        assert!(robust_denormalize(&[1.0], 0.0, 1.0, &mut out).is_err());
        assert!(zscore_denormalize(&[1.0], 0.0, 1.0, &mut out).is_err());
        assert!(minmax_denormalize(&[1.0], 0.0, 1.0, &mut out).is_err());
    }
}
