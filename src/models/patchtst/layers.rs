//! PatchTST's `TSTEncoderLayer` (models/patchtst.py): a self-attention sublayer and a feed-forward sublayer
//! (`ff.0` Linear, GELU or ReLU, dropout, `ff.3` Linear), each with residual dropout and a residual connection,
//! and a `BatchNorm1d` over the hidden channels (`norm_attn.1`, `norm_ffn.1`) after the sum, or before the
//! sublayer with `pre_norm` (NF's `batch_normalization=True`, which then also feeds the sublayer's normalised
//! input to the residual, as NF reassigns `src`).

use crate::models::transformer::Activation;
use crate::nn::attention::{AttentionCache, AttentionInputs, InputGradients, MultiHeadAttention, ScoreGradients};
use crate::nn::batch_norm::{BatchNorm1d, BatchNormCache};
use crate::nn::dropout::Dropout;
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

/// torch's BatchNorm1d defaults, which PatchTST keeps.
const TORCH_EPS: f32 = 1e-5;
const TORCH_MOMENTUM: f32 = 0.1;

/// A layer's architecture: the options of NF's `TSTEncoderLayer` that PatchTST sets.
#[derive(Debug, Clone, Copy)]
pub(super) struct LayerOptions {
    pub hidden: usize,
    pub heads: usize,
    pub linear_hidden: usize,
    pub dropout: f32,
    pub attn_dropout: f32,
    pub activation: Activation,
    pub res_attention: bool,
    pub pre_norm: bool,
}

/// A BatchNorm around a residual sublayer: `norm(x + f(x))`, or with `pre_norm` `n + f(n)` where `n = norm(x)`.
#[derive(Debug, Clone)]
struct NormedResidual {
    norm: BatchNorm1d,
    pre_norm: bool,
}

#[derive(Debug, Clone, Default)]
struct NormedResidualCache {
    norm: BatchNormCache,
    /// `pre_norm`: the normalised input, which is the sublayer's input.
    normed: Vec<f32>,
    sum: Vec<f32>,
    /// Post-norm: `norm(sum)`.
    output: Vec<f32>,
    d_sum: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(NormedResidualCache { norm, normed, sum, output, d_sum });

impl NormedResidual {
    /// Normalises `x` first when `pre_norm`; then [`NormedResidual::sublayer_input`] is what the sublayer reads.
    fn enter(&self, params: &ParamStore, x: &[f32], rows: usize, training: bool, cache: &mut NormedResidualCache) -> Result<(), NnError> {
        if self.pre_norm {
            cache.normed.resize(x.len(), 0.0);
            self.norm.forward(params, x, rows, training, &mut cache.normed, &mut cache.norm)?;
        }
        Ok(())
    }

    fn sublayer_input<'a>(&self, x: &'a [f32], cache: &'a NormedResidualCache) -> &'a [f32] {
        if self.pre_norm { &cache.normed } else { x }
    }

    /// Adds the sublayer's input and output, then normalises the sum unless `pre_norm`.
    fn leave(&self, params: &ParamStore, x: &[f32], sublayer_output: &[f32], rows: usize, training: bool, cache: &mut NormedResidualCache) -> Result<(), NnError> {
        let input = if self.pre_norm { &cache.normed[..] } else { x };
        cache.sum.clear();
        cache.sum.extend(input.iter().zip(sublayer_output).map(|(a, b)| a + b));
        if !self.pre_norm {
            cache.output.resize(x.len(), 0.0);
            self.norm.forward(params, &cache.sum, rows, training, &mut cache.output, &mut cache.norm)?;
        }
        Ok(())
    }

    fn output<'a>(&self, cache: &'a NormedResidualCache) -> &'a [f32] {
        if self.pre_norm { &cache.sum } else { &cache.output }
    }

    /// The gradient of the sum (and of the sublayer's output) from that of the output, into `cache.d_sum`.
    fn backward_sum(&self, params: &ParamStore, cache: &mut NormedResidualCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        cache.d_sum.resize(d_output.len(), 0.0);
        if self.pre_norm {
            cache.d_sum.copy_from_slice(d_output);
            Ok(())
        } else {
            self.norm.backward(params, &mut cache.norm, d_output, grads, &mut cache.d_sum)
        }
    }

    /// `d_input` holds the gradient of the sublayer's input from the sublayer; adds the residual's and, with
    /// `pre_norm`, backpropagates both through the norm (`scratch` holds the sum meanwhile).
    fn backward_input(&self, params: &ParamStore, cache: &mut NormedResidualCache, d_input: &mut [f32], grads: &mut ParamStore, scratch: &mut Vec<f32>) -> Result<(), NnError> {
        d_input.iter_mut().zip(&cache.d_sum).for_each(|(d, s)| *d += s);
        if self.pre_norm {
            scratch.clear();
            scratch.extend_from_slice(d_input);
            self.norm.backward(params, &mut cache.norm, scratch, grads, d_input)?;
        }
        Ok(())
    }

    fn update_running_statistics(&self, params: &mut ParamStore, cache: &NormedResidualCache) -> Result<(), NnError> {
        self.norm.update_running_statistics(params, &cache.norm)
    }
}

/// NF's `TSTEncoderLayer`.
#[derive(Debug, Clone)]
pub(super) struct EncoderLayer {
    attention: MultiHeadAttention,
    /// `to_out`'s dropout and the layer's `dropout_attn`, one after the other as in NF.
    proj_dropout: Dropout,
    dropout_attn: Dropout,
    attn_residual: NormedResidual,
    ff_in: Linear,
    activation: Activation,
    ff_dropout: Dropout,
    ff_out: Linear,
    dropout_ffn: Dropout,
    ff_residual: NormedResidual,
}

#[derive(Debug, Clone, Default)]
pub(super) struct EncoderLayerCache {
    rows: usize,
    attention: AttentionCache,
    attended: Vec<f32>,
    proj_mask: Vec<f32>,
    attn_mask: Vec<f32>,
    attn_residual: NormedResidualCache,
    pre_activation: Vec<f32>,
    hidden: Vec<f32>,
    hidden_mask: Vec<f32>,
    transformed: Vec<f32>,
    ffn_mask: Vec<f32>,
    ff_residual: NormedResidualCache,
    d_middle: Vec<f32>,
    d_hidden: Vec<f32>,
    d_branch: Vec<f32>,
    d_keys_values: Vec<f32>,
    d_scratch: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(EncoderLayerCache {
    rows, attention, attended, proj_mask, attn_mask, attn_residual, pre_activation, hidden, hidden_mask, transformed, ffn_mask, ff_residual,
    d_middle, d_hidden, d_branch, d_keys_values, d_scratch
});

impl EncoderLayerCache {
    pub(super) fn output(&self, layer: &EncoderLayer) -> &[f32] {
        layer.ff_residual.output(&self.ff_residual)
    }

    /// The residual-attention scores this layer hands to the next.
    pub(super) fn scores<'c>(&'c self, layer: &EncoderLayer) -> &'c [f32] {
        layer.attention.scores(&self.attention)
    }
}

impl EncoderLayer {
    /// The layer under `init`'s prefix in torch's order (`self_attn`, `norm_attn.1`, `ff.0`, `ff.3`, `norm_ffn.1`);
    /// `stream` numbers its dropout layers.
    pub(super) fn new(init: &mut ParamInit<'_>, options: LayerOptions, stream: &mut impl FnMut(f32) -> Result<Dropout, NnError>) -> Result<Self, NnError> {
        let LayerOptions { hidden, heads, linear_hidden, dropout, attn_dropout, activation, res_attention, pre_norm } = options;
        let attention = MultiHeadAttention::patchtst(&mut init.pp("self_attn"), hidden, heads, stream(attn_dropout)?, res_attention)?;
        let norm_attn = BatchNorm1d::new(&mut init.pp("norm_attn.1"), hidden, TORCH_EPS, TORCH_MOMENTUM)?;
        let ff_in = Linear::new(&mut init.pp("ff.0"), hidden, linear_hidden)?;
        let ff_out = Linear::new(&mut init.pp("ff.3"), linear_hidden, hidden)?;
        let norm_ffn = BatchNorm1d::new(&mut init.pp("norm_ffn.1"), hidden, TORCH_EPS, TORCH_MOMENTUM)?;
        Ok(EncoderLayer {
            attention,
            proj_dropout: stream(dropout)?,
            dropout_attn: stream(dropout)?,
            attn_residual: NormedResidual { norm: norm_attn, pre_norm },
            ff_in,
            activation,
            ff_dropout: stream(dropout)?,
            ff_out,
            dropout_ffn: stream(dropout)?,
            ff_residual: NormedResidual { norm: norm_ffn, pre_norm },
        })
    }

    /// `input` `[B, len, hidden]`; `prev` the previous layer's scores under residual attention. Training (batch
    /// statistics, dropout) when `train_seed` is given.
    pub(super) fn forward(&self, params: &ParamStore, input: &[f32], batch: usize, len: usize, prev: Option<&[f32]>, train_seed: Option<u64>, cache: &mut EncoderLayerCache) -> Result<(), NnError> {
        let (rows, training) = (batch * len, train_seed.is_some());
        cache.rows = rows;
        self.attn_residual.enter(params, input, rows, training, &mut cache.attn_residual)?;
        let x = self.attn_residual.sublayer_input(input, &cache.attn_residual);
        cache.attended.resize(input.len(), 0.0);
        let inputs = AttentionInputs { queries: x, keys_values: x, batch, q_len: len, kv_len: len };
        self.attention.forward_with_scores(params, inputs, prev, train_seed, &mut cache.attended, &mut cache.attention)?;
        self.proj_dropout.forward_in_place(&mut cache.attended, train_seed, &mut cache.proj_mask);
        self.dropout_attn.forward_in_place(&mut cache.attended, train_seed, &mut cache.attn_mask);
        self.attn_residual.leave(params, input, &cache.attended, rows, training, &mut cache.attn_residual)?;

        let middle = self.attn_residual.output(&cache.attn_residual);
        self.ff_residual.enter(params, middle, rows, training, &mut cache.ff_residual)?;
        let x = self.ff_residual.sublayer_input(middle, &cache.ff_residual);
        let c = self.ff_in.out_features();
        cache.pre_activation.resize(rows * c, 0.0);
        self.ff_in.forward(params, x, rows, &mut cache.pre_activation)?;
        cache.hidden.resize(rows * c, 0.0);
        self.activation.forward(&cache.pre_activation, &mut cache.hidden);
        self.ff_dropout.forward_in_place(&mut cache.hidden, train_seed, &mut cache.hidden_mask);
        cache.transformed.resize(input.len(), 0.0);
        self.ff_out.forward(params, &cache.hidden, rows, &mut cache.transformed)?;
        self.dropout_ffn.forward_in_place(&mut cache.transformed, train_seed, &mut cache.ffn_mask);
        self.ff_residual.leave(params, middle, &cache.transformed, rows, training, &mut cache.ff_residual)
    }

    /// Writes the gradient of `input` into `d_input`; `d_scores` carries the residual-attention score gradients
    /// (see [`ScoreGradients`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn backward(
        &self,
        params: &ParamStore,
        input: &[f32],
        cache: &mut EncoderLayerCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        d_input: &mut [f32],
        d_scores: ScoreGradients<'_>,
    ) -> Result<(), NnError> {
        let rows = cache.rows;
        self.ff_residual.backward_sum(params, &mut cache.ff_residual, d_output, grads)?;
        cache.d_branch.clear();
        cache.d_branch.extend_from_slice(&cache.ff_residual.d_sum);
        self.dropout_ffn.backward_in_place(&mut cache.d_branch, &cache.ffn_mask)?;
        cache.d_hidden.resize(cache.hidden.len(), 0.0);
        self.ff_out.backward(params, &cache.hidden, &cache.d_branch, rows, grads, Some(&mut cache.d_hidden))?;
        self.ff_dropout.backward_in_place(&mut cache.d_hidden, &cache.hidden_mask)?;
        self.activation.backward_in_place(&mut cache.d_hidden, &cache.pre_activation);
        let middle = self.attn_residual.output(&cache.attn_residual);
        let x = self.ff_residual.sublayer_input(middle, &cache.ff_residual);
        cache.d_middle.resize(input.len(), 0.0);
        self.ff_in.backward(params, x, &cache.d_hidden, rows, grads, Some(&mut cache.d_middle))?;
        self.ff_residual.backward_input(params, &mut cache.ff_residual, &mut cache.d_middle, grads, &mut cache.d_scratch)?;

        self.attn_residual.backward_sum(params, &mut cache.attn_residual, &cache.d_middle, grads)?;
        cache.d_branch.clear();
        cache.d_branch.extend_from_slice(&cache.attn_residual.d_sum);
        self.dropout_attn.backward_in_place(&mut cache.d_branch, &cache.attn_mask)?;
        self.proj_dropout.backward_in_place(&mut cache.d_branch, &cache.proj_mask)?;
        let x = self.attn_residual.sublayer_input(input, &cache.attn_residual);
        cache.d_keys_values.resize(input.len(), 0.0);
        let gradients = InputGradients { queries: d_input, keys_values: &mut cache.d_keys_values, scores: d_scores };
        self.attention.backward_with_scores(params, x, x, &mut cache.attention, &cache.d_branch, grads, gradients)?;
        d_input.iter_mut().zip(&cache.d_keys_values).for_each(|(d, k)| *d += k);
        self.attn_residual.backward_input(params, &mut cache.attn_residual, d_input, grads, &mut cache.d_scratch)
    }

    /// Folds the batch statistics of the training pass in `cache` into both norms' running statistics.
    pub(super) fn update_running_statistics(&self, params: &mut ParamStore, cache: &EncoderLayerCache) -> Result<(), NnError> {
        self.attn_residual.update_running_statistics(params, &cache.attn_residual)?;
        self.ff_residual.update_running_statistics(params, &cache.ff_residual)
    }
}
