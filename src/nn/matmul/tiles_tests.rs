//! The tests of the register tiles, the dot products and the transposes against plain sums, on every level.

use super::*;
use crate::simd::thread_isa;
use crate::nn::matmul::matmul_nt_acc;
use crate::nn::gradcheck::random_vec;

/// The AVX-512 packed products give the AVX2 ones' bits (so a forecaster's results do not depend on which
/// of the two a CPU runs), for row counts that exercise every tile height and width.
#[cfg(target_arch = "x86_64")]
#[test]
fn avx512_packed_products_equal_the_avx2_ones() {
    if crate::simd::detected() < crate::simd::Isa::Avx512 {
        return;
    }
    for &(m, k, n) in &[(1, 64, 256), (2, 7, 64), (3, 64, 48), (9, 1, 16), (17, 33, 80), (32, 64, 256), (45, 300, 32)] {
        let (a, w, c0, bias) = (random_vec(m * k, 1), random_vec(k * n, 2), random_vec(m * n, 3), random_vec(n, 4));
        let mut packed = PackedB::default();
        packed.pack(&w, k, n);
        let b = packed.as_slice().as_ptr();
        for (accumulate, bias) in [(false, std::ptr::null()), (true, std::ptr::null()), (true, bias.as_ptr())] {
            let (mut wide, mut narrow) = (c0.clone(), c0.clone());
            // SAFETY: avx512f (and so avx2 and fma on every CPU that has it) detected; shapes match the slices.
            unsafe {
                tiles_avx512::matmul_panels(a.as_ptr(), m, k, b, n, wide.as_mut_ptr(), accumulate, bias);
                avx2::matmul_panels(a.as_ptr(), m, k, b, n, narrow.as_mut_ptr(), accumulate, bias);
            }
            assert_eq!(wide, narrow, "m={m} k={k} n={n} accumulate={accumulate}");
        }
    }
}

/// The weight gradient's `a^T b` gives the bits of the plain product over the explicit transpose on every level,
/// over several blocks of inner rows and every tile and tail.
#[test]
fn transposed_products_equal_the_plain_ones_over_the_transpose() {
    let mut levels = vec![Isa::Scalar];
    if thread_isa() >= Isa::Avx2 {
        levels.push(thread_isa());
    }
    for &(k, m, n) in &[(1, 1, 1), (3, 7, 5), (600, 13, 48), (259, 64, 23), (513, 6, 16)] {
        let (a, b, c0) = (random_vec(k * m, 1), random_vec(k * n, 2), random_vec(m * n, 3));
        let mut at = Vec::new();
        transpose(Isa::Scalar, &a, k, m, &mut at);
        for &isa in &levels {
            let (mut c, mut expected) = (c0.clone(), c0.clone());
            matmul_tn_acc(isa, &a, k, m, &b, n, &mut c, &mut TnScratch::default());
            matmul_acc(isa, &at, m, k, &b, n, &mut expected);
            assert_eq!(c, expected, "{isa:?} k={k} m={m} n={n}");
        }
    }
}

fn close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .for_each(|(x, y)| assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{x} vs {y}"));
}

#[test]
fn products_agree_with_naive_sums_on_every_level() {
    let mut levels = vec![Isa::Scalar];
    if thread_isa() >= Isa::Avx2 {
        levels.push(thread_isa());
    }
    for &(m, k, n) in &[
        (1, 1, 1),
        (1, 64, 256),
        (3, 5, 7),
        (4, 64, 24),
        (5, 13, 40),
        (32, 64, 256),
        (7, 9, 61),
        (2, 256, 64),
        (8, 64, 256),
        (13, 20, 17),
        (32, 184, 64),
        (16, 13, 48),
        (6, 256, 64),
        (9, 37, 70),
    ] {
        let a = random_vec(m * k, 1);
        let b = random_vec(k * n, 2);
        let c0 = random_vec(m * n, 3);
        let mut bt = Vec::new();
        transpose(Isa::Scalar, &b, k, n, &mut bt);
        for &isa in &levels {
            let mut fast_bt = Vec::new();
            transpose(isa, &b, k, n, &mut fast_bt);
            assert_eq!(fast_bt, bt);
            assert!((0..k * n).all(|i| bt[(i % n) * k + i / n] == b[i]));
        }
        let expected: Vec<f32> = (0..m * n)
            .map(|idx| {
                let (i, j) = (idx / n, idx % n);
                c0[idx]
                    + (0..k)
                        .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                        .sum::<f64>() as f32
            })
            .collect();
        for &isa in &levels {
            let mut c = c0.clone();
            matmul_acc(isa, &a, m, k, &b, n, &mut c);
            close(&c, &expected, 1e-5);
            let mut c = c0.clone();
            matmul_nt_acc(isa, &a, m, k, &bt, n, &mut c);
            close(&c, &expected, 1e-5);
            let mut c = vec![f32::NAN; m * n];
            matmul(isa, &a, m, k, &b, n, &mut c);
            let product: Vec<f32> = expected.iter().zip(&c0).map(|(e, c)| e - c).collect();
            close(&c, &product, 1e-5);
        }
        for &isa in &levels {
            let (mut packed, mut packed_t) = (PackedB::default(), PackedB::default());
            packed.pack(&b, k, n);
            packed_t.pack_transposed(isa, &bt, n, k);
            let mut reference = c0.clone();
            matmul_acc(isa, &a, m, k, &b, n, &mut reference);
            for packed in [&packed, &packed_t] {
                let mut c = c0.clone();
                packed.matmul(isa, &a, m, &mut c, true);
                assert_eq!(
                    c, reference,
                    "packed products give the bits of the plain ones"
                );
                let bias = random_vec(n, 4);
                let mut filled: Vec<f32> = bias.iter().copied().cycle().take(m * n).collect();
                matmul_acc(isa, &a, m, k, &b, n, &mut filled);
                let mut c = vec![f32::NAN; m * n];
                packed.matmul_bias(isa, &a, m, &mut c, &bias);
                assert_eq!(c, filled, "bias-initialised products equal fill + accumulate");
                let mut c = vec![f32::NAN; m * n];
                packed.matmul(isa, &a, m, &mut c, false);
                let mut plain = vec![0.0; m * n];
                matmul(isa, &a, m, k, &b, n, &mut plain);
                assert_eq!(c, plain);
            }
        }
        // Row independence: each row alone gives the same bits as within the whole call.
        let (mut all, mut all_nt) = (c0.clone(), c0.clone());
        matmul_acc(thread_isa(), &a, m, k, &b, n, &mut all);
        matmul_nt_acc(thread_isa(), &a, m, k, &bt, n, &mut all_nt);
        for i in 0..m {
            let mut row = c0[i * n..(i + 1) * n].to_vec();
            matmul_acc(thread_isa(), &a[i * k..(i + 1) * k], 1, k, &b, n, &mut row);
            assert_eq!(row, &all[i * n..(i + 1) * n]);
            let mut row = c0[i * n..(i + 1) * n].to_vec();
            matmul_nt_acc(thread_isa(), &a[i * k..(i + 1) * k], 1, k, &bt, n, &mut row);
            assert_eq!(row, &all_nt[i * n..(i + 1) * n]);
        }
    }
}
