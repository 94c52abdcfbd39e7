//! Exponential moving average, pandas `ewm(alpha, adjust=False)`:
//! y₀ = x₀, yₜ = α·xₜ + β·yₜ₋₁ with β = 1−α.
//!
//! The recurrence is one long dependency chain (latency-bound). The SIMD version, with L lanes,
//! unrolls it L steps: yₜ = α·wₜ + β^L·yₜ₋L with the L-tap filter wₜ = Σ_{k<L} βᵏ·xₜ₋ₖ, so a
//! vector of L consecutive outputs depends only on the previous vector, lane by lane. After a
//! head of L values (plain recurrence), the series is cut into [`SEGMENTS`] equal segments of
//! whole vectors whose unrolled recurrences run interleaved from a zero state. Then, segment by
//! segment, the L final outputs C before the segment are carried in: the q-th vector of the
//! segment gets + β^(L(q+1))·C (lane by lane). The last few values use the plain recurrence.
//!
//! The carry fix-up stops once β^(L(q+1)) ≤ ε/1024: every omitted term is then at most
//! ε/1024·|C| ≤ ε/1024·max|x| (an EMA value is a convex combination of inputs), 1/1024 of an
//! ulp at the series' scale and far below the rounding of the recurrence itself; for typical α
//! only a few hundred values per segment are touched. A carry holding NaN or ±inf is never
//! truncated: that segment is recomputed by the plain recurrence from it, so NaN (and ±inf)
//! propagate exactly as in the scalar twin.

use super::{check_len, KernelError};
use crate::simd::{active, simd_dispatch, Float, Isa, SimdVec};
use rayon::prelude::*;

/// Segments whose unrolled recurrences run interleaved (hides the FMA latency).
const SEGMENTS: usize = 4;
/// Vectors per block of the carry fix-up (the length of its power table).
const TABLE: usize = 64;
/// `ema_batch` inputs of at least this many values run their series in parallel.
const PARALLEL_MIN: usize = 1 << 16;

#[inline(always)]
fn ema_body<V: SimdVec>(x: &[V::Elem], alpha: V::Elem, out: &mut [V::Elem]) {
    let Some(&x0) = x.first() else { return };
    let (n, l) = (x.len().min(out.len()), V::LANES);
    let head = l.min(n);
    let m = (n - head) / (SEGMENTS * l);
    let end = head + SEGMENTS * m * l;
    scalar::recur(&x[..head], alpha, x0, &mut out[..head]);
    if m > 0 {
        local_scans::<V>(x, alpha, head, m, out);
        // table[q] = β^(L(q+1)), accumulated in f64 so f32 keeps full accuracy.
        let step = beta_pow(alpha, l);
        let mut table = [V::Elem::ZERO; TABLE];
        let mut p = 1.0;
        for t in table.iter_mut() {
            p *= step;
            *t = V::Elem::from_f64(p);
        }
        for k in 0..SEGMENTS {
            carry_in::<V>(x, alpha, head + k * m * l..head + (k + 1) * m * l, &table, p, out);
        }
    }
    scalar::recur(&x[end..n], alpha, out[end - 1], &mut out[end..n]);
    out[0] = x0;
}

/// β^k in f64 for β = 1 − α.
fn beta_pow<T: Float>(alpha: T, k: usize) -> f64 {
    (T::ONE - alpha).to_f64().powi(k as i32)
}

/// The unrolled recurrence from a zero state over the [`SEGMENTS`] segments of `m` vectors
/// that follow `x[..start]` (`start` ≥ L − 1: the filter reads L − 1 values back), interleaved.
#[inline(always)]
fn local_scans<V: SimdVec>(x: &[V::Elem], alpha: V::Elem, start: usize, m: usize, out: &mut [V::Elem]) {
    let l = V::LANES;
    let end = start + SEGMENTS * m * l;
    if start + 1 < l || end > x.len().min(out.len()) {
        return;
    }
    let (a, b) = (V::splat(alpha), V::splat(V::Elem::ONE - alpha));
    let bl = V::splat(V::Elem::from_f64(beta_pow(alpha, l)));
    let mut z = [V::splat(V::Elem::ZERO); SEGMENTS];
    for q in 0..m {
        for (k, zk) in z.iter_mut().enumerate() {
            let p = start + (k * m + q) * l;
            // SAFETY: k < SEGMENTS and q < m give p + L ≤ end ≤ x.len(), out.len(), and
            // p ≥ start ≥ L − 1, as checked above. (Checked indexing here costs more integer
            // instructions than the vector work.)
            let (win, o) = unsafe { (x.get_unchecked(p + 1 - l..p + l), out.get_unchecked_mut(p..p + l)) };
            // Lane i of the vector at p needs x[p + i − k] for k < L (Horner in β).
            let mut w = V::load(win);
            for t in 1..l {
                w = w.mul_add(b, V::load(&win[t..]));
            }
            *zk = zk.mul_add(bl, w.mul(a));
            zk.store(o);
        }
    }
}

/// Carries the L outputs before `seg` into the segment's local results: adds table[q]·C to
/// its q-th vector (`table` holds β^(L(q+1)); `step` = β^(L·TABLE) rescales C per block), or
/// recomputes the segment by the plain recurrence when C is not finite.
#[inline(always)]
fn carry_in<V: SimdVec>(
    x: &[V::Elem],
    alpha: V::Elem,
    seg: std::ops::Range<usize>,
    table: &[V::Elem; TABLE],
    step: f64,
    out: &mut [V::Elem],
) {
    let l = V::LANES;
    let (before, rest) = out.split_at_mut(seg.start);
    let carried = &before[seg.start - l..];
    let ys = &mut rest[..seg.len()];
    if !carried.iter().all(|v| v.is_finite()) {
        scalar::recur(&x[seg], alpha, carried[l - 1], ys);
        return;
    }
    let c = V::load(carried);
    let cutoff = V::Elem::EPSILON.to_f64() / 1024.0;
    let mut f = 1.0;
    for block in ys.chunks_mut(TABLE * l) {
        if f <= cutoff {
            break;
        }
        let cb = c.mul(V::splat(V::Elem::from_f64(f)));
        for (o, &p) in block.chunks_exact_mut(l).zip(table) {
            V::splat(p).mul_add(cb, V::load(o)).store(o);
        }
        f *= step;
    }
}

simd_dispatch!(fn ema_dispatch(x: &[T], alpha: T, out: &mut [T]) = ema_body | scalar::ema;);

/// Plain-loop reference twin: the recurrence itself.
mod scalar {
    use crate::simd::Float;

    pub fn ema<T: Float>(x: &[T], alpha: T, out: &mut [T]) {
        let Some(&x0) = x.first() else { return };
        recur(x, alpha, x0, out);
        if let Some(o) = out.first_mut() {
            *o = x0;
        }
    }

    /// yₜ = α·xₜ + β·yₜ₋₁ into `out`, from y₋₁ = `y`.
    pub fn recur<T: Float>(x: &[T], alpha: T, mut y: T, out: &mut [T]) {
        let beta = T::ONE - alpha;
        for (o, &v) in out.iter_mut().zip(x) {
            y = alpha * v + beta * y;
            *o = y;
        }
    }
}

fn check_alpha<T: Float>(alpha: T) -> Result<(), KernelError> {
    if alpha > T::ZERO && alpha <= T::ONE {
        Ok(())
    } else {
        Err(KernelError::Alpha(alpha.to_f64()))
    }
}

/// The smoothing factor for a span (pandas `span=`): α = 2/(span+1). Errors unless `span >= 1`.
pub fn alpha_from_span<T: Float>(span: T) -> Result<T, KernelError> {
    if span >= T::ONE {
        Ok(T::from_f64(2.0) / (span + T::ONE))
    } else {
        Err(KernelError::Span(span.to_f64()))
    }
}

/// Exponential moving average of `x` into `out` (same length). Errors unless 0 < α ≤ 1.
pub fn ema<T: Float>(x: &[T], alpha: T, out: &mut [T]) -> Result<(), KernelError> {
    ema_with(active(), x, alpha, out)
}

/// [`ema`] at a chosen instruction-set level.
pub fn ema_with<T: Float>(isa: Isa, x: &[T], alpha: T, out: &mut [T]) -> Result<(), KernelError> {
    check_alpha(alpha)?;
    check_len("out", x.len(), out.len())?;
    ema_dispatch(isa, x, alpha, out);
    Ok(())
}

/// EMA of many series stored back to back: series `s` is `values[offsets[s]..offsets[s + 1]]`
/// and its EMA goes to the same range of `out`. Series are independent; large inputs run them
/// in parallel (results do not depend on the thread count).
pub fn ema_batch<T: Float>(values: &[T], offsets: &[usize], alpha: T, out: &mut [T]) -> Result<(), KernelError> {
    ema_batch_with(active(), values, offsets, alpha, out)
}

/// [`ema_batch`] at a chosen instruction-set level.
pub fn ema_batch_with<T: Float>(
    isa: Isa,
    values: &[T],
    offsets: &[usize],
    alpha: T,
    out: &mut [T],
) -> Result<(), KernelError> {
    check_alpha(alpha)?;
    check_len("out", values.len(), out.len())?;
    let valid = offsets.first() == Some(&0)
        && offsets.last() == Some(&values.len())
        && offsets.windows(2).all(|w| w[0] <= w[1]);
    if !valid {
        return Err(KernelError::Offsets { len: values.len() });
    }
    let mut series = Vec::with_capacity(offsets.len() - 1);
    let mut rest = out;
    for w in offsets.windows(2) {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(w[1] - w[0]);
        series.push((&values[w[0]..w[1]], head));
        rest = tail;
    }
    let run = |(x, o): (&[T], &mut [T])| ema_dispatch(isa, x, alpha, o);
    if values.len() >= PARALLEL_MIN && series.len() > 1 {
        series.into_par_iter().for_each(run);
    } else {
        series.into_iter().for_each(run);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::*;
    use proptest::prelude::*;

    fn check<T: Float>(x: &[T], alpha: T) {
        let mut want = vec![T::ZERO; x.len()];
        let mut got = vec![T::ZERO; x.len()];
        ema_with(Isa::Scalar, x, alpha, &mut want).unwrap();
        for isa in simd_isas() {
            ema_with(isa, x, alpha, &mut got).unwrap();
            assert_all_close(&got, &want, max_abs(x), isa.name());
            if let Some(&x0) = x.first() {
                assert_eq!(got[0], x0);
            }
        }
    }

    proptest! {
        #![proptest_config(config())]
        #[test]
        fn ema_blocked_matches_recurrence_f64(x in vec_f64(), alpha in 0.001f64..=1.0) { check(&x, alpha); }

        #[test]
        fn ema_blocked_matches_recurrence_f32(x in vec_f32(), alpha in 0.001f32..=1.0) { check(&x, alpha); }
    }

    #[test]
    fn ema_known_values_and_nan() {
        let mut out = [0.0; 4];
        ema(&[1.0, 3.0, 5.0, 7.0], 0.5, &mut out).unwrap();
        assert_eq!(out, [1.0, 2.0, 3.5, 5.25]);
        let mut x: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        x[600] = f64::NAN;
        let mut out = vec![0.0; 1000];
        for isa in [Isa::Scalar].into_iter().chain(simd_isas()) {
            ema_with(isa, &x, 0.1, &mut out).unwrap();
            assert!(out[..600].iter().all(|v| v.is_finite()) && out[600..].iter().all(|v| v.is_nan()));
        }
    }

    #[test]
    fn ema_long_series_with_truncated_carries() {
        // Long enough for full segments and several fix-up blocks; a spike and an infinity
        // exercise large carries and the non-finite recomputation.
        let mut x: Vec<f64> = (0..50_000).map(|i| ((i * 7919) % 101) as f64 - 50.0).collect();
        x[20_000] = 1e12;
        for alpha in [1.0, 0.5, 0.1, 0.003] {
            check(&x, alpha);
            check(&x.iter().map(|&v| v as f32).collect::<Vec<_>>(), alpha as f32);
        }
        x[30_000] = f64::INFINITY;
        let mut out = vec![0.0; x.len()];
        for isa in [Isa::Scalar].into_iter().chain(simd_isas()) {
            ema_with(isa, &x, 0.1, &mut out).unwrap();
            assert!(out[..30_000].iter().all(|v| v.is_finite()));
            assert!(out[30_000..].iter().all(|&v| v == f64::INFINITY), "{}", isa.name());
        }
    }

    #[test]
    fn ema_batch_matches_per_series() {
        let values: Vec<f64> = (0..200_000).map(|i| ((i * 37) % 101) as f64).collect();
        let offsets = [0, 5, 5, 70_000, 130_001, 200_000];
        let mut out = vec![0.0; values.len()];
        ema_batch(&values, &offsets, 0.3, &mut out).unwrap();
        for w in offsets.windows(2) {
            let mut want = vec![0.0; w[1] - w[0]];
            ema(&values[w[0]..w[1]], 0.3, &mut want).unwrap();
            assert_eq!(out[w[0]..w[1]], want[..]);
        }
    }

    #[test]
    fn ema_errors() {
        let mut out = [0.0; 3];
        assert_eq!(ema(&[1.0, 2.0, 3.0], 0.0, &mut out), Err(KernelError::Alpha(0.0)));
        assert!(ema(&[1.0, 2.0, 3.0], 1.5, &mut out).is_err());
        assert!(ema(&[1.0, 2.0, 3.0], f64::NAN, &mut out).is_err());
        assert!(ema(&[1.0, 2.0], 0.5, &mut out).is_err());
        assert_eq!(alpha_from_span(3.0), Ok(0.5));
        assert!(alpha_from_span(0.5f32).is_err());
        let v = [1.0, 2.0, 3.0];
        for bad in [&[][..], &[1, 3], &[0, 2], &[0, 2, 1, 3]] {
            assert_eq!(ema_batch(&v, bad, 0.5, &mut out), Err(KernelError::Offsets { len: 3 }));
        }
        assert!(ema(&[] as &[f64], 0.5, &mut []).is_ok());
    }
}
