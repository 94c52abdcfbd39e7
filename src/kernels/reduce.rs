//! Reductions: sum, mean, variance/std, min, max, dot.
//!
//! Sums are pairwise over leaves of [`LEAF`] elements (error grows with log n, like numpy's
//! `sum`); inside a leaf the SIMD version keeps four vector accumulators so the additions are
//! throughput- rather than latency-bound. The variance takes one pass of sums shifted by the
//! first value, Σ(x−x₀) and Σ(x−x₀)², which is accurate whenever x₀ lies within about four
//! standard deviations of the mean; otherwise it falls back to the corrected two-pass algorithm,
//! Σ(x−m)² − (Σ(x−m))²/n around the mean m, which stays accurate for large offsets.

use super::{check_len, check_nonempty, KernelError};
use crate::simd::{active, simd_dispatch, Float, Isa, SimdVec};
use std::ops::Range;

/// Elements per leaf of the pairwise summation tree.
const LEAF: usize = 1024;

/// Reduces `0..len` by splitting it into leaves of `leaf_len`, reducing each with `leaf` and
/// merging the partial results as a balanced binary tree (iteratively, with a binary-counter
/// stack, so it inlines into the SIMD bodies). `None` when `len == 0`.
#[inline(always)]
pub(super) fn pairwise<A: Copy>(
    len: usize,
    leaf_len: usize,
    mut leaf: impl FnMut(Range<usize>) -> A,
    merge: impl Fn(A, A) -> A,
) -> Option<A> {
    // slots[k] holds a pending subtree of 2^k leaves; usize has < 64 bits of leaves.
    let mut slots: [Option<A>; 64] = [None; 64];
    for start in (0..len).step_by(leaf_len.max(1)) {
        let mut carry = leaf(start..len.min(start + leaf_len));
        let mut k = 0;
        while let Some(left) = slots[k].take() {
            carry = merge(left, carry);
            k += 1;
        }
        slots[k] = Some(carry);
    }
    slots.iter().flatten().copied().reduce(|low, high| merge(high, low))
}

/// Folds `a` and `b` (equal lengths) vector by vector into four independent accumulators,
/// padding the final partial vector with `fill`.
#[inline(always)]
pub(super) fn fold2<V: SimdVec, S: Copy>(
    a: &[V::Elem],
    b: &[V::Elem],
    fill: V::Elem,
    init: S,
    step: impl Fn(S, V, V) -> S,
    merge: impl Fn(S, S) -> S,
) -> S {
    let l = V::LANES;
    let mut acc = [init; 4];
    let (mut ca, mut cb) = (a.chunks_exact(4 * l), b.chunks_exact(4 * l));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for (k, s) in acc.iter_mut().enumerate() {
            let r = k * l..(k + 1) * l;
            *s = step(*s, V::load(&x[r.clone()]), V::load(&y[r]));
        }
    }
    let tails = ca.remainder().chunks(l).zip(cb.remainder().chunks(l));
    for (s, (x, y)) in acc.iter_mut().zip(tails) {
        *s = step(*s, V::load_partial(x, fill), V::load_partial(y, fill));
    }
    merge(merge(acc[0], acc[1]), merge(acc[2], acc[3]))
}

#[inline(always)]
fn sum_body<V: SimdVec>(x: &[V::Elem]) -> V::Elem {
    let leaf = |r: Range<usize>| {
        let (z, s) = (V::Elem::ZERO, &x[r]);
        fold2(s, s, z, V::splat(z), |acc: V, v, _| acc.add(v), V::add).reduce_sum()
    };
    pairwise(x.len(), LEAF, leaf, |a, b| a + b).unwrap_or(V::Elem::ZERO)
}

/// (Σd, Σd²) with d = x − `mean`.
#[inline(always)]
fn deviations_body<V: SimdVec>(x: &[V::Elem], mean: V::Elem) -> (V::Elem, V::Elem) {
    let m = V::splat(mean);
    let leaf = |r: Range<usize>| {
        let (z, s) = (V::splat(V::Elem::ZERO), &x[r]);
        let step = |(s1, s2): (V, V), v: V, _| {
            let d = v.sub(m);
            (s1.add(d), d.mul_add(d, s2))
        };
        let (s1, s2) = fold2(s, s, mean, (z, z), step, |a, b| (a.0.add(b.0), a.1.add(b.1)));
        (s1.reduce_sum(), s2.reduce_sum())
    };
    let merge = |a: (V::Elem, V::Elem), b: (V::Elem, V::Elem)| (a.0 + b.0, a.1 + b.1);
    pairwise(x.len(), LEAF, leaf, merge).unwrap_or((V::Elem::ZERO, V::Elem::ZERO))
}

/// NaN-propagating (minimum, maximum) in one pass (NaN for an empty slice, which callers rule out).
#[inline(always)]
fn min_max_body<V: SimdVec>(x: &[V::Elem]) -> (V::Elem, V::Elem) {
    let Some(&first) = x.first() else { return (V::Elem::NAN, V::Elem::NAN) };
    let init = (V::splat(first), V::splat(first));
    let step = |(lo, hi): (V, V), v: V, _| (lo.min(v), hi.max(v));
    let (lo, hi) = fold2(x, x, first, init, step, |a, b| (a.0.min(b.0), a.1.max(b.1)));
    (lo.reduce_min(), hi.reduce_max())
}

/// NaN-propagating minimum (NaN for an empty slice, which callers rule out).
#[inline(always)]
fn min_body<V: SimdVec>(x: &[V::Elem]) -> V::Elem {
    let Some(&first) = x.first() else { return V::Elem::NAN };
    fold2(x, x, first, V::splat(first), |acc: V, v, _| acc.min(v), V::min).reduce_min()
}

/// NaN-propagating maximum (NaN for an empty slice, which callers rule out).
#[inline(always)]
fn max_body<V: SimdVec>(x: &[V::Elem]) -> V::Elem {
    let Some(&first) = x.first() else { return V::Elem::NAN };
    fold2(x, x, first, V::splat(first), |acc: V, v, _| acc.max(v), V::max).reduce_max()
}

#[inline(always)]
fn dot_body<V: SimdVec>(a: &[V::Elem], b: &[V::Elem]) -> V::Elem {
    let leaf = |r: Range<usize>| {
        let z = V::Elem::ZERO;
        let step = |acc: V, u: V, v: V| u.mul_add(v, acc);
        fold2(&a[r.clone()], &b[r], z, V::splat(z), step, V::add).reduce_sum()
    };
    pairwise(a.len().min(b.len()), LEAF, leaf, |x, y| x + y).unwrap_or(V::Elem::ZERO)
}

simd_dispatch!(fn sum_dispatch(x: &[T]) -> T = sum_body | scalar::sum;);
simd_dispatch!(fn deviations(x: &[T], mean: T) -> (T, T) = deviations_body | scalar::deviations;);
simd_dispatch!(fn min_dispatch(x: &[T]) -> T = min_body | scalar::min;);
simd_dispatch!(fn max_dispatch(x: &[T]) -> T = max_body | scalar::max;);
simd_dispatch!(fn min_max_dispatch(x: &[T]) -> (T, T) = min_max_body | scalar::min_max;);
simd_dispatch!(fn dot_dispatch(a: &[T], b: &[T]) -> T = dot_body | scalar::dot;);

/// Plain-loop reference twins (same pairwise leaves, so the same accuracy class).
mod scalar {
    use super::{pairwise, LEAF};
    use crate::simd::Float;

    pub fn sum<T: Float>(x: &[T]) -> T {
        let leaf = |r: std::ops::Range<usize>| x[r].iter().fold(T::ZERO, |a, &v| a + v);
        pairwise(x.len(), LEAF, leaf, |a, b| a + b).unwrap_or(T::ZERO)
    }

    pub fn deviations<T: Float>(x: &[T], mean: T) -> (T, T) {
        let leaf = |r: std::ops::Range<usize>| {
            x[r].iter().fold((T::ZERO, T::ZERO), |(s1, s2), &v| {
                let d = v - mean;
                (s1 + d, s2 + d * d)
            })
        };
        let merge = |a: (T, T), b: (T, T)| (a.0 + b.0, a.1 + b.1);
        pairwise(x.len(), LEAF, leaf, merge).unwrap_or((T::ZERO, T::ZERO))
    }

    pub fn min<T: Float>(x: &[T]) -> T {
        x.iter().copied().reduce(T::min_nan).unwrap_or(T::NAN)
    }

    pub fn max<T: Float>(x: &[T]) -> T {
        x.iter().copied().reduce(T::max_nan).unwrap_or(T::NAN)
    }

    pub fn min_max<T: Float>(x: &[T]) -> (T, T) {
        (min(x), max(x))
    }

    pub fn dot<T: Float>(a: &[T], b: &[T]) -> T {
        let leaf = |r: std::ops::Range<usize>| {
            a[r.clone()].iter().zip(&b[r]).fold(T::ZERO, |s, (&u, &v)| s + u * v)
        };
        pairwise(a.len().min(b.len()), LEAF, leaf, |x, y| x + y).unwrap_or(T::ZERO)
    }
}

/// Sum of `x` (0 when empty).
pub fn sum<T: Float>(x: &[T]) -> T {
    sum_with(active(), x)
}

/// [`sum`] at a chosen instruction-set level.
pub fn sum_with<T: Float>(isa: Isa, x: &[T]) -> T {
    sum_dispatch(isa, x)
}

/// Arithmetic mean. Errors on an empty slice.
pub fn mean<T: Float>(x: &[T]) -> Result<T, KernelError> {
    mean_with(active(), x)
}

/// [`mean`] at a chosen instruction-set level.
pub fn mean_with<T: Float>(isa: Isa, x: &[T]) -> Result<T, KernelError> {
    check_nonempty("x", x)?;
    Ok(sum_dispatch(isa, x) / T::from_usize(x.len()))
}

/// Variance Σ(x−mean)²/(n−ddof). Errors unless `ddof < x.len()`.
pub fn variance<T: Float>(x: &[T], ddof: usize) -> Result<T, KernelError> {
    variance_with(active(), x, ddof)
}

/// [`variance`] at a chosen instruction-set level.
pub fn variance_with<T: Float>(isa: Isa, x: &[T], ddof: usize) -> Result<T, KernelError> {
    if ddof >= x.len() {
        return Err(KernelError::Ddof { ddof, count: x.len() });
    }
    let (_, m2) = mean_m2(isa, x);
    Ok(m2 / T::from_usize(x.len() - ddof))
}

/// (mean, M2 = Σ(x−mean)²) of `x` (NaN when `x` is empty or holds a NaN).
///
/// One pass gives s₁ = Σd and s₂ = Σd² with d = x − x₀, hence mean = x₀ + s₁/n and
/// M2 = s₂ − s₁²/n. As s₂ = M2 + n·(mean − x₀)², the subtraction cancels at most four bits
/// while M2 ≥ s₂/16 (|x₀ − mean| ≤ √15 standard deviations), so M2 keeps the pairwise sums'
/// relative error times at most 16; otherwise (x₀ far out in the tail) a second pass takes the
/// corrected two-pass M2 around the mean.
pub(super) fn mean_m2<T: Float>(isa: Isa, x: &[T]) -> (T, T) {
    let Some(&x0) = x.first() else { return (T::NAN, T::NAN) };
    let n = T::from_usize(x.len());
    let (s1, s2) = deviations(isa, x, x0);
    let mean = x0 + s1 / n;
    let mut m2 = s2 - s1 * s1 / n;
    if !(m2 >= s2 * T::from_f64(1.0 / 16.0) || m2.is_nan()) {
        let (d1, d2) = deviations(isa, x, mean);
        m2 = d2 - d1 * d1 / n;
    }
    // Σd² ≥ (Σd)²/n exactly; clamp the rounding residue (a NaN fails `<` and is kept).
    (mean, if m2 < T::ZERO { T::ZERO } else { m2 })
}

/// Standard deviation, the square root of [`variance`].
pub fn std<T: Float>(x: &[T], ddof: usize) -> Result<T, KernelError> {
    std_with(active(), x, ddof)
}

/// [`std`] at a chosen instruction-set level.
pub fn std_with<T: Float>(isa: Isa, x: &[T], ddof: usize) -> Result<T, KernelError> {
    variance_with(isa, x, ddof).map(Float::sqrt)
}

/// Minimum, NaN if any element is NaN. Errors on an empty slice.
pub fn min<T: Float>(x: &[T]) -> Result<T, KernelError> {
    min_with(active(), x)
}

/// [`min`] at a chosen instruction-set level.
pub fn min_with<T: Float>(isa: Isa, x: &[T]) -> Result<T, KernelError> {
    check_nonempty("x", x)?;
    Ok(min_dispatch(isa, x))
}

/// Maximum, NaN if any element is NaN. Errors on an empty slice.
pub fn max<T: Float>(x: &[T]) -> Result<T, KernelError> {
    max_with(active(), x)
}

/// [`max`] at a chosen instruction-set level.
pub fn max_with<T: Float>(isa: Isa, x: &[T]) -> Result<T, KernelError> {
    check_nonempty("x", x)?;
    Ok(max_dispatch(isa, x))
}

/// (minimum, maximum) in one pass, NaN if any element is NaN. Errors on an empty slice.
pub(super) fn min_max_with<T: Float>(isa: Isa, x: &[T]) -> Result<(T, T), KernelError> {
    check_nonempty("x", x)?;
    Ok(min_max_dispatch(isa, x))
}

/// Dot product Σaᵢbᵢ. Errors when the lengths differ.
pub fn dot<T: Float>(a: &[T], b: &[T]) -> Result<T, KernelError> {
    dot_with(active(), a, b)
}

/// [`dot`] at a chosen instruction-set level.
pub fn dot_with<T: Float>(isa: Isa, a: &[T], b: &[T]) -> Result<T, KernelError> {
    check_len("b", a.len(), b.len())?;
    Ok(dot_dispatch(isa, a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::*;

    fn check_all<T: Float>(x: &[T]) {
        let y: Vec<T> = x.iter().map(|&v| v * T::from_f64(0.5) - T::ONE).collect();
        let scale = sum_abs(x);
        for isa in simd_isas() {
            let what = isa.name();
            assert!(close(sum_with(isa, x), sum_with(Isa::Scalar, x), scale), "sum {what}");
            let d = dot_with(isa, x, &y).unwrap();
            let scale_dot = scale * max_abs(&y);
            assert!(close(d, dot_with(Isa::Scalar, x, &y).unwrap(), scale_dot), "dot {what}");
            if x.is_empty() {
                continue;
            }
            assert_eq!(min_with(isa, x), min_with(Isa::Scalar, x), "min {what}");
            assert_eq!(max_with(isa, x), max_with(Isa::Scalar, x), "max {what}");
            let m = mean_with(isa, x).unwrap();
            assert!(close(m, mean_with(Isa::Scalar, x).unwrap(), max_abs(x)), "mean {what}");
            let v = variance_with(isa, x, 0).unwrap();
            let vs = variance_with(Isa::Scalar, x, 0).unwrap();
            // The variance inherits the mean's rounding relative to the spread about it.
            let spread = max_abs(&x.iter().map(|&e| e - m).collect::<Vec<_>>());
            assert!(close(v, vs, spread * spread + max_abs(x) * spread), "variance {what}");
        }
    }

    proptest_f64_f32!(reduce_simd_matches_scalar_f64, reduce_simd_matches_scalar_f32, check_all);

    /// Two-pass f64 variance with recursive pairwise sums, the accuracy reference.
    fn reference_variance(x: &[f64], ddof: usize) -> f64 {
        fn psum(x: &[f64]) -> f64 {
            if x.len() <= 8 {
                x.iter().sum()
            } else {
                let (a, b) = x.split_at(x.len() / 2);
                psum(a) + psum(b)
            }
        }
        let m = psum(x) / x.len() as f64;
        psum(&x.iter().map(|v| (v - m) * (v - m)).collect::<Vec<_>>()) / (x.len() - ddof) as f64
    }

    #[test]
    fn reduce_variance_is_stable_for_large_offsets() {
        // 10^6 values around 1e9 with a spread of a few units (deterministic LCG noise).
        let mut state = 12345u64;
        let x: Vec<f64> = (0..1_000_000)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                1e9 + ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 4.0
            })
            .collect();
        let want = reference_variance(&x, 1);
        for isa in [Isa::Scalar].into_iter().chain(simd_isas()) {
            let got = variance_with(isa, &x, 1).unwrap();
            assert!(((got - want) / want).abs() < 1e-9, "{}: {got} vs {want}", isa.name());
        }
    }

    #[test]
    fn reduce_nan_policy() {
        let x = [1.0, f64::NAN, 3.0, -2.0, 5.0, 0.5, 7.0, 8.0, 9.0];
        for isa in [Isa::Scalar].into_iter().chain(simd_isas()) {
            assert!(sum_with(isa, &x).is_nan());
            assert!(min_with(isa, &x).unwrap().is_nan());
            assert!(max_with(isa, &x).unwrap().is_nan());
            assert!(std_with(isa, &x, 0).unwrap().is_nan());
            assert!(dot_with(isa, &x, &x).unwrap().is_nan());
            // NaN in the tail or the first element, too.
            let mut y = vec![1.0f32; 37];
            y[36] = f32::NAN;
            assert!(min_with(isa, &y).unwrap().is_nan() && max_with(isa, &y).unwrap().is_nan());
            y[36] = 1.0;
            y[0] = f32::NAN;
            assert!(min_with(isa, &y).unwrap().is_nan() && max_with(isa, &y).unwrap().is_nan());
            let inf = [1.0, f64::INFINITY, -3.0];
            assert_eq!(max_with(isa, &inf), Ok(f64::INFINITY));
            assert_eq!(min_with(isa, &inf), Ok(-3.0));
            assert_eq!(sum_with(isa, &inf), f64::INFINITY);
        }
    }

    #[test]
    fn reduce_errors() {
        let e: [f64; 0] = [];
        assert_eq!(mean(&e), Err(KernelError::Empty { arg: "x" }));
        assert!(min(&e).is_err() && max(&e).is_err());
        assert_eq!(sum(&e), 0.0);
        assert_eq!(variance(&[1.0, 2.0], 2), Err(KernelError::Ddof { ddof: 2, count: 2 }));
        assert!(std(&e, 0).is_err());
        let err = dot(&[1.0, 2.0], &[1.0]).unwrap_err();
        assert_eq!(err.to_string(), "b must have length 2, got 1");
        assert_eq!(variance(&[2.0f64, 4.0], 1), Ok(2.0));
        assert_eq!(mean(&[1.0f32, 2.0, 3.0]), Ok(2.0));
    }
}
