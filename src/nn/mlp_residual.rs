//! NeuralForecast's `MLPResidual` (neuralforecast/models/tide.py), TiDE's building block over `[rows, in]`:
//! `norm(dropout(lin2(relu(lin1(x)))) + skip(x))`, the LayerNorm optional (`layernorm`). Parameter names and
//! their order follow the torch module's state dict: `norm.*` (created first), `lin1.*`, `lin2.*`, `skip.*`.

use super::activation::{relu_backward_in_place, relu_in_place};
use super::dropout::Dropout;
use super::error::{expect_len, NnError};
use super::layer_norm::{LayerNorm, LayerNormCache};
use super::linear::Linear;
use super::params::{ParamInit, ParamStore};

#[derive(Debug, Clone)]
pub struct MlpResidual {
    norm: Option<LayerNorm>,
    lin1: Linear,
    lin2: Linear,
    skip: Linear,
    dropout: Dropout,
}

/// What [`MlpResidual::backward`] needs from [`MlpResidual::forward`], and its scratch buffers.
#[derive(Debug, Clone, Default)]
pub struct MlpResidualCache {
    rows: usize,
    /// `relu(lin1(x))` `[rows, hidden]`.
    hidden: Vec<f32>,
    /// `dropout(lin2(hidden)) + skip(x)` `[rows, out]`: the block's output without a LayerNorm.
    sum: Vec<f32>,
    /// The LayerNorm's output, when the block has one.
    normalized: Vec<f32>,
    norm: LayerNormCache,
    mask: Vec<f32>,
    d_sum: Vec<f32>,
    d_hidden: Vec<f32>,
    d_input_part: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(MlpResidualCache { rows, hidden, sum, normalized, norm, mask, d_sum, d_hidden, d_input_part });

impl MlpResidual {
    /// Creates `<prefix>.{norm,lin1,lin2,skip}.*`; `dropout` draws its masks from its own stream.
    pub fn new(
        init: &mut ParamInit<'_>,
        (in_features, hidden_size, out_features): (usize, usize, usize),
        layernorm: bool,
        dropout: Dropout,
    ) -> Result<Self, NnError> {
        let norm = if layernorm { Some(LayerNorm::new(&mut init.pp("norm"), out_features)?) } else { None };
        let lin1 = Linear::new(&mut init.pp("lin1"), in_features, hidden_size)?;
        let lin2 = Linear::new(&mut init.pp("lin2"), hidden_size, out_features)?;
        let skip = Linear::new(&mut init.pp("skip"), in_features, out_features)?;
        Ok(MlpResidual { norm, lin1, lin2, skip, dropout })
    }

    /// Parameters of a block with `in_features` inputs, `hidden_size` units and `out_features` outputs.
    pub fn parameter_count(in_features: u128, hidden_size: u128, out_features: u128, layernorm: bool) -> u128 {
        let norm = if layernorm { 2 * out_features } else { 0 };
        norm + (in_features + 1) * hidden_size + (hidden_size + 1) * out_features + (in_features + 1) * out_features
    }

    pub fn in_features(&self) -> usize {
        self.lin1.in_features()
    }

    pub fn out_features(&self) -> usize {
        self.skip.out_features()
    }

    /// The output of the forward pass that filled `cache`.
    pub fn output<'c>(&self, cache: &'c MlpResidualCache) -> &'c [f32] {
        if self.norm.is_some() {
            &cache.normalized
        } else {
            &cache.sum
        }
    }

    /// Maps `input[rows, in]` to `[rows, out]`, returned from the cache; dropout is on when `train_seed` is given.
    pub fn forward<'c>(
        &self,
        params: &ParamStore,
        input: &[f32],
        rows: usize,
        train_seed: Option<u64>,
        cache: &'c mut MlpResidualCache,
    ) -> Result<&'c [f32], NnError> {
        expect_len("MLPResidual input", rows * self.in_features(), input.len())?;
        cache.rows = rows;
        cache.hidden.resize(rows * self.lin1.out_features(), 0.0);
        self.lin1.forward(params, input, rows, &mut cache.hidden)?;
        relu_in_place(&mut cache.hidden);
        let out = self.out_features();
        cache.sum.resize(rows * out, 0.0);
        self.lin2.forward(params, &cache.hidden, rows, &mut cache.sum)?;
        self.dropout.forward_in_place(&mut cache.sum, train_seed, &mut cache.mask);
        // The skip output goes through `normalized` (free until the LayerNorm writes it) and is added.
        cache.normalized.resize(rows * out, 0.0);
        self.skip.forward(params, input, rows, &mut cache.normalized)?;
        cache.sum.iter_mut().zip(&cache.normalized).for_each(|(s, k)| *s += k);
        if let Some(norm) = &self.norm {
            norm.forward(params, &cache.sum, rows, &mut cache.normalized, &mut cache.norm)?;
        }
        Ok(self.output(cache))
    }

    /// Accumulates parameter gradients into `grads`; writes d loss/d input into `d_input` if given.
    /// `input` must be the input of the forward pass that filled `cache`.
    pub fn backward(
        &self,
        params: &ParamStore,
        input: &[f32],
        cache: &mut MlpResidualCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        d_input: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        let rows = cache.rows;
        expect_len("MLPResidual input", rows * self.in_features(), input.len())?;
        expect_len("MLPResidual output gradient", rows * self.out_features(), d_output.len())?;
        let MlpResidualCache { hidden, norm: norm_cache, mask, d_sum, d_hidden, d_input_part, .. } = cache;
        d_sum.resize(d_output.len(), 0.0);
        match &self.norm {
            Some(norm) => norm.backward(params, norm_cache, d_output, grads, d_sum)?,
            None => d_sum.copy_from_slice(d_output),
        }
        let mut d_input = d_input;
        self.skip.backward(params, input, d_sum, rows, grads, d_input.as_deref_mut())?;
        self.dropout.backward_in_place(d_sum, mask)?;
        d_hidden.resize(hidden.len(), 0.0);
        self.lin2.backward(params, hidden, d_sum, rows, grads, Some(d_hidden))?;
        relu_backward_in_place(d_hidden, hidden);
        match d_input {
            Some(d_input) => {
                d_input_part.resize(d_input.len(), 0.0);
                self.lin1.backward(params, input, d_hidden, rows, grads, Some(d_input_part))?;
                d_input.iter_mut().zip(d_input_part.iter()).for_each(|(d, p)| *d += p);
            }
            None => self.lin1.backward(params, input, d_hidden, rows, grads, None)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    fn block(layernorm: bool, p: f32) -> (MlpResidual, ParamStore) {
        seeded_layer(5, "block", |init| MlpResidual::new(init, (6, 7, 4), layernorm, Dropout::new(p, 1)?))
    }

    #[test]
    fn names_follow_the_torch_state_dict() {
        let (_, params) = block(true, 0.0);
        let names: Vec<&str> = params.iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "block.norm.weight", "block.norm.bias", "block.lin1.weight", "block.lin1.bias", "block.lin2.weight",
                "block.lin2.bias", "block.skip.weight", "block.skip.bias"
            ]
        );
        assert_eq!(params.num_parameters() as u128, MlpResidual::parameter_count(6, 7, 4, true));
        let (_, without_norm) = block(false, 0.0);
        assert_eq!(without_norm.num_parameters() as u128, MlpResidual::parameter_count(6, 7, 4, false));
    }

    #[test]
    fn without_layernorm_and_dropout_it_is_the_mlp_plus_the_skip() {
        let (block, params) = block(false, 0.0);
        let input = random_vec(6, 3);
        let output = block.forward(&params, &input, 1, Some(1), &mut MlpResidualCache::default()).unwrap().to_vec();
        let (mut hidden, mut mlp, mut skip) = (vec![0.0; 7], vec![0.0; 4], vec![0.0; 4]);
        block.lin1.forward(&params, &input, 1, &mut hidden).unwrap();
        relu_in_place(&mut hidden);
        block.lin2.forward(&params, &hidden, 1, &mut mlp).unwrap();
        block.skip.forward(&params, &input, 1, &mut skip).unwrap();
        let expected: Vec<f32> = mlp.iter().zip(&skip).map(|(a, b)| a + b).collect();
        assert_eq!(output, expected);
    }

    #[test]
    fn gradients_match_finite_differences_with_layernorm_and_dropout() {
        for (layernorm, p) in [(true, 0.3), (false, 0.3), (true, 0.0)] {
            let (block, mut params) = block(layernorm, p);
            let rows = 5;
            let input = random_vec(rows * 6, 11);
            let weights = random_vec(rows * 4, 12);
            // A fixed training seed keeps the dropout mask across the perturbed passes.
            let objective = |params: &ParamStore, input: &[f32]| {
                let mut cache = MlpResidualCache::default();
                weighted_sum(block.forward(params, input, rows, Some(7), &mut cache).unwrap(), &weights)
            };
            let mut cache = MlpResidualCache::default();
            block.forward(&params, &input, rows, Some(7), &mut cache).unwrap();
            let mut grads = params.zeros_like();
            let mut d_input = vec![0.0; input.len()];
            block.backward(&params, &input, &mut cache, &weights, &mut grads, Some(&mut d_input)).unwrap();
            check_input_grads(&input, &d_input, usize::MAX, |x| objective(&params, x));
            check_param_grads(&mut params, &grads, 12, |p| objective(p, &input));
        }
    }
}
