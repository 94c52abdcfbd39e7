//! Tests of the rolling-window kernels: every SIMD level against a naive window loop, the NaN policy, stability and errors.

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

/// Every count of blocks in the last group of lanes, at windows of 1 to 33 (33: the split last
/// group's parts of 9 starts leave a shorter last part).
#[test]
fn last_groups_of_every_size_match_naive() {
    for w in [1usize, 2, 3, 7, 20, 33] {
        for m in 8 * w..16 * w {
            let x: Vec<f64> = (0..m + w - 1).map(|i| ((i * 7919 % 1009) as f64 - 500.0) * 0.37 + 1e3).collect();
            check(&x, w);
        }
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
    let mut x: Vec<f64> = (0..50)
        .map(|i| (i as f64 * 0.7).sin() * 10.0 + 1e6)
        .collect();
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
                    assert_eq!(
                        v.is_nan(),
                        (i..i + w).contains(&17),
                        "w {w} i {i} {}",
                        isa.name()
                    );
                }
            }
        }
    }
}

/// A NaN anywhere in a last group split into parts (10 blocks: 2 past the full groups of 4 or
/// 8 lanes), or just before it, reaches exactly the windows that contain it.
#[test]
fn a_nan_in_a_split_last_group_only_affects_its_windows() {
    let w = 20;
    let clean: Vec<f64> = (0..190 + w - 1).map(|i| (i as f64 * 0.3).cos() * 5.0 + 1e4).collect();
    for p in (150..clean.len()).step_by(3) {
        let mut x = clean.clone();
        x[p] = f64::NAN;
        for isa in simd_isas() {
            let outs = [run(rolling_mean_with, isa, &x, w), run(rolling_min_with, isa, &x, w), run(rolling_max_with, isa, &x, w), run_std(isa, &x, w, 1)];
            for out in outs {
                for (i, v) in out.iter().enumerate() {
                    assert_eq!(v.is_nan(), (i..i + w).contains(&p), "NaN at {p}, window {i}, {}", isa.name());
                }
            }
        }
    }
}

#[test]
fn rolling_std_is_stable_for_large_offsets() {
    let x: Vec<f64> = (0..5000)
        .map(|i| 1e9 + ((i * 7919) % 13) as f64 * 0.1)
        .collect();
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
    let x: Vec<f64> = (0..400)
        .map(|i| {
            if i < 57 {
                0.0
            } else {
                1e9 + ((i * 7919) % 13) as f64 * 0.1
            }
        })
        .collect();
    for w in [3, 20, 100] {
        let want = naive(&x, w, |s| naive_std(s, 0));
        for isa in [Isa::Scalar].into_iter().chain(simd_isas()) {
            let got = run_std(isa, &x, w, 0);
            for (i, (g, v)) in got.iter().zip(&want).enumerate().filter(|(i, _)| *i >= 57) {
                assert!(
                    (g - v).abs() <= 1e-6 * v.max(0.1),
                    "w {w} i {i}: {g} vs {v}"
                );
            }
        }
    }
}

#[test]
fn rolling_errors() {
    let x = [1.0, 2.0, 3.0, 4.0];
    let mut out = [0.0; 4];
    let err = rolling_mean(&x, 0, &mut out).unwrap_err();
    assert_eq!(
        err.to_string(),
        "window must be between 1 and the input length 4, got 0"
    );
    assert!(rolling_min(&x, 5, &mut out).is_err());
    assert!(
        rolling_max(&x, 2, &mut out).is_err(),
        "out must have 3 values"
    );
    assert_eq!(
        rolling_std(&x, 2, 2, &mut out[..3]),
        Err(KernelError::Ddof { ddof: 2, count: 2 })
    );
    rolling_max(&x, 2, &mut out[..3]).unwrap();
    assert_eq!(out[..3], [2.0, 3.0, 4.0]);
    let e: [f32; 0] = [];
    assert!(rolling_mean(&e, 1, &mut []).is_err());
}
