//! `y = x W^T + b`, as torch.nn.Linear: weight `[out, in]`, bias `[out]`, both initialised from
//! U(-1/sqrt(in), 1/sqrt(in)) (kaiming-uniform with a = sqrt(5), torch's default). `bias=False` layers
//! ([`Linear::without_bias`]) have only the weight.

use super::error::{expect_len, nonzero, NnError};
use super::matmul::{self, add_row_sums, fill_columns_with, gemm, Mat, MatMut};
use super::params::{ParamId, ParamInit, ParamStore};

#[derive(Debug, Clone)]
pub struct Linear {
    weight: ParamId,
    bias: Option<ParamId>,
    in_features: usize,
    out_features: usize,
}

impl Linear {
    /// Creates `<prefix>.weight` and `<prefix>.bias`.
    pub fn new(init: &mut ParamInit<'_>, in_features: usize, out_features: usize) -> Result<Self, NnError> {
        nonzero("Linear in_features", in_features)?;
        nonzero("Linear out_features", out_features)?;
        let bound = 1.0 / (in_features as f32).sqrt();
        let weight = init.uniform("weight", &[out_features, in_features], bound)?;
        let bias = Some(init.uniform("bias", &[out_features], bound)?);
        Ok(Linear { weight, bias, in_features, out_features })
    }

    /// Creates `<prefix>.weight` only: torch's `nn.Linear(in, out, bias=False)`.
    pub fn without_bias(init: &mut ParamInit<'_>, in_features: usize, out_features: usize) -> Result<Self, NnError> {
        nonzero("Linear in_features", in_features)?;
        nonzero("Linear out_features", out_features)?;
        let bound = 1.0 / (in_features as f32).sqrt();
        let weight = init.uniform("weight", &[out_features, in_features], bound)?;
        Ok(Linear { weight, bias: None, in_features, out_features })
    }

    /// torch's `nn.Conv1d(in, out, kernel_size=1)` over `[rows, in]` positions: the same map as a Linear, with
    /// the weight stored as torch's `[out, in, 1]` (same init, fan_in = in) so checkpoints keep torch's shapes.
    pub fn pointwise_conv1d(init: &mut ParamInit<'_>, in_features: usize, out_features: usize) -> Result<Self, NnError> {
        nonzero("Conv1d in_channels", in_features)?;
        nonzero("Conv1d out_channels", out_features)?;
        let bound = 1.0 / (in_features as f32).sqrt();
        let weight = init.uniform("weight", &[out_features, in_features, 1], bound)?;
        let bias = Some(init.uniform("bias", &[out_features], bound)?);
        Ok(Linear { weight, bias, in_features, out_features })
    }

    /// The `[out, in]` weight.
    pub fn weight(&self) -> ParamId {
        self.weight
    }

    pub fn bias(&self) -> Option<ParamId> {
        self.bias
    }

    pub fn in_features(&self) -> usize {
        self.in_features
    }

    pub fn out_features(&self) -> usize {
        self.out_features
    }

    /// `output[rows, out] = input[rows, in] W^T + b`, through the kernel [`super::matmul`] picks for the layer's
    /// inputs and the CPU, whatever the rows: a row gives the same bits alone or in any batch.
    pub fn forward(&self, params: &ParamStore, input: &[f32], rows: usize, output: &mut [f32]) -> Result<(), NnError> {
        matmul::forward(self, params, input, rows, output)
    }

    /// Accumulates dW += dY^T X and db += colsum(dY) into `grads`; writes dX = dY W into `d_input` if given.
    /// Through [`super::matmul`]'s kernels (see its dispatch table).
    pub fn backward(
        &self,
        params: &ParamStore,
        input: &[f32],
        d_output: &[f32],
        rows: usize,
        grads: &mut ParamStore,
        d_input: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        matmul::backward(matmul::Backward { layer: self, params, input, d_output, rows }, grads, d_input)
    }

    /// `output[out, n] = W input[in, n] + b`: the layer applied to every column, i.e. along the leading axis
    /// of `[in, n]` data (NeuralForecast's `Linear` over the time axis of a time-major sequence), so such a
    /// model needs no transpose.
    pub fn forward_columns(&self, params: &ParamStore, input: &[f32], n: usize, output: &mut [f32]) -> Result<(), NnError> {
        expect_len("Linear input", self.in_features * n, input.len())?;
        expect_len("Linear output", self.out_features * n, output.len())?;
        match self.bias {
            Some(bias) => fill_columns_with(output, &params.get(bias).data),
            None => output.fill(0.0),
        }
        gemm(
            Mat::rows(&params.get(self.weight).data, self.out_features, self.in_features),
            Mat::rows(input, self.in_features, n),
            1.0,
            MatMut::rows(output, self.out_features, n),
        );
        Ok(())
    }

    /// The backward pass of [`Linear::forward_columns`]: accumulates dW += dY X^T and db += rowsum(dY) into
    /// `grads`; writes dX = W^T dY into `d_input` if given.
    pub fn backward_columns(
        &self,
        params: &ParamStore,
        input: &[f32],
        d_output: &[f32],
        n: usize,
        grads: &mut ParamStore,
        d_input: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        expect_len("Linear input", self.in_features * n, input.len())?;
        expect_len("Linear output gradient", self.out_features * n, d_output.len())?;
        gemm(
            Mat::rows(d_output, self.out_features, n),
            Mat::transposed(input, self.in_features, n),
            1.0,
            MatMut::rows(&mut grads.get_mut(self.weight).data, self.out_features, self.in_features),
        );
        if let Some(bias) = self.bias {
            add_row_sums(d_output, &mut grads.get_mut(bias).data);
        }
        if let Some(d_input) = d_input {
            expect_len("Linear input gradient", self.in_features * n, d_input.len())?;
            gemm(
                Mat::transposed(&params.get(self.weight).data, self.out_features, self.in_features),
                Mat::rows(d_output, self.out_features, n),
                0.0,
                MatMut::rows(d_input, self.in_features, n),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, weighted_sum};

    fn linear(in_features: usize, out_features: usize) -> (Linear, ParamStore) {
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let layer = Linear::new(&mut ParamInit::new(&mut params, &mut rng).pp("proj"), in_features, out_features).unwrap();
        (layer, params)
    }

    #[test]
    fn names_shapes_and_init_bound_follow_torch() {
        let (_, params) = linear(16, 3);
        let names: Vec<_> = params.iter().map(|(n, t)| (n.to_string(), t.shape.clone())).collect();
        assert_eq!(names, [("proj.weight".to_string(), vec![3, 16]), ("proj.bias".to_string(), vec![3])]);
        assert!(params.iter().all(|(_, t)| t.data.iter().all(|v| v.abs() <= 0.25)));
    }

    #[test]
    fn without_bias_has_only_a_weight_and_gradients_match() {
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let layer = Linear::without_bias(&mut ParamInit::new(&mut params, &mut rng).pp("embed"), 3, 2).unwrap();
        assert_eq!(params.iter().map(|(n, _)| n).collect::<Vec<_>>(), ["embed.weight"]);
        let input = random_vec(2 * 3, 4);
        let weights = random_vec(2 * 2, 5);
        let objective = |params: &ParamStore| {
            let mut out = vec![0.0; 4];
            layer.forward(params, &input, 2, &mut out).unwrap();
            weighted_sum(&out, &weights)
        };
        let mut grads = params.zeros_like();
        layer.backward(&params, &input, &weights, 2, &mut grads, None).unwrap();
        check_param_grads(&mut params, &grads, usize::MAX, objective);
    }

    #[test]
    fn rejects_zero_sizes_and_wrong_lengths() {
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut init = ParamInit::new(&mut params, &mut rng);
        assert!(matches!(Linear::new(&mut init, 0, 3), Err(NnError::ZeroSize { .. })));
        let (layer, params) = linear(4, 2);
        let err = layer.forward(&params, &[0.0; 7], 2, &mut [0.0; 4]).unwrap_err();
        assert_eq!(err, NnError::LengthMismatch { what: "Linear input", expected: 8, actual: 7 });
    }

    #[test]
    fn along_columns_equals_rows_of_the_transpose_and_gradients_match() {
        let (layer, mut params) = linear(5, 3);
        let n = 4;
        let input = random_vec(5 * n, 1);
        let transpose = |m: &[f32], rows: usize, cols: usize| -> Vec<f32> {
            (0..cols * rows).map(|i| m[(i % rows) * cols + i / rows]).collect()
        };
        let (mut by_rows, mut by_columns) = (vec![0.0; n * 3], vec![0.0; 3 * n]);
        layer.forward(&params, &transpose(&input, 5, n), n, &mut by_rows).unwrap();
        layer.forward_columns(&params, &input, n, &mut by_columns).unwrap();
        let expected = transpose(&by_rows, n, 3);
        assert!(by_columns.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-6));
        let weights = random_vec(3 * n, 2);
        let objective = |params: &ParamStore, input: &[f32]| {
            let mut out = vec![0.0; 3 * n];
            layer.forward_columns(params, input, n, &mut out).unwrap();
            weighted_sum(&out, &weights)
        };
        let mut grads = params.zeros_like();
        let mut d_input = vec![0.0; 5 * n];
        layer.backward_columns(&params, &input, &weights, n, &mut grads, Some(&mut d_input)).unwrap();
        check_input_grads(&input, &d_input, usize::MAX, |x| objective(&params, x));
        check_param_grads(&mut params, &grads, usize::MAX, |p| objective(p, &input));
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (layer, mut params) = linear(5, 3);
        let rows = 4;
        let input = random_vec(rows * 5, 1);
        let weights = random_vec(rows * 3, 2);
        let objective = |params: &ParamStore, input: &[f32]| {
            let mut out = vec![0.0; rows * 3];
            layer.forward(params, input, rows, &mut out).unwrap();
            weighted_sum(&out, &weights)
        };
        let mut grads = params.zeros_like();
        let mut d_input = vec![0.0; rows * 5];
        layer.backward(&params, &input, &weights, rows, &mut grads, Some(&mut d_input)).unwrap();
        check_input_grads(&input, &d_input, usize::MAX, |x| objective(&params, x));
        check_param_grads(&mut params, &grads, usize::MAX, |p| objective(p, &input));
    }
}
