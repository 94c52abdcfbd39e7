//! NeuralForecast's choice of activation (`ACTIVATIONS` in nbeats.py, nbeatsx.py, nhits.py: "ReLU", "Softplus",
//! "Tanh", "SELU", "LeakyReLU", "PReLU", "Sigmoid"; common/_modules.py's list, which TCN's encoder takes, also
//! has "Identity"), each as torch's module with its default arguments: Softplus(beta=1, threshold=20),
//! LeakyReLU(0.01), PReLU(num_parameters=1, init=0.25). NBEATS and NHITS build one instance per block and reuse
//! it after several layers, so a PReLU's single slope is shared by all of them; TCN builds one per convolution.
//!
//! Derivatives are taken from the activation's output, which the layers keep anyway as the next layer's input;
//! only PReLU needs the input as well, since a slope that training turns negative hides the input's sign. The
//! element-wise functions the recurrent cells and the ReLU MLP call directly ([`sigmoid`], [`tanh`], the ReLU
//! pair) and their derivatives from the output come first.

use super::error::{expect_len, NnError};
use super::params::{ParamId, ParamInit, ParamStore};

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// tanh through the sigmoid's single `exp`: libm's `tanhf` goes through the much slower `expm1f`,
/// which dominated a training step. The absolute error stays around 1e-7.
pub fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

/// d sigmoid(x)/dx from y = sigmoid(x).
pub fn sigmoid_grad_from_output(y: f32) -> f32 {
    y * (1.0 - y)
}

/// d tanh(x)/dx from y = tanh(x).
pub fn tanh_grad_from_output(y: f32) -> f32 {
    1.0 - y * y
}

pub fn relu_in_place(values: &mut [f32]) {
    values.iter_mut().for_each(|v| *v = v.max(0.0));
}

/// Zeroes the gradient where the ReLU output was 0 (PyTorch's convention at x = 0 as well). A select rather
/// than a branch: it vectorises, and about half the units of a layer are off in no predictable pattern.
pub fn relu_backward_in_place(grad: &mut [f32], output: &[f32]) {
    grad.iter_mut().zip(output).for_each(|(g, y)| *g = if *y <= 0.0 { 0.0 } else { *g });
}

const LEAKY_RELU_SLOPE: f32 = 0.01;
const SOFTPLUS_THRESHOLD: f32 = 20.0;
const PRELU_INIT: f32 = 0.25;
const SELU_ALPHA: f32 = 1.673_263_2;
const SELU_SCALE: f32 = 1.050_701;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationKind {
    Relu,
    Softplus,
    Tanh,
    Selu,
    LeakyRelu,
    Prelu,
    Sigmoid,
    /// torch's `nn.Identity`.
    Identity,
    /// `F.elu` (alpha 1), TFT's default GRN activation.
    Elu,
    /// `F.gelu`, exact (erf): see [`super::gelu`].
    Gelu,
}

impl ActivationKind {
    /// `ACTIVATIONS` of nbeats.py, nbeatsx.py and nhits.py: what NBEATS, NBEATSx and NHITS accept.
    pub const BLOCK_MLP: [ActivationKind; 7] = [Self::Relu, Self::Softplus, Self::Tanh, Self::Selu, Self::LeakyRelu, Self::Prelu, Self::Sigmoid];
    /// Every kind: [`ActivationKind::BLOCK_MLP`] and Identity, the part of common/_modules.py's `ACTIVATIONS`
    /// (TCN's `encoder_activation`) implemented here.
    pub const ALL: [ActivationKind; 8] =
        [Self::Relu, Self::Softplus, Self::Tanh, Self::Selu, Self::LeakyRelu, Self::Prelu, Self::Sigmoid, Self::Identity];

    /// tft.py's `get_activation_fn` names, which TFT's `grn_activation` takes, less "GLU": it halves the GRN's
    /// width, which the GRN's next layer does not accept (torch fails on it).
    pub const GRN: [ActivationKind; 8] =
        [Self::Relu, Self::Softplus, Self::Tanh, Self::Selu, Self::LeakyRelu, Self::Sigmoid, Self::Elu, Self::Gelu];

    /// torch's class name, as NeuralForecast's `activation` argument takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Relu => "ReLU",
            Self::Softplus => "Softplus",
            Self::Tanh => "Tanh",
            Self::Selu => "SELU",
            Self::LeakyRelu => "LeakyReLU",
            Self::Prelu => "PReLU",
            Self::Sigmoid => "Sigmoid",
            Self::Identity => "Identity",
            Self::Elu => "ELU",
            Self::Gelu => "GELU",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().chain([Self::Elu, Self::Gelu]).find(|kind| kind.name() == name)
    }
}

/// One activation module; a PReLU owns its slope parameter `<prefix>.weight` of shape `[1]`.
#[derive(Debug, Clone)]
pub struct Activation {
    kind: ActivationKind,
    prelu_weight: Option<ParamId>,
}

impl Activation {
    /// Creates `<prefix>.weight` (0.25) for PReLU; the other kinds have no parameters.
    pub fn new(init: &mut ParamInit<'_>, kind: ActivationKind) -> Result<Self, NnError> {
        let prelu_weight = match kind {
            ActivationKind::Prelu => Some(init.with_values("weight", &[1], vec![PRELU_INIT])?),
            _ => None,
        };
        Ok(Activation { kind, prelu_weight })
    }

    pub fn kind(&self) -> ActivationKind {
        self.kind
    }

    /// Whether [`Activation::backward_in_place`] needs the input as well as the output.
    pub fn needs_input(&self) -> bool {
        matches!(self.kind, ActivationKind::Prelu | ActivationKind::Gelu)
    }

    fn slope(&self, params: &ParamStore) -> f32 {
        self.prelu_weight.map_or(0.0, |id| params.get(id).data[0])
    }

    /// Replaces the inputs in `values` by the activation's outputs.
    pub fn forward_in_place(&self, params: &ParamStore, values: &mut [f32]) {
        let map = |f: &dyn Fn(f32) -> f32, values: &mut [f32]| values.iter_mut().for_each(|v| *v = f(*v));
        match self.kind {
            ActivationKind::Relu => relu_in_place(values),
            ActivationKind::Softplus => map(&|x| if x > SOFTPLUS_THRESHOLD { x } else { x.exp().ln_1p() }, values),
            ActivationKind::Tanh => map(&tanh, values),
            ActivationKind::Selu => map(&|x| SELU_SCALE * if x > 0.0 { x } else { SELU_ALPHA * x.exp_m1() }, values),
            ActivationKind::LeakyRelu => map(&|x| if x > 0.0 { x } else { LEAKY_RELU_SLOPE * x }, values),
            ActivationKind::Prelu => {
                let a = self.slope(params);
                map(&|x| if x > 0.0 { x } else { a * x }, values)
            }
            ActivationKind::Sigmoid => map(&sigmoid, values),
            ActivationKind::Identity => {}
            ActivationKind::Elu => super::elu::elu_in_place(values),
            ActivationKind::Gelu => map(&super::gelu::gelu, values),
        }
    }

    /// Turns `grad` (d loss / d output) into d loss / d input, given the forward pass's `output` and, for
    /// PReLU, its `input` (ignored otherwise); accumulates PReLU's slope gradient into `grads`.
    pub fn backward_in_place(
        &self,
        params: &ParamStore,
        grad: &mut [f32],
        output: &[f32],
        input: &[f32],
        grads: &mut ParamStore,
    ) -> Result<(), NnError> {
        expect_len("activation output", grad.len(), output.len())?;
        let scale = |f: &dyn Fn(f32) -> f32, grad: &mut [f32]| grad.iter_mut().zip(output).for_each(|(g, &y)| *g *= f(y));
        match self.kind {
            ActivationKind::Relu => relu_backward_in_place(grad, output),
            // d softplus/dx = sigmoid(x) = 1 - exp(-y); the identity above the threshold.
            ActivationKind::Softplus => scale(&|y| if y > SOFTPLUS_THRESHOLD { 1.0 } else { -(-y).exp_m1() }, grad),
            ActivationKind::Tanh => scale(&tanh_grad_from_output, grad),
            // scale * alpha * exp(x) = y + scale * alpha below 0 (torch takes that branch at x = 0 too).
            ActivationKind::Selu => scale(&|y| if y > 0.0 { SELU_SCALE } else { y + SELU_SCALE * SELU_ALPHA }, grad),
            ActivationKind::LeakyRelu => scale(&|y| if y > 0.0 { 1.0 } else { LEAKY_RELU_SLOPE }, grad),
            ActivationKind::Prelu => self.prelu_backward(params, grad, input, grads)?,
            ActivationKind::Sigmoid => scale(&sigmoid_grad_from_output, grad),
            ActivationKind::Identity => {}
            // exp(x) = y + 1 below 0.
            ActivationKind::Elu => scale(&|y| if y > 0.0 { 1.0 } else { y + 1.0 }, grad),
            ActivationKind::Gelu => {
                expect_len("GELU input", grad.len(), input.len())?;
                super::gelu::gelu_backward_in_place(grad, input);
            }
        }
        Ok(())
    }

    /// torch's prelu backward: d input = grad where x > 0, else a * grad; d a = sum of x * grad where x <= 0.
    fn prelu_backward(&self, params: &ParamStore, grad: &mut [f32], input: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        expect_len("PReLU input", grad.len(), input.len())?;
        let a = self.slope(params);
        let mut d_slope = 0.0f64;
        for (g, &x) in grad.iter_mut().zip(input) {
            if x <= 0.0 {
                d_slope += (x * *g) as f64;
                *g *= a;
            }
        }
        if let Some(id) = self.prelu_weight {
            grads.get_mut(id).data[0] += d_slope as f32;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    fn activation(kind: ActivationKind) -> (Activation, ParamStore) {
        seeded_layer(1, "layers.2", |init| Activation::new(init, kind))
    }

    #[test]
    fn names_round_trip_and_prelu_has_one_slope() {
        for kind in ActivationKind::ALL.into_iter().chain(ActivationKind::GRN) {
            assert_eq!(ActivationKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(ActivationKind::from_name("relu"), None);
        assert_eq!(ActivationKind::BLOCK_MLP, ActivationKind::ALL[..7]);
        let (_, params) = activation(ActivationKind::Prelu);
        assert_eq!(params.iter().map(|(n, t)| (n, t.data.clone())).collect::<Vec<_>>(), [("layers.2.weight", vec![0.25])]);
        assert_eq!(activation(ActivationKind::Selu).1.num_parameters(), 0);
    }

    #[test]
    fn values_match_torch() {
        let out = |kind, x: f32| {
            let (a, params) = activation(kind);
            let mut v = [x];
            a.forward_in_place(&params, &mut v);
            v[0]
        };
        // torch.nn.functional values (SELU and Softplus checked in f64).
        assert!((out(ActivationKind::Softplus, -1.5) - 0.201_413_3).abs() < 1e-6);
        assert_eq!(out(ActivationKind::Softplus, 25.0), 25.0);
        assert!((out(ActivationKind::Selu, -1.5) - -1.365_814_4).abs() < 1e-6);
        assert!((out(ActivationKind::Selu, 2.0) - 2.101_402).abs() < 1e-6);
        assert_eq!(out(ActivationKind::LeakyRelu, -1.5), -0.015);
        assert_eq!(out(ActivationKind::Prelu, -1.5), -0.375);
        assert!((out(ActivationKind::Tanh, -1.5) - -0.905_148_3).abs() < 1e-6);
        assert!((out(ActivationKind::Sigmoid, 2.0) - 0.880_797_1).abs() < 1e-6);
        assert_eq!(out(ActivationKind::Relu, -1.5), 0.0);
        assert_eq!(out(ActivationKind::Identity, -1.5), -1.5);
        assert!((out(ActivationKind::Elu, -1.5) - -0.776_869_8).abs() < 1e-6);
        assert_eq!(out(ActivationKind::Elu, 2.0), 2.0);
        assert!((out(ActivationKind::Gelu, -1.5) - -0.100_210_8).abs() < 1e-6);
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs kept away from 0, where ReLU-like kinks make central differences meaningless.
        let input: Vec<f32> = random_vec(40, 3).iter().map(|v| v * 3.0 + v.signum() * 0.05).collect();
        let weights = random_vec(40, 4);
        for kind in ActivationKind::ALL.into_iter().chain(ActivationKind::GRN) {
            let (activation, mut params) = activation(kind);
            let objective = |params: &ParamStore, x: &[f32]| {
                let mut y = x.to_vec();
                activation.forward_in_place(params, &mut y);
                weighted_sum(&y, &weights)
            };
            let mut output = input.clone();
            activation.forward_in_place(&params, &mut output);
            let mut grad = weights.clone();
            let mut grads = params.zeros_like();
            activation.backward_in_place(&params, &mut grad, &output, &input, &mut grads).unwrap();
            check_input_grads(&input, &grad, usize::MAX, |x| objective(&params, x));
            check_param_grads(&mut params, &grads, usize::MAX, |p| objective(p, &input));
        }
    }

    #[test]
    fn rejects_mismatched_buffers() {
        let (prelu, params) = activation(ActivationKind::Prelu);
        let mut grads = params.zeros_like();
        assert!(prelu.backward_in_place(&params, &mut [1.0; 3], &[0.0; 3], &[0.0; 2], &mut grads).is_err());
        assert!(prelu.backward_in_place(&params, &mut [1.0; 3], &[0.0; 2], &[0.0; 3], &mut grads).is_err());
        let (identity, params) = activation(ActivationKind::Identity);
        assert!(identity.backward_in_place(&params, &mut [1.0; 3], &[0.0; 2], &[], &mut params.zeros_like()).is_err());
    }

    #[test]
    fn derivatives_match_central_differences() {
        let eps = 1e-3_f64;
        for x in [-2.0_f64, -0.3, 0.0, 0.7, 3.0] {
            let numeric_sigmoid = (sigmoid((x + eps) as f32) as f64 - sigmoid((x - eps) as f32) as f64) / (2.0 * eps);
            assert!((sigmoid_grad_from_output(sigmoid(x as f32)) as f64 - numeric_sigmoid).abs() < 1e-3);
            let numeric_tanh = ((x + eps).tanh() - (x - eps).tanh()) / (2.0 * eps);
            assert!((tanh_grad_from_output(tanh(x as f32)) as f64 - numeric_tanh).abs() < 1e-3);
        }
    }

    #[test]
    fn tanh_matches_libm_including_saturation() {
        for x in [-100.0f32, -9.0, -1.5, -1e-4, 0.0, 3e-3, 0.8, 20.0, 100.0] {
            assert!((tanh(x) - x.tanh()).abs() < 2e-7, "tanh({x}) = {} vs {}", tanh(x), x.tanh());
        }
    }

    #[test]
    fn relu_masks_gradient_of_inactive_units() {
        let mut out = [-1.0, 0.5, 0.0];
        relu_in_place(&mut out);
        assert_eq!(out, [0.0, 0.5, 0.0]);
        let mut grad = [1.0, 2.0, 3.0];
        relu_backward_in_place(&mut grad, &out);
        assert_eq!(grad, [0.0, 2.0, 0.0]);
    }
}
