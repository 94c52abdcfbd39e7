//! The products of a [`Linear`] layer with wide weights (NBEATS/NHITS' 512 x 512) over few rows, where the
//! choice of kernel decides the cost. gemm packs both operands on every call, and the forward pass's `W^T`
//! is a strided view whose packing gathers every column of `W`: below 32 rows that costs more than the
//! product itself. Instead:
//! - a forward pass over at most [`DOT_ROWS`] rows (one window) takes dot products of each input row with the
//!   rows of `W` as stored ([`fast::matmul_nt_acc`]): `W` is read once and nothing is written;
//! - a forward pass over more rows packs `W^T` once into 16-column panels with 8 x 8 register transposes
//!   and runs register tiles over them ([`fast::PackedB`]);
//! - the input gradient `dY W` reads `W` as stored, in register tiles up to [`TILED_MAX_ROWS`] rows
//!   ([`fast::matmul`]), through gemm above (where its packing pays off).
//!
//! The tiles accumulate each output in increasing `k`, so a row's forward result does not depend on the other
//! rows of the call; the dot products sum in another order, so a window's forward pass differs between the
//! two kinds by float rounding (about 1e-7 relative). The weight gradient stays with [`Linear::backward`]
//! (gemm, one pass over `dW` per call). `time_the_kernels_of_a_512_layer` below compares them with gemm.

use super::error::{expect_len, NnError};
use super::fast::{self, PackedB, Path};
use super::gemm::fill_rows_with;
use super::linear::Linear;
use super::params::ParamStore;

/// Forward passes over at most this many rows use dot products.
pub const DOT_ROWS: usize = 3;
/// Input gradients over at most this many rows use unpacked register tiles.
pub const TILED_MAX_ROWS: usize = 16;

/// Per-thread buffer of the packed `W^T`: grows to the largest layer, then is reused.
#[derive(Debug, Clone, Default)]
pub struct WideLinearScratch {
    packed: PackedB,
}

/// `output[rows, out] = input[rows, in] W^T + b`, as [`Linear::forward`].
pub fn forward(
    layer: &Linear,
    params: &ParamStore,
    input: &[f32],
    rows: usize,
    output: &mut [f32],
    scratch: &mut WideLinearScratch,
) -> Result<(), NnError> {
    forward_on(fast::path(), layer, params, input, rows, output, scratch)
}

fn forward_on(
    path: Path,
    layer: &Linear,
    params: &ParamStore,
    input: &[f32],
    rows: usize,
    output: &mut [f32],
    scratch: &mut WideLinearScratch,
) -> Result<(), NnError> {
    let (inputs, outputs) = (layer.in_features(), layer.out_features());
    expect_len("Linear input", rows * inputs, input.len())?;
    expect_len("Linear output", rows * outputs, output.len())?;
    let weight = &params.get(layer.weight()).data;
    let bias = layer.bias().map(|id| params.get(id).data.as_slice());
    if rows <= DOT_ROWS {
        match bias {
            Some(bias) => fill_rows_with(output, bias),
            None => output.fill(0.0),
        }
        fast::matmul_nt_acc(path, input, rows, inputs, weight, outputs, output);
        return Ok(());
    }
    let packed = &mut scratch.packed;
    packed.pack_transposed(path, weight, outputs, inputs);
    match bias {
        Some(bias) => packed.matmul_bias(path, input, rows, output, bias),
        None => packed.matmul(path, input, rows, output, false),
    }
    Ok(())
}

/// Accumulates dW += dY^T X and db += colsum(dY) into `grads` and writes dX = dY W into `d_input` if given,
/// as [`Linear::backward`].
pub fn backward(
    layer: &Linear,
    params: &ParamStore,
    input: &[f32],
    d_output: &[f32],
    rows: usize,
    grads: &mut ParamStore,
    d_input: Option<&mut [f32]>,
) -> Result<(), NnError> {
    backward_on(fast::path(), layer, params, input, d_output, rows, grads, d_input)
}

#[allow(clippy::too_many_arguments)]
fn backward_on(
    path: Path,
    layer: &Linear,
    params: &ParamStore,
    input: &[f32],
    d_output: &[f32],
    rows: usize,
    grads: &mut ParamStore,
    d_input: Option<&mut [f32]>,
) -> Result<(), NnError> {
    let d_input = match d_input {
        Some(d_input) if rows <= TILED_MAX_ROWS => d_input,
        d_input => return layer.backward(params, input, d_output, rows, grads, d_input),
    };
    let (inputs, outputs) = (layer.in_features(), layer.out_features());
    expect_len("Linear input gradient", rows * inputs, d_input.len())?;
    layer.backward(params, input, d_output, rows, grads, None)?;
    fast::matmul(path, d_output, rows, outputs, &params.get(layer.weight()).data, inputs, d_input);
    Ok(())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::nn::gradcheck::random_vec;
    use crate::nn::ParamInit;

    fn layer(in_features: usize, out_features: usize, bias: bool) -> (Linear, ParamStore) {
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let layer = if bias { Linear::new(&mut init, in_features, out_features) } else { Linear::without_bias(&mut init, in_features, out_features) };
        (layer.unwrap(), params)
    }

    fn assert_close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-5 * y.abs().max(1.0)), "{a:?} vs {b:?}");
    }

    /// The paths this CPU runs, each with its own kernels.
    fn paths() -> Vec<Path> {
        let mut paths = vec![Path::Scalar];
        paths.extend(Some(fast::path()).filter(|&p| p != Path::Scalar));
        paths
    }

    #[test]
    fn every_kernel_matches_linear() {
        // Widths that are and are not multiples of the 16-column panels; rows on both sides of each threshold.
        for (inputs, outputs, bias) in [(37, 48, true), (64, 27, true), (20, 50, false)] {
            let (layer, params) = layer(inputs, outputs, bias);
            for rows in [1, DOT_ROWS, DOT_ROWS + 1, TILED_MAX_ROWS, TILED_MAX_ROWS + 3] {
                let input = random_vec(rows * inputs, rows as u64);
                let d_output = random_vec(rows * outputs, 7);
                let mut expected = vec![0.0; rows * outputs];
                layer.forward(&params, &input, rows, &mut expected).unwrap();
                let mut expected_grads = params.zeros_like();
                let mut expected_d_input = vec![0.0; rows * inputs];
                layer.backward(&params, &input, &d_output, rows, &mut expected_grads, Some(&mut expected_d_input)).unwrap();
                for path in paths() {
                    let mut output = vec![9.0; rows * outputs];
                    forward_on(path, &layer, &params, &input, rows, &mut output, &mut WideLinearScratch::default()).unwrap();
                    assert_close(&output, &expected);
                    let (mut grads, mut d_input) = (params.zeros_like(), vec![9.0; rows * inputs]);
                    backward_on(path, &layer, &params, &input, &d_output, rows, &mut grads, Some(&mut d_input)).unwrap();
                    assert_close(&d_input, &expected_d_input);
                    for ((_, a), (_, b)) in grads.iter().zip(expected_grads.iter()) {
                        assert_close(&a.data, &b.data);
                    }
                }
            }
        }
    }

    #[test]
    fn a_row_gives_the_same_bits_in_any_call_of_the_same_kernel() {
        let (layer, params) = layer(40, 50, true);
        let input = random_vec(20 * 40, 1);
        for path in paths() {
            let mut scratch = WideLinearScratch::default();
            let mut run = |rows: usize| {
                let mut output = vec![0.0; rows * 50];
                forward_on(path, &layer, &params, &input[..rows * 40], rows, &mut output, &mut scratch).unwrap();
                output[..50].to_vec()
            };
            assert_eq!(run(1), run(DOT_ROWS));
            assert_eq!(run(DOT_ROWS + 1), run(20));
        }
    }

    #[test]
    fn rejects_wrong_lengths() {
        let (layer, params) = layer(4, 3, true);
        let err = forward(&layer, &params, &[0.0; 7], 2, &mut [0.0; 6], &mut WideLinearScratch::default()).unwrap_err();
        assert_eq!(err, NnError::LengthMismatch { what: "Linear input", expected: 8, actual: 7 });
        let mut grads = params.zeros_like();
        assert!(backward(&layer, &params, &[0.0; 8], &[0.0; 6], 2, &mut grads, Some(&mut [0.0; 7])).is_err());
    }

    #[test]
    #[ignore = "timing, meaningful only in release: cargo test --release --lib nn::wide_linear -- --ignored --nocapture"]
    fn time_the_kernels_of_a_512_layer() {
        use std::time::Instant;
        // Ten layers, used in turn, so that the weights come from L3 as in a model.
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let layers: Vec<Linear> = (0..10).map(|i| Linear::new(&mut init.pp(format!("l{i}")), 512, 512).unwrap()).collect();
        let mut grads = params.zeros_like();
        let mut scratch = WideLinearScratch::default();
        let min_time = |f: &mut dyn FnMut(&Linear)| {
            let mut times: Vec<f64> = (0..300)
                .map(|i| {
                    let started = Instant::now();
                    f(&layers[i % 10]);
                    started.elapsed().as_secs_f64() * 1e6
                })
                .collect();
            times.sort_by(f64::total_cmp);
            times[0]
        };
        for rows in [1, 4, 8, 16, 32] {
            let (x, mut y, mut dx) = (random_vec(rows * 512, 9), vec![0.0; rows * 512], vec![0.0; rows * 512]);
            let gemm_forward = min_time(&mut |l| l.forward(&params, &x, rows, &mut y).unwrap());
            let wide_forward = min_time(&mut |l| forward(l, &params, &x, rows, &mut y, &mut scratch).unwrap());
            let gemm_backward = min_time(&mut |l| l.backward(&params, &x, &y, rows, &mut grads, Some(&mut dx)).unwrap());
            let wide_backward = min_time(&mut |l| backward(l, &params, &x, &y, rows, &mut grads, Some(&mut dx)).unwrap());
            eprintln!(
                "{rows:2} rows: forward {wide_forward:6.1} us (Linear {gemm_forward:6.1}), backward {wide_backward:6.1} us \
                 (Linear {gemm_backward:6.1})"
            );
        }
    }
}
