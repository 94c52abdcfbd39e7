//! The tests of the layer products: every kernel against gemm, and the timings behind the dispatch table.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::nn::gradcheck::random_vec;
use crate::nn::ParamInit;

/// One backward pass's operands.
fn pass<'a>(layer: &'a Linear, params: &'a ParamStore, input: &'a [f32], d_output: &'a [f32], rows: usize) -> Backward<'a> {
    Backward { layer, params, input, d_output, rows }
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
}

/// Every kernel this CPU runs (Dot and Tiles run everywhere, on the scalar path without AVX2).
fn available_kernels() -> Vec<Kernel> {
    #[allow(unused_mut)]
    let mut kernels = vec![Kernel::Gemm, Kernel::Dot, Kernel::Tiles];
    #[cfg(target_arch = "x86_64")]
    if thread_isa() == Isa::Avx512 {
        kernels.push(Kernel::Avx512);
    }
    kernels
}

fn layer(k: usize, n: usize, bias: bool, seed: u64) -> (Linear, ParamStore) {
    let mut params = ParamStore::new();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut init = ParamInit::new(&mut params, &mut rng);
    let layer = if bias { Linear::new(&mut init, k, n) } else { Linear::without_bias(&mut init, k, n) }.unwrap();
    (layer, params)
}

/// Every kernel, with every tile and tail combination, against gemm, forward and backward.
#[test]
fn products_match_gemm() {
    // Shapes with every tail: k around the 16- and 64-lane strips and the AVX-512F forward threshold, n
    // around the 4- and 8-column tiles, the 16-column panels and across several 64-row weight chunks, rows
    // around the 4-row tiles, the packing threshold and the other kernels' limits, and past MAX_ROWS (AVX-512F's
    // weight gradient in blocks); 520 outputs make the products of the most rows large enough for gemm to pack
    // (and the tiles to take the weight gradient).
    let shapes = [
        (1, 1, true),
        (15, 5, true),
        (16, 4, false),
        (17, 9, true),
        (24, 36, true),
        (70, 13, false),
        (130, 7, true),
        (64, 130, true),
        (81, 200, false),
        (128, 32, true),
        (137, 19, false),
        (40, 520, true),
    ];
    for (k, n, bias) in shapes {
        let (layer, params) = layer(k, n, bias, k as u64);
        for rows in [1, 2, 3, 4, 5, 8, 9, 16, 17, 32, 63, MAX_ROWS, MAX_ROWS + 1, 3 * MAX_ROWS + 5] {
            let input = random_vec(rows * k, 1);
            let d_output = random_vec(rows * n, 2);
            let mut expected = vec![0.0; rows * n];
            gemm_forward(&layer, &params, &input, rows, &mut expected).unwrap();
            let (mut grads_expected, mut d_expected) = (params.zeros_like(), vec![0.0; rows * k]);
            gemm_backward(pass(&layer, &params, &input, &d_output, rows), &mut grads_expected, Some(&mut d_expected)).unwrap();
            // Accumulating onto earlier gradients, as the models' layers do.
            let mut again_expected = grads_expected.clone();
            gemm_backward(pass(&layer, &params, &input, &d_output, rows), &mut again_expected, None).unwrap();
            for kernel in available_kernels() {
                let mut actual = vec![9.0; rows * n];
                forward_with(kernel, &layer, &params, &input, rows, &mut actual).unwrap();
                assert!(close(&actual, &expected), "{kernel:?} forward k={k} n={n} rows={rows}");
                let (mut grads, mut d_actual) = (params.zeros_like(), vec![9.0; rows * k]);
                backward_with(kernel, pass(&layer, &params, &input, &d_output, rows), &mut grads, Some(&mut d_actual)).unwrap();
                assert!(close(&d_actual, &d_expected), "{kernel:?} input gradient k={k} n={n} rows={rows}");
                backward_with(kernel, pass(&layer, &params, &input, &d_output, rows), &mut grads, None).unwrap();
                for ((name, a), (_, e)) in grads.iter().zip(again_expected.iter()) {
                    assert!(close(&a.data, &e.data), "{kernel:?} {name} k={k} n={n} rows={rows}");
                }
            }
        }
    }
}

#[test]
fn every_kernel_gives_a_row_the_same_bits_in_any_batch() {
    // AVX-512F also over 130 and 250 rows (its packed weight panels; with 600 inputs, its blocks of 108 rows of
    // `x`; gemm, for SIMD off, changes crates at such sizes). The first and last rows of each batch are checked
    // against themselves alone.
    let (batches, panels) = ([2, 3, 4, 5, 20, MAX_ROWS + 6], [130, 250]);
    for (k, n) in [(40, 50), (150, 48), (600, 30)] {
        let (layer, params) = layer(k, n, true, 2);
        let input = random_vec(250 * k, 1);
        for kernel in available_kernels() {
            let run = |rows: &[f32]| {
                let mut output = vec![0.0; rows.len() / k * n];
                forward_with(kernel, &layer, &params, rows, rows.len() / k, &mut output).unwrap();
                output
            };
            let alone = |row: usize| run(&input[row * k..(row + 1) * k]);
            #[cfg(target_arch = "x86_64")]
            let large: &[usize] = if kernel == Kernel::Avx512 { &panels } else { &[] };
            #[cfg(not(target_arch = "x86_64"))]
            let large = &panels[..0];
            for &rows in batches.iter().chain(large) {
                let batch = run(&input[..rows * k]);
                for row in [0, rows - 1] {
                    assert_eq!(batch[row * n..(row + 1) * n], alone(row), "{kernel:?} k={k}, row {row} of {rows}");
                }
            }
        }
    }
}

#[test]
fn a_large_layer_shared_with_the_assistant_keeps_its_bits() {
    // 530 outputs: chunks of 32 and a last one of 18, which ends in columns outside any group of 4.
    let (k, n) = (300, 530);
    assert!(k * n >= SHARED_MIN_WEIGHTS);
    let (layer, params) = layer(k, n, true, 5);
    let input = random_vec(5 * k, 6);
    for simd in [true, false] {
        let _simd = crate::simd::scoped_simd(simd);
        for kernel in available_kernels() {
            for rows in [1, 3, 5] {
                let run = |shared: bool| {
                    let _assist = assist::scoped(shared);
                    let mut output = vec![0.0; rows * n];
                    forward_with(kernel, &layer, &params, &input[..rows * k], rows, &mut output).unwrap();
                    output
                };
                let alone = run(false);
                assert!((0..20).all(|_| run(true) == alone), "{kernel:?}, {rows} rows, SIMD {simd}");
            }
        }
    }
}

#[test]
fn the_kernel_follows_the_inputs_the_rows_and_the_simd_setting() {
    assert_eq!(backward_kernel(0, 64, 64), Kernel::Gemm);
    if thread_isa() >= Isa::Avx2 {
        assert_eq!(forward_kernel(DOT_MIN_INPUTS - 1), Kernel::Tiles);
        assert!(matches!(forward_kernel(DOT_MIN_INPUTS), Kernel::Dot) || thread_isa() == Isa::Avx512);
        #[cfg(target_arch = "x86_64")]
        if thread_isa() == Isa::Avx512 {
            assert_eq!((forward_kernel(DOT_MIN_INPUTS), backward_kernel(MAX_ROWS, 64, 64)), (Kernel::Avx512, Kernel::Avx512));
            // Larger batches add their weight gradients in blocks of MAX_ROWS rows.
            assert_eq!(backward_kernel(MAX_ROWS + 1, 64, 64), Kernel::Avx512);
        } else {
            let (tiles, gemm) = (backward_kernel(TILED_BACKWARD_ROWS, 64, 64), backward_kernel(TILED_BACKWARD_ROWS + 1, 64, 64));
            assert_eq!((tiles, gemm), (Kernel::Tiles, Kernel::Gemm));
            assert_eq!(backward_kernel(MAX_ROWS + 1, 64, 64), Kernel::Gemm);
            // PatchTST's batch of 1,024 windows of 3 patches in one pass: gemm would pack (and allocate).
            assert_eq!(backward_kernel(3072, 128, 256), Kernel::Tiles);
        }
    }
    let _scalar = crate::simd::scoped_simd(false);
    assert_eq!((forward_kernel(512), forward_kernel(24), backward_kernel(8, 64, 64)), (Kernel::Gemm, Kernel::Gemm, Kernel::Gemm));
}

#[test]
fn checks_lengths() {
    let (layer, params) = layer(4, 3, true, 0);
    let mut grads = params.zeros_like();
    for kernel in available_kernels() {
        assert!(forward_with(kernel, &layer, &params, &[0.0; 7], 2, &mut [0.0; 6]).is_err());
        assert!(forward_with(kernel, &layer, &params, &[0.0; 8], 2, &mut [0.0; 5]).is_err());
        assert!(backward_with(kernel, pass(&layer, &params, &[0.0; 8], &[0.0; 6], 2), &mut grads, Some(&mut [0.0; 7])).is_err());
        assert!(backward_with(kernel, pass(&layer, &params, &[0.0; 8], &[0.0; 5], 2), &mut grads, Some(&mut [0.0; 8])).is_err());
    }
    // A checkpoint's weight of the wrong size.
    let mut params = params;
    params.get_mut(layer.weight()).data.pop();
    for kernel in available_kernels().into_iter().filter(|&kernel| kernel != Kernel::Gemm) {
        assert!(forward_with(kernel, &layer, &params, &[0.0; 8], 2, &mut [0.0; 6]).is_err(), "{kernel:?}");
    }
}

/// A chain of NBEATS' 512 x 512 layers on one row, alone and shared with the assistant (alternating, so that
/// both see the same machine).
#[test]
#[ignore = "timing, meaningful only in release: cargo test --release --lib nn::matmul -- --ignored --nocapture"]
fn time_shared_layers() {
    use std::time::Instant;
    let (k, layers) = (512, 9);
    let mut params = ParamStore::new();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut init = ParamInit::new(&mut params, &mut rng);
    let chain: Vec<Linear> = (0..layers).map(|i| Linear::new(&mut init.pp(format!("l{i}")), k, k).unwrap()).collect();
    let x0 = random_vec(k, 4);
    let run = |shared: bool| {
        let _scope = assist::scoped(shared);
        let (mut x, mut y) = (x0.clone(), vec![0.0f32; k]);
        let started = Instant::now();
        for l in &chain {
            l.forward(&params, &x, 1, &mut y).unwrap();
            std::mem::swap(&mut x, &mut y);
        }
        (started.elapsed().as_secs_f64() * 1e6, x)
    };
    for idle in [0, 1000, 10_000] {
        let (mut alone, mut shared) = (vec![], vec![]);
        for _ in 0..if idle == 0 { 5000 } else { 300 } {
            std::thread::sleep(std::time::Duration::from_micros(idle));
            let (t, a) = run(false);
            alone.push(t);
            std::thread::sleep(std::time::Duration::from_micros(idle));
            let (t, b) = run(true);
            shared.push(t);
            assert_eq!(a, b);
        }
        for (name, t) in [("alone", &mut alone), ("shared", &mut shared)] {
            t.sort_by(f64::total_cmp);
            eprintln!("{idle} us idle before each, {name}: p10 {:.1} median {:.1} us", t[t.len() / 10], t[t.len() / 2]);
        }
    }
}

/// Each kernel's time (the 10th percentile of many calls, in us) for the layers of the models, the weights
/// rotating through enough copies to come from L3 as in a model.
#[test]
#[ignore = "timing, meaningful only in release: cargo test --release --lib nn::matmul -- --ignored --nocapture"]
fn time_the_kernels() {
    use std::time::Instant;
    // NBEATS/NHITS (512), MLP (24 -> 1024 -> 1024 -> 12), TCN's decoder (64), the Transformer's (128, 32).
    for (k, n) in [(512, 512), (12, 512), (512, 36), (24, 1024), (1024, 1024), (1024, 12), (64, 64), (128, 128), (128, 32), (32, 128)] {
        let copies = ((8 << 20) / (4 * k * n)).clamp(1, 16);
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let layers: Vec<Linear> = (0..copies).map(|i| Linear::new(&mut init.pp(format!("l{i}")), k, n).unwrap()).collect();
        let mut grads = params.zeros_like();
        let calls = (1 << 29) / (k * n * 32).max(1);
        let time = |f: &mut dyn FnMut(&Linear)| {
            let mut times: Vec<f64> = (0..calls.clamp(20, 400))
                .map(|i| {
                    let started = Instant::now();
                    f(&layers[i % copies]);
                    started.elapsed().as_secs_f64() * 1e6
                })
                .collect();
            times.sort_by(f64::total_cmp);
            times[times.len() / 10]
        };
        for rows in [1, 2, 4, 8, 16, 32, 64, 256, 512, 1024] {
            let (x, dy) = (random_vec(rows * k, 9), random_vec(rows * n, 3));
            let (mut y, mut dx) = (vec![0.0; rows * n], vec![0.0; rows * k]);
            let mut line = format!("{k:4} x {n:4}, {rows:2} rows: forward");
            for kernel in available_kernels() {
                let t = time(&mut |l| forward_with(kernel, l, &params, &x, rows, &mut y).unwrap());
                line += &format!(" {kernel:?} {t:.1}");
            }
            line += &format!(" (chosen {:?}); backward", forward_kernel(k));
            for kernel in available_kernels().into_iter().filter(|&kernel| kernel != Kernel::Dot) {
                let t = time(&mut |l| backward_with(kernel, pass(l, &params, &x, &dy, rows), &mut grads, Some(&mut dx)).unwrap());
                line += &format!(" {kernel:?} {t:.1}");
            }
            eprintln!("{line} (chosen {:?})", backward_kernel(rows, k, n));
        }
    }
}
