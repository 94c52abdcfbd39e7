//! Rolling-window statistics over "valid" windows: `out[i]` summarises `x[i..i + w]`, so the
//! output has `x.len() - w + 1` values.
//!
//! All four kernels are O(n) whatever the window, by van Herk/Gil-Werman block scans: cut `x`
//! into blocks of `w`; a window then covers the tail of one block and the head of the next, so
//! it is `suffix[i] ⊕ prefix[i + w]` (suffix: inclusive scan backwards within a block; prefix:
//! exclusive scan forwards, so a window that starts a block combines with the empty prefix).
//! The scans are sequential, so several blocks are scanned in lockstep to overlap their
//! dependency chains; the combine pass is SIMD.
//!
//! Each window is built only from partial results over its own elements, which gives the NaN
//! policy for free: a NaN affects exactly the windows that contain it. For the standard
//! deviation the partial results are (mean, M2) pairs accumulated around a per-block shift (the
//! block's first finite value) and merged with Chan's formula, so large offsets do not cancel.

use super::{check_len, scan_blocks, KernelError};
use crate::simd::{active, simd_dispatch, Float, Isa, SimdVec};

/// Blocks scanned in lockstep: enough independent chains to hide add latency.
const CHAINS: usize = 4;

/// Block suffix (inclusive, `suf`: n values) and exclusive prefix (`pre`: n + 1 values)
/// scans of `op`.
fn block_scans<T: Float>(x: &[T], w: usize, identity: T, op: impl Fn(T, T) -> T, suf: &mut [T], pre: &mut [T]) {
    let n = x.len();
    scan_blocks::<_, CHAINS>(n, w, true, |_| identity, |acc, i| {
        let a = op(x[i], acc);
        suf[i] = a;
        a
    });
    // Index n is scanned too: it holds the head of the block after the last window.
    scan_blocks::<_, CHAINS>(n + 1, w, false, |_| identity, |acc, i| {
        pre[i] = acc;
        x.get(i).map_or(acc, |&v| op(acc, v))
    });
}

/// Runs a suffix/prefix rolling kernel: scans into scratch, then `combine(suffix, prefix
/// shifted to the window end, out)`.
fn suffix_prefix<T: Float>(
    x: &[T],
    w: usize,
    identity: T,
    op: impl Fn(T, T) -> T,
    combine: impl FnOnce(&[T], &[T]),
) {
    let n = x.len();
    T::with_scratch(2 * n + 1, |buf| {
        let (suf, pre) = buf.split_at_mut(n);
        block_scans(x, w, identity, op, suf, pre);
        combine(suf, pre.get(w..).unwrap_or(&[]));
    });
}

/// Per-index (mean, M2) of the block tail `x[i..block end]` (n values each) and head
/// `x[block start..k)` (n + 1 values each), plus the merge weight nₐn_b/w of the window
/// that ends at `k`.
struct Moments<'a, T> {
    tail_mean: &'a mut [T],
    tail_m2: &'a mut [T],
    head_mean: &'a mut [T],
    head_m2: &'a mut [T],
    weight: &'a mut [T],
}

impl<'a, T> Moments<'a, T> {
    /// Carves the five arrays for `n` values out of `buf` (at least 5n + 3 long).
    fn split(buf: &'a mut [T], n: usize) -> Self {
        let (tail_mean, rest) = buf.split_at_mut(n);
        let (tail_m2, rest) = rest.split_at_mut(n);
        let (head_mean, rest) = rest.split_at_mut(n + 1);
        let (head_m2, rest) = rest.split_at_mut(n + 1);
        Moments { tail_mean, tail_m2, head_mean, head_m2, weight: rest }
    }
}

/// (shift, Σd, Σd², count) while scanning a block, d = x − shift.
type MomentState<T> = (T, T, T, usize);

fn block_moments<T: Float>(x: &[T], w: usize, m: &mut Moments<'_, T>) {
    let n = x.len();
    let wf = T::from_usize(w);
    // inv[c] = 1/c (0 for an empty part); weight[c] = c·(w−c)/w for a head of c elements.
    let inv: Vec<T> = (0..=w).map(|c| if c == 0 { T::ZERO } else { T::ONE / T::from_usize(c) }).collect();
    let wtab: Vec<T> = (0..=w).map(|c| T::from_usize(c) * T::from_usize(w - c) / wf).collect();
    // The shift is the block's first finite value, close to the block's data and never NaN.
    let shift = |first: usize| {
        let block = x.get(first..n.min(first + w)).unwrap_or(&[]);
        let c = block.iter().copied().find(|v| v.is_finite()).unwrap_or(T::ZERO);
        (c, T::ZERO, T::ZERO, 0)
    };
    let moments = |(c, s1, s2, cnt): MomentState<T>| {
        let m = s1 * inv.get(cnt).copied().unwrap_or(T::ZERO);
        let m2 = s2 - s1 * m;
        (c + m, if m2 < T::ZERO { T::ZERO } else { m2 })
    };
    let add = |(c, s1, s2, cnt): MomentState<T>, v: T| {
        let d = v - c;
        (c, s1 + d, s2 + d * d, cnt + 1)
    };
    scan_blocks::<_, CHAINS>(n, w, true, shift, |st, i| {
        let st = add(st, x[i]);
        (m.tail_mean[i], m.tail_m2[i]) = moments(st);
        st
    });
    scan_blocks::<_, CHAINS>(n + 1, w, false, shift, |st, i| {
        (m.head_mean[i], m.head_m2[i]) = moments(st);
        m.weight[i] = wtab.get(st.3).copied().unwrap_or(T::ZERO);
        x.get(i).map_or(st, |&v| add(st, v))
    });
}

/// out[i] = f(ins[0][i], ins[1][i], ...) vector by vector; every input is at least as long as
/// `out` (the final partial vector is padded).
#[inline(always)]
fn map_n<V: SimdVec, const K: usize>(ins: [&[V::Elem]; K], out: &mut [V::Elem], f: impl Fn([V; K]) -> V) {
    let l = V::LANES;
    let mut chunks = out.chunks_exact_mut(l);
    let mut i = 0;
    for o in &mut chunks {
        f(ins.map(|s| V::load(&s[i..]))).store(o);
        i += l;
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        f(ins.map(|s| V::load_partial(s.get(i..).unwrap_or(&[]), V::Elem::ZERO))).store_partial(tail);
    }
}

#[inline(always)]
fn mean_combine_body<V: SimdVec>(suf: &[V::Elem], pre: &[V::Elem], inv_w: V::Elem, out: &mut [V::Elem]) {
    let inv_w = V::splat(inv_w);
    map_n([suf, pre], out, |[a, b]: [V; 2]| a.add(b).mul(inv_w));
}

#[inline(always)]
fn min_combine_body<V: SimdVec>(suf: &[V::Elem], pre: &[V::Elem], out: &mut [V::Elem]) {
    map_n([suf, pre], out, |[a, b]: [V; 2]| a.min(b));
}

#[inline(always)]
fn max_combine_body<V: SimdVec>(suf: &[V::Elem], pre: &[V::Elem], out: &mut [V::Elem]) {
    map_n([suf, pre], out, |[a, b]: [V; 2]| a.max(b));
}

/// Chan's merge of tail and head moments: M2 = M2ₐ + M2_b + (mean_b − meanₐ)²·nₐn_b/w.
#[inline(always)]
fn std_combine_body<V: SimdVec>(parts: [&[V::Elem]; 5], inv_dof: V::Elem, out: &mut [V::Elem]) {
    let inv_dof = V::splat(inv_dof);
    map_n(parts, out, |[ma, m2a, mb, m2b, wt]: [V; 5]| {
        let d = mb.sub(ma);
        d.mul(d).mul_add(wt, m2a.add(m2b)).mul(inv_dof).sqrt()
    });
}

simd_dispatch!(fn mean_combine(suf: &[T], pre: &[T], inv_w: T, out: &mut [T])
    = mean_combine_body | scalar::mean_combine;);
simd_dispatch!(fn min_combine(suf: &[T], pre: &[T], out: &mut [T])
    = min_combine_body | scalar::min_combine;);
simd_dispatch!(fn max_combine(suf: &[T], pre: &[T], out: &mut [T])
    = max_combine_body | scalar::max_combine;);
simd_dispatch!(fn std_combine(parts: [&[T]; 5], inv_dof: T, out: &mut [T])
    = std_combine_body | scalar::std_combine;);

/// Plain-loop reference twins of the combine passes (the scans are shared).
mod scalar {
    use crate::simd::Float;

    pub fn mean_combine<T: Float>(suf: &[T], pre: &[T], inv_w: T, out: &mut [T]) {
        for ((o, &a), &b) in out.iter_mut().zip(suf).zip(pre) {
            *o = (a + b) * inv_w;
        }
    }

    pub fn min_combine<T: Float>(suf: &[T], pre: &[T], out: &mut [T]) {
        for ((o, &a), &b) in out.iter_mut().zip(suf).zip(pre) {
            *o = a.min_nan(b);
        }
    }

    pub fn max_combine<T: Float>(suf: &[T], pre: &[T], out: &mut [T]) {
        for ((o, &a), &b) in out.iter_mut().zip(suf).zip(pre) {
            *o = a.max_nan(b);
        }
    }

    pub fn std_combine<T: Float>(parts: [&[T]; 5], inv_dof: T, out: &mut [T]) {
        let [ma, m2a, mb, m2b, wt] = parts;
        for (i, o) in out.iter_mut().enumerate() {
            let d = mb[i] - ma[i];
            *o = ((d * d * wt[i] + (m2a[i] + m2b[i])) * inv_dof).sqrt();
        }
    }
}

/// Validates the window and output length; returns the number of windows.
fn check_window<T>(x: &[T], window: usize, out: &[T]) -> Result<usize, KernelError> {
    if window == 0 || window > x.len() {
        return Err(KernelError::Window { window, len: x.len() });
    }
    let windows = x.len() - window + 1;
    check_len("out", windows, out.len())?;
    Ok(windows)
}

/// Rolling mean over windows of `window` values into `out` (length `x.len() - window + 1`).
pub fn rolling_mean<T: Float>(x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    rolling_mean_with(active(), x, window, out)
}

/// [`rolling_mean`] at a chosen instruction-set level.
pub fn rolling_mean_with<T: Float>(isa: Isa, x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    check_window(x, window, out)?;
    let inv_w = T::ONE / T::from_usize(window);
    suffix_prefix(x, window, T::ZERO, |a, b| a + b, |suf, pre| mean_combine(isa, suf, pre, inv_w, out));
    Ok(())
}

/// Rolling standard deviation with `ddof` (0: population, 1: sample). Errors unless
/// `ddof < window`.
pub fn rolling_std<T: Float>(x: &[T], window: usize, ddof: usize, out: &mut [T]) -> Result<(), KernelError> {
    rolling_std_with(active(), x, window, ddof, out)
}

/// [`rolling_std`] at a chosen instruction-set level.
pub fn rolling_std_with<T: Float>(
    isa: Isa,
    x: &[T],
    window: usize,
    ddof: usize,
    out: &mut [T],
) -> Result<(), KernelError> {
    check_window(x, window, out)?;
    if ddof >= window {
        return Err(KernelError::Ddof { ddof, count: window });
    }
    let n = x.len();
    let inv_dof = T::ONE / T::from_usize(window - ddof);
    T::with_scratch(5 * n + 3, |buf| {
        let mut m = Moments::split(buf, n);
        block_moments(x, window, &mut m);
        // Head arrays are indexed by the window's end i + w.
        let w = window.min(n);
        let parts = [&*m.tail_mean, &*m.tail_m2, &m.head_mean[w..], &m.head_m2[w..], &m.weight[w..]];
        std_combine(isa, parts, inv_dof, out);
    });
    Ok(())
}

/// Rolling minimum (NaN for windows containing a NaN).
pub fn rolling_min<T: Float>(x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    rolling_min_with(active(), x, window, out)
}

/// [`rolling_min`] at a chosen instruction-set level.
pub fn rolling_min_with<T: Float>(isa: Isa, x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    check_window(x, window, out)?;
    suffix_prefix(x, window, T::INFINITY, T::min_nan, |suf, pre| min_combine(isa, suf, pre, out));
    Ok(())
}

/// Rolling maximum (NaN for windows containing a NaN).
pub fn rolling_max<T: Float>(x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    rolling_max_with(active(), x, window, out)
}

/// [`rolling_max`] at a chosen instruction-set level.
pub fn rolling_max_with<T: Float>(isa: Isa, x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    check_window(x, window, out)?;
    suffix_prefix(x, window, T::NEG_INFINITY, T::max_nan, |suf, pre| max_combine(isa, suf, pre, out));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::testutil::*;
    use proptest::prelude::*;

    type Rolling = fn(Isa, &[f64], usize, &mut [f64]) -> Result<(), KernelError>;

    fn naive(x: &[f64], w: usize, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
        x.windows(w).map(f).collect()
    }

    fn naive_std(win: &[f64], ddof: usize) -> f64 {
        let m = win.iter().sum::<f64>() / win.len() as f64;
        (win.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (win.len() - ddof) as f64).sqrt()
    }

    fn run(f: Rolling, isa: Isa, x: &[f64], w: usize) -> Vec<f64> {
        let mut out = vec![0.0; x.len() - w + 1];
        f(isa, x, w, &mut out).unwrap();
        out
    }

    fn run_std(isa: Isa, x: &[f64], w: usize, ddof: usize) -> Vec<f64> {
        let mut out = vec![0.0; x.len() - w + 1];
        rolling_std_with(isa, x, w, ddof, &mut out).unwrap();
        out
    }

    /// Every level (scalar twin included) against the naive O(n·w) windows.
    fn check(x: &[f64], w: usize) {
        let scale = max_abs(x);
        let mean_want = naive(x, w, |s| s.iter().sum::<f64>() / w as f64);
        let min_want = naive(x, w, |s| s.iter().copied().reduce(f64::min_nan).unwrap());
        let max_want = naive(x, w, |s| s.iter().copied().reduce(f64::max_nan).unwrap());
        let ddof = usize::from(w > 1);
        let var_want: Vec<f64> = naive(x, w, |s| naive_std(s, ddof).powi(2));
        for isa in [Isa::Scalar].into_iter().chain(simd_isas()) {
            let what = isa.name();
            assert_all_close(&run(rolling_mean_with, isa, x, w), &mean_want, scale, what);
            assert_eq!(run(rolling_min_with, isa, x, w), min_want, "min {what}");
            assert_eq!(run(rolling_max_with, isa, x, w), max_want, "max {what}");
            // Compare variances: sqrt near 0 would amplify harmless rounding.
            let var: Vec<f64> = run_std(isa, x, w, ddof).iter().map(|s| s * s).collect();
            assert_all_close(&var, &var_want, scale * scale * w as f64, what);
        }
    }

    proptest! {
        #![proptest_config(config())]
        #[test]
        fn rolling_matches_naive((x, w) in vec_and_window()) { check(&x, w); }

        #[test]
        fn rolling_f32_simd_matches_scalar(x in vec_f32(), w in 1usize..50) {
            let w = w.min(x.len().max(1));
            if x.len() >= w {
                let m = x.len() - w + 1;
                let (mut std_want, mut mean_want, mut got) = (vec![0f32; m], vec![0f32; m], vec![0f32; m]);
                rolling_std_with(Isa::Scalar, &x, w, 0, &mut std_want).unwrap();
                rolling_mean_with(Isa::Scalar, &x, w, &mut mean_want).unwrap();
                for isa in simd_isas() {
                    rolling_std_with(isa, &x, w, 0, &mut got).unwrap();
                    assert_all_close(&got, &std_want, max_abs(&x), isa.name());
                    rolling_mean_with(isa, &x, w, &mut got).unwrap();
                    assert_all_close(&got, &mean_want, max_abs(&x), isa.name());
                }
            }
        }
    }

    #[test]
    fn rolling_nan_only_affects_its_windows() {
        let mut x: Vec<f64> = (0..50).map(|i| (i as f64 * 0.7).sin() * 10.0 + 1e6).collect();
        x[17] = f64::NAN;
        for w in [1, 3, 7, 16, 50] {
            for isa in [Isa::Scalar].into_iter().chain(simd_isas()) {
                let outs = [
                    run(rolling_mean_with, isa, &x, w),
                    run(rolling_min_with, isa, &x, w),
                    run(rolling_max_with, isa, &x, w),
                    run_std(isa, &x, w, 0),
                ];
                for out in outs {
                    for (i, v) in out.iter().enumerate() {
                        assert_eq!(v.is_nan(), (i..i + w).contains(&17), "w {w} i {i} {}", isa.name());
                    }
                }
            }
        }
    }

    #[test]
    fn rolling_std_is_stable_for_large_offsets() {
        let x: Vec<f64> = (0..5000).map(|i| 1e9 + ((i * 7919) % 13) as f64 * 0.1).collect();
        for w in [5, 20, 1000] {
            let want = naive(&x, w, |s| naive_std(s, 1));
            for isa in [Isa::Scalar].into_iter().chain(simd_isas()) {
                let got = run_std(isa, &x, w, 1);
                for (g, v) in got.iter().zip(&want) {
                    assert!((g - v).abs() <= 1e-6 * v.max(0.1), "w {w}: {g} vs {v}");
                }
            }
        }
    }

    #[test]
    fn rolling_errors() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let mut out = [0.0; 4];
        let err = rolling_mean(&x, 0, &mut out).unwrap_err();
        assert_eq!(err.to_string(), "window must be between 1 and the input length 4, got 0");
        assert!(rolling_min(&x, 5, &mut out).is_err());
        assert!(rolling_max(&x, 2, &mut out).is_err(), "out must have 3 values");
        assert_eq!(rolling_std(&x, 2, 2, &mut out[..3]), Err(KernelError::Ddof { ddof: 2, count: 2 }));
        rolling_max(&x, 2, &mut out[..3]).unwrap();
        assert_eq!(out[..3], [2.0, 3.0, 4.0]);
        let e: [f32; 0] = [];
        assert!(rolling_mean(&e, 1, &mut []).is_err());
    }
}
