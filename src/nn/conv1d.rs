//! torch's `nn.Conv1d` (stride 1, one group): weight `[out, in, k]`, optional bias `[out]`, dilation `d`, both
//! initialised from U(-1/sqrt(in·k), 1/sqrt(in·k)) as torch's default, with the paddings forecasting models use
//! ([`Padding`]).
//!
//! Sequences are time-major, `[T, N, C]`: time outermost, then the `N` independent sequences, channels
//! contiguous. A shift in time is then one offset in rows for the whole batch, so each kernel tap is a single
//! gemm of `N·T` rows by `W[:, :, j]` (a strided view of the weight, no im2col copy), and the rows a tap would
//! read from zero padding are left out of the product instead of being multiplied by zeros.

use super::error::{expect_len, nonzero, NnError};
use super::matmul::{add_column_sums, fill_rows_with, gemm, Mat, MatMut};
use super::params::{ParamId, ParamInit, ParamStore};

/// How the input is extended at its ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// `(k-1)·d` zeros on the left, output as long as the input: NeuralForecast's `CausalConv1d` (a `Conv1d`
    /// with padding `(k-1)·d` on both sides whose right `(k-1)·d` outputs `Chomp1d` removes).
    Causal,
    /// `(k-1)·d` zeros on the right, output as long as the input: each output reads the present and the future
    /// (BiTCN's `CustomConv1d` with `mode="forward"`, over the future exogenous variables).
    Anticausal,
    /// `p = (k-1)·d / 2` values wrapped around on both sides, output as long as the input: torch's
    /// `padding=p, padding_mode='circular'` (NeuralForecast's `TokenEmbedding`: `k = 3`, `p = 1`).
    Circular,
    /// None (torch's `padding=0`): the output is `(k-1)·d` steps shorter than the input.
    None,
}

/// The shape of a [`Conv1d`] layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv1dSpec {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel_size: usize,
    pub dilation: usize,
    pub padding: Padding,
    /// torch's `bias=True`.
    pub bias: bool,
}

#[derive(Debug, Clone)]
pub struct Conv1d {
    weight: ParamId,
    bias: Option<ParamId>,
    spec: Conv1dSpec,
    /// `(k-1)·d`, the time span one output reads.
    reach: usize,
}

/// Output steps `out_start..out_start + len` read input steps `in_start..in_start + len` through one tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    out_start: usize,
    in_start: usize,
    len: usize,
}

impl Conv1d {
    /// Creates `<prefix>.weight` `[out, in, k]` and, with `spec.bias`, `<prefix>.bias` `[out]`.
    pub fn new(init: &mut ParamInit<'_>, spec: Conv1dSpec) -> Result<Self, NnError> {
        nonzero("Conv1d in_channels", spec.in_channels)?;
        nonzero("Conv1d out_channels", spec.out_channels)?;
        nonzero("Conv1d kernel_size", spec.kernel_size)?;
        nonzero("Conv1d dilation", spec.dilation)?;
        let too_large = || NnError::InvalidValue { what: "Conv1d size", reason: "the weight or the kernel's reach overflows".into() };
        let reach = (spec.kernel_size - 1).checked_mul(spec.dilation).ok_or_else(too_large)?;
        let fan_in = spec.in_channels.checked_mul(spec.kernel_size).ok_or_else(too_large)?;
        fan_in.checked_mul(spec.out_channels).ok_or_else(too_large)?;
        if spec.padding == Padding::Circular && reach % 2 == 1 {
            return Err(NnError::InvalidValue {
                what: "Conv1d circular padding",
                reason: format!("(kernel_size - 1) * dilation = {reach} must be even for an output as long as the input"),
            });
        }
        let bound = 1.0 / (fan_in as f32).sqrt();
        let weight = init.uniform("weight", &[spec.out_channels, spec.in_channels, spec.kernel_size], bound)?;
        let bias = if spec.bias { Some(init.uniform("bias", &[spec.out_channels], bound)?) } else { None };
        Ok(Conv1d { weight, bias, spec, reach })
    }

    /// Length of the output for an input of `steps` steps; errors where torch would refuse the input.
    pub fn output_steps(&self, steps: usize) -> Result<usize, NnError> {
        nonzero("Conv1d input steps", steps)?;
        match self.spec.padding {
            Padding::Causal | Padding::Anticausal => Ok(steps),
            Padding::Circular if self.reach / 2 <= steps => Ok(steps),
            Padding::Circular => Err(NnError::InvalidValue {
                what: "Conv1d input steps",
                reason: format!("circular padding of {} wraps around an input of {steps} steps more than once", self.reach / 2),
            }),
            Padding::None if steps > self.reach => Ok(steps - self.reach),
            Padding::None => Err(NnError::InvalidValue {
                what: "Conv1d input steps",
                reason: format!("{steps} steps are no longer than the kernel's reach of {} without padding", self.reach),
            }),
        }
    }

    /// The spans of tap `tap` over an input of `steps` steps (one, or two where circular padding wraps).
    fn spans(&self, tap: usize, steps: usize, out_steps: usize) -> [Span; 2] {
        let shift = tap * self.spec.dilation;
        // Output step t reads input step t - delay + advance; at most one of the two is nonzero.
        let (delay, advance) = match self.spec.padding {
            Padding::Causal => (self.reach - shift, 0),
            Padding::None | Padding::Anticausal => (0, shift),
            Padding::Circular => {
                let left = self.reach / 2;
                if shift <= left { (left - shift, 0) } else { (0, shift - left) }
            }
        };
        let wraps = self.spec.padding == Padding::Circular;
        if advance == 0 {
            let delay = delay.min(out_steps);
            let main = Span { out_start: delay, in_start: 0, len: out_steps - delay };
            [main, Span { out_start: 0, in_start: steps - delay, len: if wraps { delay } else { 0 } }]
        } else {
            // An anticausal tap may reach past the end of a short input: it then reads only padding.
            let len = out_steps.min(steps.saturating_sub(advance));
            let main = Span { out_start: 0, in_start: advance, len };
            [main, Span { out_start: len, in_start: 0, len: if wraps { advance } else { 0 } }]
        }
    }

    /// Calls `f(tap, span)` for every tap's non-empty spans.
    fn for_each_span(&self, steps: usize, out_steps: usize, mut f: impl FnMut(usize, Span)) {
        for tap in 0..self.spec.kernel_size {
            self.spans(tap, steps, out_steps).into_iter().filter(|s| s.len > 0).for_each(|span| f(tap, span));
        }
    }

    /// Checks an input of `input_len` values against `steps` and `sequences`; returns the output's steps.
    fn check_input(&self, input_len: usize, steps: usize, sequences: usize) -> Result<usize, NnError> {
        nonzero("Conv1d sequences", sequences)?;
        let out_steps = self.output_steps(steps)?;
        expect_len("Conv1d input", steps * sequences * self.spec.in_channels, input_len)?;
        Ok(out_steps)
    }

    /// `output[T_out, N, out]` from `input[T, N, in]` (`steps` = T, `sequences` = N).
    pub fn forward(
        &self,
        params: &ParamStore,
        input: &[f32],
        steps: usize,
        sequences: usize,
        output: &mut [f32],
    ) -> Result<(), NnError> {
        let out_steps = self.check_input(input.len(), steps, sequences)?;
        let Conv1dSpec { in_channels: cin, out_channels: cout, kernel_size: k, .. } = self.spec;
        expect_len("Conv1d output", out_steps * sequences * cout, output.len())?;
        match self.bias {
            Some(bias) => fill_rows_with(output, &params.get(bias).data),
            None => output.fill(0.0),
        }
        let weight = &params.get(self.weight).data;
        self.for_each_span(steps, out_steps, |tap, span| {
            let rows = span.len * sequences;
            let x = &input[span.in_start * sequences * cin..][..rows * cin];
            let y = &mut output[span.out_start * sequences * cout..][..rows * cout];
            // W[:, :, tap]^T as an [in, out] view.
            let w_tap = Mat::strided(&weight[tap..], cin, cout, k, cin * k);
            gemm(Mat::rows(x, rows, cin), w_tap, 1.0, MatMut::rows(y, rows, cout));
        });
        Ok(())
    }

    /// Accumulates the weight and bias gradients into `grads`; writes d loss/d input into `d_input` if given.
    /// `input` must be the input of the forward pass whose output gradient is `d_output`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        params: &ParamStore,
        input: &[f32],
        d_output: &[f32],
        steps: usize,
        sequences: usize,
        grads: &mut ParamStore,
        mut d_input: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        let out_steps = self.check_input(input.len(), steps, sequences)?;
        let Conv1dSpec { in_channels: cin, out_channels: cout, kernel_size: k, .. } = self.spec;
        expect_len("Conv1d output gradient", out_steps * sequences * cout, d_output.len())?;
        if let Some(d_input) = d_input.as_deref_mut() {
            expect_len("Conv1d input gradient", input.len(), d_input.len())?;
            d_input.fill(0.0);
        }
        if let Some(bias) = self.bias {
            add_column_sums(d_output, &mut grads.get_mut(bias).data);
        }
        let weight = &params.get(self.weight).data;
        let d_weight = &mut grads.get_mut(self.weight).data;
        self.for_each_span(steps, out_steps, |tap, span| {
            let rows = span.len * sequences;
            let x = &input[span.in_start * sequences * cin..][..rows * cin];
            let dy = &d_output[span.out_start * sequences * cout..][..rows * cout];
            // dW[:, :, tap] += dY^T X, written through a strided [out, in] view.
            let dw_tap = MatMut::strided(&mut d_weight[tap..], cout, cin, cin * k, k);
            gemm(Mat::transposed(dy, rows, cout), Mat::rows(x, rows, cin), 1.0, dw_tap);
            if let Some(d_input) = d_input.as_deref_mut() {
                let dx = &mut d_input[span.in_start * sequences * cin..][..rows * cin];
                let w_tap = Mat::strided(&weight[tap..], cout, cin, cin * k, k);
                gemm(Mat::rows(dy, rows, cout), w_tap, 1.0, MatMut::rows(dx, rows, cin));
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    fn spec(in_channels: usize, out_channels: usize, kernel_size: usize, dilation: usize, padding: Padding) -> Conv1dSpec {
        Conv1dSpec { in_channels, out_channels, kernel_size, dilation, padding, bias: true }
    }

    fn conv(spec: Conv1dSpec) -> (Conv1d, ParamStore) {
        seeded_layer(5, "conv", |init| Conv1d::new(init, spec))
    }

    /// torch's Conv1d written out: each sequence padded as torch pads it, every output a sum over channels and
    /// taps; the causal output is then chomped on the right. Input and output `[T, N, C]`.
    fn reference(layer: &Conv1d, params: &ParamStore, input: &[f32], steps: usize, n: usize) -> Vec<f32> {
        let Conv1dSpec { in_channels: cin, out_channels: cout, kernel_size: k, dilation: d, padding, .. } = layer.spec;
        let reach = (k - 1) * d;
        let pad = match padding {
            Padding::Causal => reach,
            Padding::Circular => reach / 2,
            Padding::None | Padding::Anticausal => 0,
        };
        let w = &params.find("conv.weight").unwrap().data;
        let b = params.find("conv.bias").map(|t| t.data.clone()).unwrap_or(vec![0.0; cout]);
        let padded_value = |t: isize, s: usize, c: usize| -> f32 {
            let t = match padding {
                Padding::Circular => t.rem_euclid(steps as isize),
                _ if t < 0 || t >= steps as isize => return 0.0,
                _ => t,
            };
            input[(t as usize * n + s) * cin + c]
        };
        let out_steps = match padding {
            Padding::None => steps - reach,
            _ => steps,
        };
        let mut out = vec![0.0; out_steps * n * cout];
        for t in 0..out_steps {
            for s in 0..n {
                for o in 0..cout {
                    let mut sum = b[o] as f64;
                    for c in 0..cin {
                        for j in 0..k {
                            let x = padded_value(t as isize + (j * d) as isize - pad as isize, s, c);
                            sum += w[(o * cin + c) * k + j] as f64 * x as f64;
                        }
                    }
                    out[(t * n + s) * cout + o] = sum as f32;
                }
            }
        }
        out
    }

    #[test]
    fn names_shapes_and_init_bound_follow_torch() {
        let (_, params) = conv(spec(4, 3, 2, 1, Padding::Causal));
        let names: Vec<_> = params.iter().map(|(n, t)| (n.to_string(), t.shape.clone())).collect();
        assert_eq!(names, [("conv.weight".to_string(), vec![3, 4, 2]), ("conv.bias".to_string(), vec![3])]);
        // fan_in = in_channels * kernel_size = 8.
        let bound = 1.0 / 8f32.sqrt();
        assert!(params.iter().all(|(_, t)| t.data.iter().all(|v| v.abs() <= bound)));
        let (_, no_bias) = conv(Conv1dSpec { bias: false, ..spec(4, 3, 3, 1, Padding::Circular) });
        assert_eq!(no_bias.iter().map(|(n, _)| n).collect::<Vec<_>>(), ["conv.weight"]);
    }

    #[test]
    fn causal_convolution_by_hand() {
        // One channel, k = 2, d = 2, weights [w0, w1] = [1, 10], bias 0.5: y_t = 1 * x_{t-2} + 10 * x_t + 0.5.
        let (layer, mut params) = conv(spec(1, 1, 2, 2, Padding::Causal));
        params.iter_mut().for_each(|(name, t)| t.data = if name.ends_with("weight") { vec![1.0, 10.0] } else { vec![0.5] });
        let mut out = [0.0; 4];
        layer.forward(&params, &[1.0, 2.0, 3.0, 4.0], 4, 1, &mut out).unwrap();
        assert_eq!(out, [10.5, 20.5, 31.5, 42.5]);
    }

    #[test]
    fn anticausal_convolution_by_hand() {
        // As above, looking forward: y_t = 1 * x_t + 10 * x_{t+2} + 0.5, zeros past the end.
        let (layer, mut params) = conv(spec(1, 1, 2, 2, Padding::Anticausal));
        params.iter_mut().for_each(|(name, t)| t.data = if name.ends_with("weight") { vec![1.0, 10.0] } else { vec![0.5] });
        let mut out = [0.0; 4];
        layer.forward(&params, &[1.0, 2.0, 3.0, 4.0], 4, 1, &mut out).unwrap();
        assert_eq!(out, [31.5, 42.5, 3.5, 4.5]);
    }

    #[test]
    fn matches_torch_semantics_for_every_padding() {
        let cases = [
            spec(3, 4, 2, 1, Padding::Causal),
            spec(3, 4, 3, 4, Padding::Causal),
            spec(2, 5, 2, 9, Padding::Causal),
            Conv1dSpec { bias: false, ..spec(3, 4, 3, 1, Padding::Circular) },
            spec(2, 3, 3, 2, Padding::Circular),
            spec(2, 3, 5, 1, Padding::Circular),
            spec(3, 2, 3, 2, Padding::None),
            spec(3, 4, 2, 1, Padding::Anticausal),
            spec(2, 3, 2, 4, Padding::Anticausal),
            spec(2, 3, 3, 4, Padding::Anticausal),
        ];
        let (steps, n) = (6, 3);
        for spec in cases {
            let (layer, params) = conv(spec);
            let input = random_vec(steps * n * spec.in_channels, 3);
            let out_steps = layer.output_steps(steps).unwrap();
            let mut out = vec![0.0; out_steps * n * spec.out_channels];
            layer.forward(&params, &input, steps, n, &mut out).unwrap();
            let expected = reference(&layer, &params, &input, steps, n);
            assert_eq!(out.len(), expected.len(), "{spec:?}");
            assert!(out.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-5), "{spec:?}: {out:?} vs {expected:?}");
        }
    }

    #[test]
    fn gradients_match_finite_differences_for_every_padding() {
        let cases = [
            spec(3, 4, 2, 2, Padding::Causal),
            spec(2, 3, 3, 3, Padding::Causal),
            Conv1dSpec { bias: false, ..spec(3, 2, 3, 1, Padding::Circular) },
            spec(2, 3, 3, 2, Padding::Circular),
            spec(2, 3, 2, 3, Padding::None),
            spec(3, 2, 2, 2, Padding::Anticausal),
            spec(2, 3, 2, 8, Padding::Anticausal),
        ];
        let (steps, n) = (5, 2);
        for spec in cases {
            let (layer, mut params) = conv(spec);
            let input = random_vec(steps * n * spec.in_channels, 7);
            let out_len = layer.output_steps(steps).unwrap() * n * spec.out_channels;
            let weights = random_vec(out_len, 8);
            let objective = |params: &ParamStore, input: &[f32]| {
                let mut out = vec![0.0; out_len];
                layer.forward(params, input, steps, n, &mut out).unwrap();
                weighted_sum(&out, &weights)
            };
            let mut grads = params.zeros_like();
            let mut d_input = vec![f32::NAN; input.len()];
            layer.backward(&params, &input, &weights, steps, n, &mut grads, Some(&mut d_input)).unwrap();
            check_input_grads(&input, &d_input, usize::MAX, |x| objective(&params, x));
            check_param_grads(&mut params, &grads, usize::MAX, |p| objective(p, &input));
        }
    }

    #[test]
    fn rejects_invalid_shapes_and_inputs() {
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut init = ParamInit::new(&mut params, &mut rng);
        assert_eq!(Conv1d::new(&mut init, spec(0, 2, 2, 1, Padding::Causal)).unwrap_err(), NnError::ZeroSize { what: "Conv1d in_channels" });
        assert!(matches!(Conv1d::new(&mut init, spec(1, 1, 2, 1, Padding::Circular)), Err(NnError::InvalidValue { .. })));
        assert!(matches!(Conv1d::new(&mut init, spec(1, 1, 3, usize::MAX, Padding::Causal)), Err(NnError::InvalidValue { .. })));
        let (none, params) = conv(spec(1, 1, 3, 2, Padding::None));
        assert!(matches!(none.output_steps(4), Err(NnError::InvalidValue { .. })));
        assert_eq!(none.output_steps(5), Ok(1));
        let (circular, _) = conv(spec(1, 1, 5, 1, Padding::Circular));
        assert!(circular.output_steps(1).is_err() && circular.output_steps(2).is_ok());
        let err = none.forward(&params, &[0.0; 9], 5, 2, &mut [0.0; 2]).unwrap_err();
        assert_eq!(err, NnError::LengthMismatch { what: "Conv1d input", expected: 10, actual: 9 });
        assert!(none.forward(&params, &[0.0; 10], 5, 2, &mut [0.0; 3]).is_err());
        let mut grads = params.zeros_like();
        assert!(none.backward(&params, &[0.0; 10], &[0.0; 2], 5, 2, &mut grads, Some(&mut [0.0; 9])).is_err());
        assert!(none.forward(&params, &[], 5, 0, &mut []).is_err());
    }
}
