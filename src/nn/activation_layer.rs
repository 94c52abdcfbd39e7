//! NeuralForecast's `activation` choice for its MLP-based models (`ACTIVATIONS` in nhits.py and nbeats.py):
//! torch's `nn.ReLU`, `nn.Softplus` (beta 1, threshold 20), `nn.Tanh`, `nn.SELU`, `nn.LeakyReLU` (slope 0.01),
//! `nn.PReLU` (one learnable slope, initialised to 0.25) and `nn.Sigmoid`, applied in place.
//!
//! Backward passes work from the activation's output, which the layers keep anyway, except PReLU: its slope
//! can become negative or zero, so the output no longer tells the input's sign and the input must be kept
//! ([`Activation::needs_input`]).

use super::activations::{sigmoid, tanh};
use super::error::{expect_len, NnError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    ReLU,
    Softplus,
    Tanh,
    SELU,
    LeakyReLU,
    PReLU,
    Sigmoid,
}

/// torch's SELU constants.
const SELU_SCALE: f32 = 1.050_701;
const SELU_ALPHA: f32 = 1.673_263_2;
const LEAKY_SLOPE: f32 = 0.01;
/// Above this input, torch's Softplus returns its input unchanged.
const SOFTPLUS_THRESHOLD: f32 = 20.0;
/// torch's `nn.PReLU(init=0.25)`.
pub const PRELU_INITIAL_SLOPE: f32 = 0.25;

impl Activation {
    /// torch's class names, as NeuralForecast takes them.
    pub const NAMES: [&'static str; 7] = ["ReLU", "Softplus", "Tanh", "SELU", "LeakyReLU", "PReLU", "Sigmoid"];
    const ALL: [Activation; 7] = [
        Activation::ReLU,
        Activation::Softplus,
        Activation::Tanh,
        Activation::SELU,
        Activation::LeakyReLU,
        Activation::PReLU,
        Activation::Sigmoid,
    ];

    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES.iter().position(|n| *n == name).map(|i| Self::ALL[i])
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// PReLU's backward needs the pre-activation values; the others work from the output.
    pub fn needs_input(self) -> bool {
        self == Activation::PReLU
    }

    /// Applies the activation to `values` in place; `slope` is PReLU's weight (unused by the others).
    pub fn forward_in_place(self, values: &mut [f32], slope: f32) {
        let f: fn(f32, f32) -> f32 = match self {
            Activation::ReLU => |x, _| x.max(0.0),
            Activation::Softplus => |x, _| if x > SOFTPLUS_THRESHOLD { x } else { x.exp().ln_1p() },
            Activation::Tanh => |x, _| tanh(x),
            Activation::SELU => |x, _| if x > 0.0 { SELU_SCALE * x } else { x.exp_m1() * (SELU_ALPHA * SELU_SCALE) },
            Activation::LeakyReLU => |x, _| if x > 0.0 { x } else { x * LEAKY_SLOPE },
            Activation::PReLU => |x, a| if x > 0.0 { x } else { a * x },
            Activation::Sigmoid => |x, _| sigmoid(x),
        };
        values.iter_mut().for_each(|v| *v = f(*v, slope));
    }

    /// Multiplies `grad` by the derivative at each element, given the forward `output` and, for PReLU, its
    /// `input` (ignored otherwise, may be empty). Returns d loss/d slope for PReLU, 0 for the others.
    pub fn backward_in_place(self, grad: &mut [f32], output: &[f32], input: &[f32], slope: f32) -> Result<f32, NnError> {
        expect_len("activation output", grad.len(), output.len())?;
        let derivative: fn(f32) -> f32 = match self {
            Activation::PReLU => {
                expect_len("PReLU input", grad.len(), input.len())?;
                let mut d_slope = 0.0;
                for (g, &x) in grad.iter_mut().zip(input) {
                    if x <= 0.0 {
                        d_slope += x * *g;
                        *g *= slope;
                    }
                }
                return Ok(d_slope);
            }
            Activation::ReLU => |y| if y > 0.0 { 1.0 } else { 0.0 },
            // sigmoid(x) = 1 - exp(-softplus(x)); 1 above the threshold, where y = x.
            Activation::Softplus => |y| -(-y).exp_m1(),
            Activation::Tanh => |y| 1.0 - y * y,
            // y <= 0 exactly when x <= 0, where dy/dx = scale * alpha * exp(x) = y + scale * alpha.
            Activation::SELU => |y| if y > 0.0 { SELU_SCALE } else { y + SELU_SCALE * SELU_ALPHA },
            Activation::LeakyReLU => |y| if y > 0.0 { 1.0 } else { LEAKY_SLOPE },
            Activation::Sigmoid => |y| y * (1.0 - y),
        };
        grad.iter_mut().zip(output).for_each(|(g, &y)| *g *= derivative(y));
        Ok(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, random_vec, weighted_sum};

    #[test]
    fn values_follow_torch() {
        let x = [-2.0f32, -0.5, 0.0, 0.7, 25.0];
        let apply = |a: Activation, slope| {
            let mut v = x.to_vec();
            a.forward_in_place(&mut v, slope);
            v
        };
        assert_eq!(apply(Activation::ReLU, 0.0), [0.0, 0.0, 0.0, 0.7, 25.0]);
        assert_eq!(apply(Activation::LeakyReLU, 0.0), [-0.02, -0.005, 0.0, 0.7, 25.0]);
        assert_eq!(apply(Activation::PReLU, 0.25), [-0.5, -0.125, 0.0, 0.7, 25.0]);
        let softplus = apply(Activation::Softplus, 0.0);
        assert!((softplus[0] - 0.126_928_01).abs() < 1e-7 && softplus[4] == 25.0);
        // torch.nn.SELU()(torch.tensor(-2.)) = -1.5201665.
        assert!((apply(Activation::SELU, 0.0)[0] + 1.520_166_5).abs() < 1e-6);
        assert!((apply(Activation::Sigmoid, 0.0)[3] - 0.668_187_8).abs() < 1e-6);
        assert!((apply(Activation::Tanh, 0.0)[1] + 0.462_117_16).abs() < 1e-6);
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Away from the kinks at 0, where a central difference is meaningless.
        let input: Vec<f32> = random_vec(40, 5).iter().map(|v| v * 3.0 + if *v >= 0.0 { 0.05 } else { -0.05 }).collect();
        let weights = random_vec(input.len(), 6);
        for activation in Activation::ALL {
            for slope in [0.25, -0.6] {
                let objective = |x: &[f32]| {
                    let mut y = x.to_vec();
                    activation.forward_in_place(&mut y, slope);
                    weighted_sum(&y, &weights)
                };
                let mut output = input.clone();
                activation.forward_in_place(&mut output, slope);
                let mut grad = weights.clone();
                let d_slope = activation.backward_in_place(&mut grad, &output, &input, slope).unwrap();
                check_input_grads(&input, &grad, usize::MAX, objective);
                if activation == Activation::PReLU {
                    let eps = 1e-3;
                    let at = |a: f32| {
                        let mut y = input.clone();
                        activation.forward_in_place(&mut y, a);
                        weighted_sum(&y, &weights)
                    };
                    let numeric = (at(slope + eps) - at(slope - eps)) / (2.0 * eps as f64);
                    assert!((d_slope as f64 - numeric).abs() < 1e-3 * numeric.abs().max(1.0), "{d_slope} vs {numeric}");
                } else {
                    assert_eq!(d_slope, 0.0);
                }
            }
        }
    }

    #[test]
    fn names_round_trip_and_lengths_are_checked() {
        for name in Activation::NAMES {
            assert_eq!(Activation::from_name(name).unwrap().name(), name);
        }
        assert_eq!(Activation::from_name("relu"), None);
        assert!(Activation::PReLU.backward_in_place(&mut [1.0; 3], &[0.0; 3], &[0.0; 2], 0.25).is_err());
        assert!(Activation::Tanh.backward_in_place(&mut [1.0; 3], &[0.0; 2], &[], 0.0).is_err());
    }
}
