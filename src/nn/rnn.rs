//! torch.nn.RNN's Elman cell: `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)` (NeuralForecast 3.3's RNN stores
//! `encoder_activation` but builds `nn.RNN` with its default tanh). One gate block; the cell keeps no state
//! besides h. It adds the two projections itself, as torch does (`igates + hgates`).

use super::activation::{tanh, tanh_grad_from_output};
use super::recurrent::{BackwardStep, ForwardStep, Recurrent, RecurrentCell};

/// The Elman cell with torch's default `nonlinearity='tanh'`, the only one NeuralForecast's RNN builds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ElmanCell;

/// Multi-layer batch-first Elman RNN with torch's parameter names and layout.
pub type Rnn = Recurrent<ElmanCell>;

impl RecurrentCell for ElmanCell {
    const GATES: usize = 1;

    /// `gates` keeps `h` itself, which backward differentiates from.
    fn forward_step(&self, step: ForwardStep<'_>) {
        for ((gate, &h_proj), h) in step.gates.iter_mut().zip(step.h_proj).zip(step.h.iter_mut()) {
            *gate = tanh(*gate + h_proj);
            *h = *gate;
        }
    }

    /// Both projections get the pre-activation's gradient; h_{t-1} has no path besides `h_proj`.
    fn backward_step(&self, step: BackwardStep<'_>) {
        let d_pre = step.d_x_proj.iter_mut().zip(step.d_h_proj.iter_mut()).zip(step.gates).zip(step.dh);
        for (((d_x, d_h), &h), &dh) in d_pre {
            *d_x = dh * tanh_grad_from_output(h);
            *d_h = *d_x;
        }
        step.dh_prev.fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::random_vec;
    use crate::nn::recurrent::tests::{check_gradients, recurrent};
    use crate::nn::recurrent::RecurrentCache;

    const TANH: ElmanCell = ElmanCell;

    #[test]
    fn parameter_count_follows_torch() {
        let (_, params) = recurrent(TANH, 1, 128, 2, 0);
        assert_eq!(params.find("hist_encoder.weight_ih_l0").unwrap().shape, [128, 1]);
        assert_eq!(params.find("hist_encoder.weight_hh_l1").unwrap().shape, [128, 128]);
        // torch: sum(p.numel() for p in nn.RNN(1, 128, 2).parameters()) == 49792
        assert_eq!(params.num_parameters(), 49_792);
    }

    #[test]
    fn forward_matches_torch_equations() {
        let (batch, seq_len, n_in, hidden) = (2, 5, 3, 4);
        {
            let (net, params) = recurrent(TANH, n_in, hidden, 1, 5);
            let p = |name: &str| &params.find(&format!("hist_encoder.{name}_l0")).unwrap().data;
            let (w_ih, w_hh, b_ih, b_hh) = (p("weight_ih"), p("weight_hh"), p("bias_ih"), p("bias_hh"));
            let input = random_vec(batch * seq_len * n_in, 6);
            let out = net.forward(&params, &input, batch, seq_len, &mut RecurrentCache::default()).unwrap().to_vec();
            for b in 0..batch {
                let mut h = vec![0.0f32; hidden];
                for t in 0..seq_len {
                    let x = &input[(b * seq_len + t) * n_in..][..n_in];
                    h = (0..hidden)
                        .map(|j| {
                            let pre = b_ih[j] + b_hh[j] + (0..n_in).map(|k| w_ih[j * n_in + k] * x[k]).sum::<f32>()
                                + (0..hidden).map(|k| w_hh[j * hidden + k] * h[k]).sum::<f32>();
                            pre.tanh()
                        })
                        .collect();
                    let got = &out[(b * seq_len + t) * hidden..][..hidden];
                    got.iter().zip(&h).for_each(|(a, e)| assert!((a - e).abs() < 1e-5, "{a} vs {e}"));
                }
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_gradients(TANH);
    }
}
