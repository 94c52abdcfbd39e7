//! Rolling-window statistics over "valid" windows: `out[i]` summarises `x[i..i + w]`, so the
//! output has `x.len() - w + 1` values.
//!
//! All four kernels are O(n) whatever the window, by van Herk/Gil-Werman block scans arranged by
//! window start: the starts are cut into blocks of `w`, and every window starting in block b is
//! the tail `x[i..e)` of that block plus the head `x[e..i + w)` of the next, e = (b + 1)·w. A
//! backward scan over the block gives every tail, a forward scan over the next block every
//! head, both indexed by the window start, so a SIMD pass combines them element by element.
//! The scans are sequential, so several blocks are scanned in lockstep to overlap their
//! dependency chains.
//!
//! Each window is built only from partial results over its own elements, which gives the NaN
//! policy for free: a NaN affects exactly the windows that contain it. For the standard
//! deviation the partial results are sums of d = x − c and d² around the shift c = x[e − 1],
//! the last element of the block, which lies inside every window of the block: |d| is at most
//! the window's range, so M2 = Σd² − (Σd)²/w cannot cancel catastrophically however large the
//! offset of the data (and a non-finite c only turns windows that contain it into NaN).

use super::{check_len, KernelError};
use crate::simd::{active, simd_dispatch, Float, Isa, SimdVec};

/// Blocks scanned in lockstep: enough independent chains to hide add latency.
const CHAINS: usize = 4;

/// Runs the tail and head folds of every block of window starts (see the module doc) for the
/// `x.len() - w + 1` windows over `x`. Each fold starts from `start(e)`; `emit(false, i, acc)`
/// receives the fold of the tail `x[i..e)` (i descending within a block), then
/// `emit(true, i, acc)` the fold of the head `x[e..i + w)` (i ascending). [`CHAINS`] blocks are
/// folded in lockstep while whole blocks remain. Every emitted index is below
/// `x.len() - w + 1`, which callers rely on to write unchecked.
#[inline(always)]
fn window_scans<T: Float, S: Copy>(
    x: &[T],
    w: usize,
    start: impl Fn(usize) -> S,
    step: impl Fn(S, T) -> S,
    mut emit: impl FnMut(bool, usize, S),
) {
    let m = x.len() + 1 - w;
    let mut b = 0;
    // Every block of the group is whole: its w window starts, and the w − 1 head elements
    // after it (up to (b + CHAINS)·w + w − 2 ≤ x.len() − 1), exist.
    while (b + CHAINS) * w <= m {
        let first: [usize; CHAINS] = std::array::from_fn(|k| (b + k) * w);
        let mut st = first.map(|f| start(f + w));
        for j in (0..w).rev() {
            for k in 0..CHAINS {
                // SAFETY: first[k] + j < (b + CHAINS)·w ≤ m ≤ x.len() (loop condition).
                st[k] = step(st[k], unsafe { *x.get_unchecked(first[k] + j) });
                emit(false, first[k] + j, st[k]);
            }
        }
        let mut st = first.map(|f| start(f + w));
        for k in 0..CHAINS {
            emit(true, first[k], st[k]);
        }
        for j in 1..w {
            for k in 0..CHAINS {
                // SAFETY: first[k] + w + j − 1 ≤ (b + CHAINS)·w + w − 2 ≤ m + w − 2 < x.len().
                st[k] = step(st[k], unsafe { *x.get_unchecked(first[k] + w + j - 1) });
                emit(true, first[k] + j, st[k]);
            }
        }
        b += CHAINS;
    }
    for f in (b * w..m).step_by(w) {
        // The block's last start is below m; its boundary e = f + w ≤ x.len() as f < m.
        let (e, last) = (f + w, m.min(f + w));
        let mut acc = start(e);
        for i in (f..e).rev() {
            acc = step(acc, x[i]);
            if i < last {
                emit(false, i, acc);
            }
        }
        let mut acc = start(e);
        emit(true, f, acc);
        for i in f + 1..last {
            acc = step(acc, x[i + w - 1]);
            emit(true, i, acc);
        }
    }
}

/// Rolling fold of an associative `op` with `identity`: tails into `out`, heads into
/// scratch, then `combine(tails, heads, out)` in place (`out` holds the tails on entry).
fn tail_head<T: Float>(
    x: &[T],
    w: usize,
    identity: T,
    op: impl Fn(T, T) -> T,
    out: &mut [T],
    combine: impl FnOnce(&mut [T], &[T]),
) {
    // Upholds the unchecked writes below (callers have validated it with `check_window`).
    assert_eq!(out.len() + w, x.len() + 1, "one output per window");
    T::with_scratch(out.len(), |heads| {
        window_scans(x, w, |_| identity, &op, |head, i, acc| {
            // SAFETY: `window_scans` emits only i < x.len() − w + 1 = out.len() (asserted
            // above), and `heads` holds as many values. Checked indexing would cost more than
            // the fold itself.
            unsafe {
                *(if head { heads.get_unchecked_mut(i) } else { out.get_unchecked_mut(i) }) = acc;
            }
        });
        combine(out, heads);
    });
}

/// out[i] = f(out[i], other[i]) vector by vector (`other` is at least as long as `out`; the
/// final partial vector is padded).
#[inline(always)]
fn update<V: SimdVec>(out: &mut [V::Elem], other: &[V::Elem], f: impl Fn(V, V) -> V) {
    let l = V::LANES;
    let mut chunks = out.chunks_exact_mut(l);
    let mut others = other.chunks_exact(l);
    for (o, b) in (&mut chunks).zip(&mut others) {
        f(V::load(o), V::load(b)).store(o);
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let z = V::Elem::ZERO;
        f(V::load_partial(tail, z), V::load_partial(others.remainder(), z)).store_partial(tail);
    }
}

#[inline(always)]
fn mean_combine_body<V: SimdVec>(out: &mut [V::Elem], heads: &[V::Elem], inv_w: V::Elem) {
    let inv_w = V::splat(inv_w);
    update(out, heads, |a: V, b| a.add(b).mul(inv_w));
}

#[inline(always)]
fn min_combine_body<V: SimdVec>(out: &mut [V::Elem], heads: &[V::Elem]) {
    update(out, heads, |a: V, b| a.min(b));
}

#[inline(always)]
fn max_combine_body<V: SimdVec>(out: &mut [V::Elem], heads: &[V::Elem]) {
    update(out, heads, |a: V, b| a.max(b));
}

/// std = √(max(Σd² − (Σd)²/w, 0)/(w − ddof)) from `out` = Σd² and `s1` = Σd per window (the
/// clamp removes the rounding residue of a zero M2; NaN passes through it).
#[inline(always)]
fn std_finish_body<V: SimdVec>(out: &mut [V::Elem], s1: &[V::Elem], inv_w: V::Elem, inv_dof: V::Elem) {
    let (neg_inv_w, inv_dof, zero) = (V::splat(-inv_w), V::splat(inv_dof), V::splat(V::Elem::ZERO));
    update(out, s1, |s2: V, s1| s1.mul(neg_inv_w).mul_add(s1, s2).max(zero).mul(inv_dof).sqrt());
}

simd_dispatch!(fn mean_combine(out: &mut [T], heads: &[T], inv_w: T)
    = mean_combine_body | scalar::mean_combine;);
simd_dispatch!(fn min_combine(out: &mut [T], heads: &[T]) = min_combine_body | scalar::min_combine;);
simd_dispatch!(fn max_combine(out: &mut [T], heads: &[T]) = max_combine_body | scalar::max_combine;);
simd_dispatch!(fn std_finish(out: &mut [T], s1: &[T], inv_w: T, inv_dof: T)
    = std_finish_body | scalar::std_finish;);

/// Plain-loop reference twins of the combine passes (the scans are shared).
mod scalar {
    use crate::simd::Float;

    pub fn mean_combine<T: Float>(out: &mut [T], heads: &[T], inv_w: T) {
        for (o, &b) in out.iter_mut().zip(heads) {
            *o = (*o + b) * inv_w;
        }
    }

    pub fn min_combine<T: Float>(out: &mut [T], heads: &[T]) {
        for (o, &b) in out.iter_mut().zip(heads) {
            *o = o.min_nan(b);
        }
    }

    pub fn max_combine<T: Float>(out: &mut [T], heads: &[T]) {
        for (o, &b) in out.iter_mut().zip(heads) {
            *o = o.max_nan(b);
        }
    }

    pub fn std_finish<T: Float>(out: &mut [T], s1: &[T], inv_w: T, inv_dof: T) {
        for (o, &s) in out.iter_mut().zip(s1) {
            let m2 = *o - s * s * inv_w;
            *o = (m2.max_nan(T::ZERO) * inv_dof).sqrt();
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
    tail_head(x, window, T::ZERO, |a, b| a + b, out, |out, heads| mean_combine(isa, out, heads, inv_w));
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
    let inv_w = T::ONE / T::from_usize(window);
    let inv_dof = T::ONE / T::from_usize(window - ddof);
    T::with_scratch(out.len(), |s1| {
        // State (c, Σd, Σd²) with d = v − c; Σd goes to `s1`, Σd² to `out`.
        let start = |e: usize| (x[e - 1], T::ZERO, T::ZERO);
        let step = |(c, a, b): (T, T, T), v: T| {
            let d = v - c;
            (c, a + d, b + d * d)
        };
        window_scans(x, window, start, step, |head, i, (_, a, b)| {
            // SAFETY: `window_scans` emits only i < x.len() − w + 1 = out.len() (checked by
            // `check_window` above), and `s1` holds as many values.
            let (p1, p2) = unsafe { (s1.get_unchecked_mut(i), out.get_unchecked_mut(i)) };
            if head {
                *p1 += a;
                *p2 += b;
            } else {
                (*p1, *p2) = (a, b);
            }
        });
        std_finish(isa, out, s1, inv_w, inv_dof);
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
    tail_head(x, window, T::INFINITY, T::min_nan, out, |out, heads| min_combine(isa, out, heads));
    Ok(())
}

/// Rolling maximum (NaN for windows containing a NaN).
pub fn rolling_max<T: Float>(x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    rolling_max_with(active(), x, window, out)
}

/// [`rolling_max`] at a chosen instruction-set level.
pub fn rolling_max_with<T: Float>(isa: Isa, x: &[T], window: usize, out: &mut [T]) -> Result<(), KernelError> {
    check_window(x, window, out)?;
    tail_head(x, window, T::NEG_INFINITY, T::max_nan, out, |out, heads| max_combine(isa, out, heads));
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
    fn rolling_std_is_stable_after_a_jump() {
        // Zeros, then small noise on 1e9: a shift taken from outside a window (e.g. from the
        // zeros) would leave M2 = Σd² − (Σd)²/w to cancel at the scale of 1e18·w.
        let x: Vec<f64> = (0..400).map(|i| if i < 57 { 0.0 } else { 1e9 + ((i * 7919) % 13) as f64 * 0.1 }).collect();
        for w in [3, 20, 100] {
            let want = naive(&x, w, |s| naive_std(s, 0));
            for isa in [Isa::Scalar].into_iter().chain(simd_isas()) {
                let got = run_std(isa, &x, w, 0);
                for (i, (g, v)) in got.iter().zip(&want).enumerate().filter(|(i, _)| *i >= 57) {
                    assert!((g - v).abs() <= 1e-6 * v.max(0.1), "w {w} i {i}: {g} vs {v}");
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
