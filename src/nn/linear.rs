//! `y = x W^T + b`, as torch.nn.Linear: weight `[out, in]`, bias `[out]`, both initialised from
//! U(-1/sqrt(in), 1/sqrt(in)) (kaiming-uniform with a = sqrt(5), torch's default). `bias=False` layers
//! ([`Linear::without_bias`]) have only the weight.

use super::error::{expect_len, nonzero, NnError};
use super::gemm::{add_column_sums, fill_rows_with, gemm, Mat, MatMut};
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

    /// The `[out, in]` weight, for kernels that multiply by it in place ([`crate::nn::skinny`]).
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

    /// `output[rows, out] = input[rows, in] W^T + b`.
    pub fn forward(&self, params: &ParamStore, input: &[f32], rows: usize, output: &mut [f32]) -> Result<(), NnError> {
        expect_len("Linear input", rows * self.in_features, input.len())?;
        expect_len("Linear output", rows * self.out_features, output.len())?;
        let weight = &params.get(self.weight).data;
        match self.bias {
            Some(bias) => fill_rows_with(output, &params.get(bias).data),
            None => output.fill(0.0),
        }
        gemm(
            Mat::rows(input, rows, self.in_features),
            Mat::transposed(weight, self.out_features, self.in_features),
            1.0,
            MatMut::rows(output, rows, self.out_features),
        );
        Ok(())
    }

    /// Accumulates dW += dY^T X and db += colsum(dY) into `grads`; writes dX = dY W into `d_input` if given.
    pub fn backward(
        &self,
        params: &ParamStore,
        input: &[f32],
        d_output: &[f32],
        rows: usize,
        grads: &mut ParamStore,
        d_input: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        expect_len("Linear input", rows * self.in_features, input.len())?;
        expect_len("Linear output gradient", rows * self.out_features, d_output.len())?;
        gemm(
            Mat::transposed(d_output, rows, self.out_features),
            Mat::rows(input, rows, self.in_features),
            1.0,
            MatMut::rows(&mut grads.get_mut(self.weight).data, self.out_features, self.in_features),
        );
        if let Some(bias) = self.bias {
            add_column_sums(d_output, &mut grads.get_mut(bias).data);
        }
        if let Some(d_input) = d_input {
            expect_len("Linear input gradient", rows * self.in_features, d_input.len())?;
            gemm(
                Mat::rows(d_output, rows, self.out_features),
                Mat::rows(&params.get(self.weight).data, self.out_features, self.in_features),
                0.0,
                MatMut::rows(d_input, rows, self.in_features),
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
