//! Exponential moving average, pandas `ewm(alpha, adjust=False)`:
//! y₀ = x₀, yₜ = α·xₜ + (1−α)·yₜ₋₁.
//!
//! The recurrence is one long dependency chain (latency-bound), so the SIMD version uses a
//! blocked scan: each block of [`BLOCK`] values first runs the recurrence from 0
//! (zⱼ = α·xₛ₊ⱼ + β·zⱼ₋₁, several blocks interleaved as independent chains), then, block by
//! block, adds the carried-in value: yₛ₊ⱼ = zⱼ + βʲ⁺¹·yₛ₋₁ (a SIMD fused multiply-add with
//! precomputed powers of β = 1−α). Block 0 is carried in from y₋₁ = x₀, which reproduces
//! y₀ = x₀.

use super::elementwise::axpy_body;
use super::{check_len, scan_blocks, KernelError};
use crate::simd::{active, simd_dispatch, Float, Isa, SimdVec};
use rayon::prelude::*;

/// Values per block of the blocked scan.
const BLOCK: usize = 256;
/// Blocks whose local recurrences run interleaved (hides mul/add latency).
const CHAINS: usize = 8;
/// `ema_batch` inputs of at least this many values run their series in parallel.
const PARALLEL_MIN: usize = 1 << 16;

#[inline(always)]
fn ema_body<V: SimdVec>(x: &[V::Elem], alpha: V::Elem, out: &mut [V::Elem]) {
    let Some(&x0) = x.first() else { return };
    let beta = V::Elem::ONE - alpha;
    scan_blocks::<_, CHAINS>(x.len(), BLOCK, false, |_| V::Elem::ZERO, |z, i| {
        let z = alpha * x[i] + beta * z;
        out[i] = z;
        z
    });
    // powers[j] = β^(j+1), accumulated in f64 so f32 keeps full accuracy over the block.
    let mut powers = [V::Elem::ZERO; BLOCK];
    let mut p = 1.0;
    for slot in powers.iter_mut() {
        p *= beta.to_f64();
        *slot = V::Elem::from_f64(p);
    }
    let mut carry = x0;
    for block in out.chunks_mut(BLOCK) {
        let len = block.len();
        axpy_body::<V>(carry, &powers[..len], block);
        carry = block[len - 1];
    }
    out[0] = x0;
}

simd_dispatch!(fn ema_dispatch(x: &[T], alpha: T, out: &mut [T]) = ema_body | scalar::ema;);

/// Plain-loop reference twin: the recurrence itself.
mod scalar {
    use crate::simd::Float;

    pub fn ema<T: Float>(x: &[T], alpha: T, out: &mut [T]) {
        let beta = T::ONE - alpha;
        let mut y = match x.first() {
            Some(&x0) => x0,
            None => return,
        };
        for (o, &v) in out.iter_mut().zip(x) {
            y = alpha * v + beta * y;
            *o = y;
        }
        if let (Some(o), Some(&x0)) = (out.first_mut(), x.first()) {
            *o = x0;
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
