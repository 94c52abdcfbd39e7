//! PatchTST's input encoding (neuralforecast/models/patchtst.py, `PatchTST_backbone` and `TSTiEncoder`): each
//! window `[L]` is padded at the end with `stride` copies of its last value (`ReplicationPad1d((0, stride))`), cut
//! into `patch_num = (L + stride - patch_len) / stride + 1` patches of `patch_len` values every `stride` steps
//! (`unfold`), each patch projected by `W_P` (`nn.Linear(patch_len, hidden)`), the positional encoding `W_pos`
//! `[patch_num, hidden]` added (NF's `pe='zeros'`: U(-0.02, 0.02), learned unless `learn_pe` is off) and dropout
//! applied: `[B, patch_num, hidden]` tokens for the encoder.

use super::dropout::Dropout;
use super::error::{expect_len, nonzero, NnError};
use super::params::{ParamId, ParamInit, ParamStore, TensorKind};
use super::Linear;

#[derive(Debug, Clone)]
pub struct PatchEmbedding {
    w_pos: ParamId,
    learn_pe: bool,
    w_p: Linear,
    input_size: usize,
    stride: usize,
    patch_num: usize,
    dropout: Dropout,
}

#[derive(Debug, Clone, Default)]
pub struct PatchEmbeddingCache {
    /// The patches `[B patch_num, patch_len]`: `W_P`'s input.
    patches: Vec<f32>,
    dropout_mask: Vec<f32>,
    d_tokens: Vec<f32>,
    d_patches: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(PatchEmbeddingCache { patches, dropout_mask, d_tokens, d_patches });

impl PatchEmbedding {
    /// `W_pos` then `W_P` under `init`'s prefix (the state dict's order) for windows of `input_size`.
    pub fn new(init: &mut ParamInit<'_>, input_size: usize, patch_len: usize, stride: usize, hidden: usize, learn_pe: bool, dropout: Dropout) -> Result<Self, NnError> {
        nonzero("inputSize", input_size)?;
        nonzero("patchLen", patch_len)?;
        nonzero("stride", stride)?;
        if patch_len > input_size + stride {
            return Err(NnError::InvalidValue { what: "patchLen", reason: format!("{patch_len} exceeds inputSize + stride = {}", input_size + stride) });
        }
        let patch_num = (input_size + stride - patch_len) / stride + 1;
        let kind = if learn_pe { TensorKind::Trained } else { TensorKind::Frozen };
        let w_pos = init.uniform_of_kind("W_pos", kind, &[patch_num, hidden], 0.02)?;
        let w_p = Linear::new(&mut init.pp("W_P"), patch_len, hidden)?;
        Ok(PatchEmbedding { w_pos, learn_pe, w_p, input_size, stride, patch_num, dropout })
    }

    pub fn patch_num(&self) -> usize {
        self.patch_num
    }

    /// `tokens` `[B, patch_num, hidden]` of `windows` `[B, input_size]`.
    pub fn forward(&self, params: &ParamStore, windows: &[f32], train_seed: Option<u64>, tokens: &mut [f32], cache: &mut PatchEmbeddingCache) -> Result<(), NnError> {
        let (l, patch_len, hidden) = (self.input_size, self.w_p.in_features(), self.w_p.out_features());
        let batch = windows.len() / l;
        expect_len("PatchTST windows", batch * l, windows.len())?;
        expect_len("PatchTST tokens", batch * self.patch_num * hidden, tokens.len())?;
        cache.patches.clear();
        for window in windows.chunks_exact(l) {
            for p in 0..self.patch_num {
                let start = p * self.stride;
                cache.patches.extend((start..start + patch_len).map(|t| window[t.min(l - 1)]));
            }
        }
        self.w_p.forward(params, &cache.patches, batch * self.patch_num, tokens)?;
        let w_pos = &params.get(self.w_pos).data;
        tokens.chunks_exact_mut(w_pos.len()).for_each(|window| window.iter_mut().zip(w_pos).for_each(|(t, p)| *t += p));
        self.dropout.forward_in_place(tokens, train_seed, &mut cache.dropout_mask);
        Ok(())
    }

    /// Accumulates the gradients of `W_P` and (when learned) `W_pos` from `d_tokens`, and writes that of the
    /// windows into `d_windows` when given (the padding's copies of the last value add to it).
    pub fn backward(
        &self,
        params: &ParamStore,
        cache: &mut PatchEmbeddingCache,
        d_tokens: &[f32],
        grads: &mut ParamStore,
        d_windows: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        let rows = cache.patches.len() / self.w_p.in_features();
        expect_len("PatchTST token gradient", rows * self.w_p.out_features(), d_tokens.len())?;
        cache.d_tokens.clear();
        cache.d_tokens.extend_from_slice(d_tokens);
        self.dropout.backward_in_place(&mut cache.d_tokens, &cache.dropout_mask)?;
        if self.learn_pe {
            let d_pos = &mut grads.get_mut(self.w_pos).data;
            let width = d_pos.len();
            cache.d_tokens.chunks_exact(width).for_each(|window| d_pos.iter_mut().zip(window).for_each(|(g, d)| *g += d));
        }
        let Some(d_windows) = d_windows else {
            return self.w_p.backward(params, &cache.patches, &cache.d_tokens, rows, grads, None);
        };
        let (l, patch_len) = (self.input_size, self.w_p.in_features());
        expect_len("PatchTST window gradient", rows / self.patch_num * l, d_windows.len())?;
        cache.d_patches.resize(cache.patches.len(), 0.0);
        self.w_p.backward(params, &cache.patches, &cache.d_tokens, rows, grads, Some(&mut cache.d_patches))?;
        d_windows.fill(0.0);
        for (d_window, d_patches) in d_windows.chunks_exact_mut(l).zip(cache.d_patches.chunks_exact(self.patch_num * patch_len)) {
            for (p, d_patch) in d_patches.chunks_exact(patch_len).enumerate() {
                let start = p * self.stride;
                d_patch.iter().enumerate().for_each(|(k, d)| d_window[(start + k).min(l - 1)] += d);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    #[test]
    fn patches_pad_with_the_last_value_as_torch_unfolds() {
        // L = 5, stride 2, patch_len 3: padded [0, 1, 2, 3, 4, 4, 4], patches at 0, 2, 4.
        let (layer, params) = seeded_layer(1, "backbone", |init| PatchEmbedding::new(init, 5, 3, 2, 2, true, Dropout::new(0.0, 1)?));
        assert_eq!(layer.patch_num(), 3);
        let (mut tokens, mut cache) = (vec![0.0; 6], PatchEmbeddingCache::default());
        layer.forward(&params, &[0.0, 1.0, 2.0, 3.0, 4.0], None, &mut tokens, &mut cache).unwrap();
        assert_eq!(cache.patches, vec![0.0, 1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 4.0, 4.0]);
        assert_eq!(params.iter().map(|(n, t)| (n.to_string(), t.shape.clone())).collect::<Vec<_>>(), [
            ("backbone.W_pos".to_string(), vec![3, 2]), ("backbone.W_P.weight".to_string(), vec![2, 3]), ("backbone.W_P.bias".to_string(), vec![2]),
        ]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        for learn_pe in [true, false] {
            let (layer, params) = seeded_layer(2, "backbone", |init| PatchEmbedding::new(init, 7, 4, 3, 5, learn_pe, Dropout::new(0.3, 1)?));
            let n = 2 * layer.patch_num() * 5;
            let (windows, weights) = (random_vec(14, 3), random_vec(n, 4));
            let run = |params: &ParamStore| {
                let (mut tokens, mut cache) = (vec![0.0; n], PatchEmbeddingCache::default());
                layer.forward(params, &windows, Some(7), &mut tokens, &mut cache).unwrap();
                weighted_sum(&tokens, &weights)
            };
            let (mut tokens, mut cache) = (vec![0.0; n], PatchEmbeddingCache::default());
            layer.forward(&params, &windows, Some(7), &mut tokens, &mut cache).unwrap();
            let mut grads = params.zeros_like();
            let mut d_windows = vec![0.0; 14];
            layer.backward(&params, &mut cache, &weights, &mut grads, Some(&mut d_windows)).unwrap();
            check_input_grads(&windows, &d_windows, 14, |x| {
                let (mut tokens, mut cache) = (vec![0.0; n], PatchEmbeddingCache::default());
                layer.forward(&params, x, Some(7), &mut tokens, &mut cache).unwrap();
                weighted_sum(&tokens, &weights)
            });
            assert_eq!(grads.find("backbone.W_pos").unwrap().data.iter().any(|g| *g != 0.0), learn_pe);
            check_param_grads(&mut params.clone(), &grads, 6, run);
        }
    }
}
