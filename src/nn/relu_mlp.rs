//! NeuralForecast's `MLP` (neuralforecast/common/_modules.py) with activation "ReLU" and dropout 0,
//! as its recurrent models build their decoder: `num_layers == 1` is a single Linear(in, out);
//! otherwise Linear(in, hidden), ReLU, then `num_layers - 2` times Linear(hidden, hidden), ReLU, then
//! Linear(hidden, out). The torch module is an `nn.Sequential` of [Linear, ReLU, Dropout] triples, so
//! its Linear layers sit at indices 0, 3, 6, ...; the parameter names keep those indices
//! (`layers.0.weight`, `layers.3.weight`) so that a NeuralForecast state_dict maps one-to-one.

use super::activation::{relu_backward_in_place, relu_in_place};
use super::error::{expect_len, nonzero, NnError};
use super::linear::Linear;
use super::params::{ParamInit, ParamStore};

/// Sequential index step between consecutive Linear layers in the torch module (Linear, ReLU, Dropout).
const TORCH_SEQUENTIAL_STRIDE: usize = 3;

#[derive(Debug, Clone)]
pub struct ReluMlp {
    /// ReLU follows every layer except the last.
    layers: Vec<Linear>,
}

/// What [`ReluMlp::backward`] needs from [`ReluMlp::forward`], plus its scratch buffers.
#[derive(Debug, Clone, Default)]
pub struct ReluMlpCache {
    rows: usize,
    /// Output of each layer, after its ReLU for all but the last.
    outputs: Vec<Vec<f32>>,
    d_current: Vec<f32>,
    d_below: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(ReluMlpCache { rows, outputs, d_current, d_below });

impl ReluMlp {
    /// Creates `<prefix>.layers.{0,3,6,..}.{weight,bias}`.
    pub fn new(init: &mut ParamInit<'_>, in_features: usize, out_features: usize, hidden_size: usize, num_layers: usize) -> Result<Self, NnError> {
        nonzero("MLP num_layers", num_layers)?;
        if num_layers > 1 {
            nonzero("MLP hidden_size", hidden_size)?;
        }
        let widths: Vec<usize> = std::iter::once(in_features)
            .chain(std::iter::repeat_n(hidden_size, num_layers - 1))
            .chain(std::iter::once(out_features))
            .collect();
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, pair)| Linear::new(&mut init.pp(format!("layers.{}", i * TORCH_SEQUENTIAL_STRIDE)), pair[0], pair[1]))
            .collect::<Result<_, _>>()?;
        Ok(ReluMlp { layers })
    }

    /// An MLP over given layers (ReLU after all but the last), for models whose torch modules name their
    /// layers differently (NeuralForecast's `MLP` model: `mlp.0`, `mlp.1`, …, `out`).
    pub fn from_layers(layers: Vec<Linear>) -> Result<Self, NnError> {
        nonzero("MLP num_layers", layers.len())?;
        if let Some(pair) = layers.windows(2).find(|p| p[0].out_features() != p[1].in_features()) {
            return Err(NnError::InvalidValue {
                what: "MLP layers",
                reason: format!("a layer of {} outputs feeds one of {} inputs", pair[0].out_features(), pair[1].in_features()),
            });
        }
        Ok(ReluMlp { layers })
    }

    pub fn in_features(&self) -> usize {
        self.layers[0].in_features()
    }

    pub fn out_features(&self) -> usize {
        self.layers[self.layers.len() - 1].out_features()
    }

    /// Maps `input[rows, in]` to `[rows, out]`, returned from the cache.
    pub fn forward<'c>(
        &self,
        params: &ParamStore,
        input: &[f32],
        rows: usize,
        cache: &'c mut ReluMlpCache,
    ) -> Result<&'c [f32], NnError> {
        expect_len("MLP input", rows * self.in_features(), input.len())?;
        cache.rows = rows;
        cache.outputs.resize_with(self.layers.len(), Vec::new);
        for (i, layer) in self.layers.iter().enumerate() {
            let (done, rest) = cache.outputs.split_at_mut(i);
            let layer_input = done.last().map_or(input, Vec::as_slice);
            let output = &mut rest[0];
            output.resize(rows * layer.out_features(), 0.0);
            layer.forward(params, layer_input, rows, output)?;
            if i + 1 < self.layers.len() {
                relu_in_place(output);
            }
        }
        Ok(&cache.outputs[self.layers.len() - 1])
    }

    /// Accumulates parameter gradients into `grads`; writes d loss/d input into `d_input` if given.
    /// `input` must be the input of the forward pass that filled `cache`.
    pub fn backward(
        &self,
        params: &ParamStore,
        input: &[f32],
        cache: &mut ReluMlpCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        mut d_input: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        let rows = cache.rows;
        expect_len("MLP input", rows * self.in_features(), input.len())?;
        expect_len("MLP output gradient", rows * self.out_features(), d_output.len())?;
        let ReluMlpCache { outputs, d_current, d_below, .. } = cache;
        d_current.clear();
        d_current.extend_from_slice(d_output);
        for (i, layer) in self.layers.iter().enumerate().rev() {
            if i + 1 < self.layers.len() {
                relu_backward_in_place(d_current, &outputs[i]);
            }
            if i == 0 {
                layer.backward(params, input, d_current, rows, grads, d_input.as_deref_mut())?;
            } else {
                d_below.resize(rows * layer.in_features(), 0.0);
                layer.backward(params, &outputs[i - 1], d_current, rows, grads, Some(d_below))?;
                std::mem::swap(d_current, d_below);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    fn mlp(in_features: usize, out_features: usize, hidden: usize, num_layers: usize) -> (ReluMlp, ParamStore) {
        seeded_layer(3, "mlp_decoder", |init| ReluMlp::new(init, in_features, out_features, hidden, num_layers))
    }

    #[test]
    fn layer_names_use_torch_sequential_indices() {
        let (_, params) = mlp(64, 1, 64, 3);
        let names: Vec<&str> = params.iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "mlp_decoder.layers.0.weight",
                "mlp_decoder.layers.0.bias",
                "mlp_decoder.layers.3.weight",
                "mlp_decoder.layers.3.bias",
                "mlp_decoder.layers.6.weight",
                "mlp_decoder.layers.6.bias",
            ]
        );
        // 64->64, 64->64, 64->1.
        assert_eq!(params.num_parameters(), 2 * (64 * 64 + 64) + 65);
        let (_, single) = mlp(8, 2, 100, 1);
        assert_eq!(single.num_parameters(), 8 * 2 + 2);
    }

    #[test]
    fn rejects_zero_layers() {
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let err = ReluMlp::new(&mut ParamInit::new(&mut params, &mut rng), 4, 1, 8, 0).unwrap_err();
        assert_eq!(err, NnError::ZeroSize { what: "MLP num_layers" });
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (mlp, mut params) = mlp(6, 2, 7, 3);
        let rows = 5;
        let input = random_vec(rows * 6, 11);
        let weights = random_vec(rows * 2, 12);
        let objective = |params: &ParamStore, input: &[f32]| {
            let mut cache = ReluMlpCache::default();
            weighted_sum(mlp.forward(params, input, rows, &mut cache).unwrap(), &weights)
        };
        let mut cache = ReluMlpCache::default();
        mlp.forward(&params, &input, rows, &mut cache).unwrap();
        let mut grads = params.zeros_like();
        let mut d_input = vec![0.0; input.len()];
        mlp.backward(&params, &input, &mut cache, &weights, &mut grads, Some(&mut d_input)).unwrap();
        check_input_grads(&input, &d_input, usize::MAX, |x| objective(&params, x));
        check_param_grads(&mut params, &grads, 12, |p| objective(p, &input));
    }
}
