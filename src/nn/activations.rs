//! Element-wise activations and their derivatives. Derivatives are written in terms of the
//! activation's output, which is what the layers cache.

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

#[cfg(test)]
mod tests {
    use super::*;

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
