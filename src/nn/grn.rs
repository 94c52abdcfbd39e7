//! tft.py's `GLU` and `GRN` (the gated residual network of the Temporal Fusion Transformer):
//! - `GLU`: `lin` (`Linear(in, 2 out)`), then `F.glu`: the first half times the sigmoid of the second;
//! - `GRN(a, c)`: `x = act(lin_a(a) + lin_c(c))` (`lin_c` without bias, its `[rows_per_context]`-fold broadcast
//!   of one context row over a window's time steps as torch's `unsqueeze(1)`), `x = glu(dropout(lin_i(x)))`, plus
//!   the skip `a` (or `out_proj(a)` when an `output_size` is given), then `MaybeLayerNorm` (eps 1e-3, the
//!   identity for an output of one value).
//!
//! A GRN built with a context layer may still run without context (the static VSN's joint GRN, as tft.py): its
//! `lin_c` then gets no gradient.

use super::activation::{Activation, ActivationKind};
use super::dropout::Dropout;
use super::error::{expect_len, NnError};
use super::glu_gate::{glu_backward, glu_forward, GluBackward, GluForward};
use super::layer_norm::{LayerNorm, LayerNormCache};
use super::params::{ParamInit, ParamStore};
use super::Linear;

/// TFT's LayerNorm epsilon (every `LayerNorm(..., eps=1e-3)` of tft.py).
pub const TFT_LAYER_NORM_EPS: f32 = 1e-3;

/// Hands out the dropout layers of a model, each with its own stream, all with the same probability.
#[derive(Debug, Clone)]
pub struct DropoutStreams {
    p: f32,
    next: u64,
}

impl DropoutStreams {
    pub fn new(p: f32) -> Self {
        DropoutStreams { p, next: 0 }
    }

    /// A dropout layer of probability `p` on a stream no earlier call got.
    pub fn with_p(&mut self, p: f32) -> Result<Dropout, NnError> {
        self.next += 1;
        Dropout::new(p, self.next)
    }

    /// A dropout layer of the model's probability on a new stream.
    pub fn next(&mut self) -> Result<Dropout, NnError> {
        self.with_p(self.p)
    }
}

#[derive(Debug, Clone)]
pub struct Glu {
    lin: Linear,
    out: usize,
}

#[derive(Debug, Clone, Default)]
pub struct GluCache {
    /// `lin`'s output `[rows, 2 out]`.
    projected: Vec<f32>,
    output: Vec<f32>,
    d_projected: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(GluCache { projected, output, d_projected });

impl Glu {
    /// Creates `<prefix>.lin.{weight,bias}`.
    pub fn new(init: &mut ParamInit<'_>, in_features: usize, out_features: usize) -> Result<Self, NnError> {
        Ok(Glu { lin: Linear::new(&mut init.pp("lin"), in_features, 2 * out_features)?, out: out_features })
    }

    /// `[rows, out]` from `input` `[rows, in]`.
    pub fn forward<'c>(&self, params: &ParamStore, input: &[f32], rows: usize, cache: &'c mut GluCache) -> Result<&'c [f32], NnError> {
        let out = self.out;
        cache.projected.resize(rows * 2 * out, 0.0);
        self.lin.forward(params, input, rows, &mut cache.projected)?;
        cache.output.resize(rows * out, 0.0);
        glu_forward(GluForward { out, projected: &cache.projected, y: &mut cache.output });
        Ok(&cache.output)
    }

    /// Accumulates `lin`'s gradients and writes d input into `d_input` if given.
    pub fn backward(
        &self,
        params: &ParamStore,
        input: &[f32],
        cache: &mut GluCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        d_input: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        let out = self.out;
        expect_len("GLU output gradient", cache.output.len(), d_output.len())?;
        cache.d_projected.resize(cache.projected.len(), 0.0);
        let rows = cache.output.len() / out;
        glu_backward(GluBackward { out, projected: &cache.projected, dy: d_output, d_projected: &mut cache.d_projected });
        self.lin.backward(params, input, &cache.d_projected, rows, grads, d_input)
    }
}

/// tft.py's `GRN`.
#[derive(Debug, Clone)]
pub struct Grn {
    layer_norm: Option<LayerNorm>,
    lin_a: Linear,
    lin_c: Option<Linear>,
    lin_i: Linear,
    glu: Glu,
    dropout: Dropout,
    out_proj: Option<Linear>,
    activation: Activation,
    hidden: usize,
    output: usize,
}

/// The sizes of a [`Grn`]: tft.py's `input_size`, `hidden_size`, `output_size` (None: `hidden_size`, with the
/// input as the skip) and whether it has a context layer (`context_hidden_size`, always `hidden_size` in TFT).
#[derive(Debug, Clone, Copy)]
pub struct GrnSizes {
    pub input: usize,
    pub hidden: usize,
    pub output: Option<usize>,
    pub context: bool,
}

#[derive(Debug, Clone, Default)]
pub struct GrnCache {
    rows: usize,
    /// `lin_a(a) + lin_c(c)` and its activation, `[rows, hidden]`.
    pre: Vec<f32>,
    activated: Vec<f32>,
    /// `lin_c(c)` `[context rows, hidden]`.
    context_projected: Vec<f32>,
    /// `dropout(lin_i(x))`, the GLU's input.
    gated_input: Vec<f32>,
    mask: Vec<f32>,
    glu: GluCache,
    /// GLU output plus skip `[rows, output]`; the output itself when there is no LayerNorm.
    sum: Vec<f32>,
    norm: LayerNormCache,
    output: Vec<f32>,
    d_sum: Vec<f32>,
    d_gated: Vec<f32>,
    d_activated: Vec<f32>,
    d_context_projected: Vec<f32>,
    d_skip: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(GrnCache {
    rows, pre, activated, context_projected, gated_input, mask, glu, sum, norm, output, d_sum, d_gated, d_activated,
    d_context_projected, d_skip
});

impl Grn {
    /// Creates, under the prefix, `layer_norm.ln` (unless the output is one value), `lin_a`, `lin_c` (with
    /// context), `lin_i`, `glu.lin` and `out_proj` (with an output size), in tft.py's order.
    pub fn new(init: &mut ParamInit<'_>, sizes: GrnSizes, activation: ActivationKind, dropout: Dropout) -> Result<Self, NnError> {
        let GrnSizes { input, hidden, output, context } = sizes;
        let out = output.unwrap_or(hidden);
        let layer_norm = if out == 1 { None } else { Some(LayerNorm::with_eps(&mut init.pp("layer_norm.ln"), out, TFT_LAYER_NORM_EPS)?) };
        let lin_a = Linear::new(&mut init.pp("lin_a"), input, hidden)?;
        let lin_c = if context { Some(Linear::without_bias(&mut init.pp("lin_c"), hidden, hidden)?) } else { None };
        let lin_i = Linear::new(&mut init.pp("lin_i"), hidden, hidden)?;
        let glu = Glu::new(&mut init.pp("glu"), hidden, out)?;
        let out_proj = match output {
            Some(o) => Some(Linear::new(&mut init.pp("out_proj"), input, o)?),
            None => None,
        };
        let activation = Activation::new(init, activation)?;
        Ok(Grn { layer_norm, lin_a, lin_c, lin_i, glu, dropout, out_proj, activation, hidden, output: out })
    }

    pub fn in_features(&self) -> usize {
        self.lin_a.in_features()
    }

    pub fn out_features(&self) -> usize {
        self.output
    }

    pub fn output<'c>(&self, cache: &'c GrnCache) -> &'c [f32] {
        if self.layer_norm.is_some() { &cache.output } else { &cache.sum }
    }

    /// `[rows, output]` from `input` `[rows, in]` and, for a GRN with a context layer, `context` `[C, hidden]`
    /// whose row `r / (rows / C)` enriches row `r`.
    pub fn forward<'c>(
        &self,
        params: &ParamStore,
        input: &[f32],
        rows: usize,
        context: Option<&[f32]>,
        train_seed: Option<u64>,
        cache: &'c mut GrnCache,
    ) -> Result<&'c [f32], NnError> {
        let (hidden, out) = (self.hidden, self.output);
        cache.rows = rows;
        cache.pre.resize(rows * hidden, 0.0);
        self.lin_a.forward(params, input, rows, &mut cache.pre)?;
        if let Some(context) = context {
            let lin_c = self.lin_c.as_ref().ok_or_else(|| NnError::InvalidValue { what: "GRN context", reason: "this GRN has no context layer".into() })?;
            let per_context = rows_per_context(rows, context.len(), hidden)?;
            cache.context_projected.resize(context.len(), 0.0);
            lin_c.forward(params, context, context.len() / hidden, &mut cache.context_projected)?;
            for (rows, c) in cache.pre.chunks_mut(per_context * hidden).zip(cache.context_projected.chunks_exact(hidden)) {
                rows.chunks_exact_mut(hidden).for_each(|row| row.iter_mut().zip(c).for_each(|(x, c)| *x += c));
            }
        }
        cache.activated.clear();
        cache.activated.extend_from_slice(&cache.pre);
        self.activation.forward_in_place(params, &mut cache.activated);
        cache.gated_input.resize(rows * hidden, 0.0);
        self.lin_i.forward(params, &cache.activated, rows, &mut cache.gated_input)?;
        self.dropout.forward_in_place(&mut cache.gated_input, train_seed, &mut cache.mask);
        let gated = self.glu.forward(params, &cache.gated_input, rows, &mut cache.glu)?;
        cache.sum.resize(rows * out, 0.0);
        match &self.out_proj {
            Some(out_proj) => out_proj.forward(params, input, rows, &mut cache.sum)?,
            None => cache.sum.copy_from_slice(input),
        }
        cache.sum.iter_mut().zip(gated).for_each(|(s, g)| *s += g);
        if let Some(norm) = &self.layer_norm {
            cache.output.resize(rows * out, 0.0);
            norm.forward(params, &cache.sum, rows, &mut cache.output, &mut cache.norm)?;
            Ok(&cache.output)
        } else {
            Ok(&cache.sum)
        }
    }

    /// Backpropagates `d_output` through the pass in `cache` (run on `input` and `context`): accumulates into
    /// `grads` and writes d input and d context into those given.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        params: &ParamStore,
        input: &[f32],
        context: Option<&[f32]>,
        cache: &mut GrnCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        mut d_input: Option<&mut [f32]>,
        d_context: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        let (rows, hidden) = (cache.rows, self.hidden);
        expect_len("GRN output gradient", rows * self.output, d_output.len())?;
        cache.d_sum.resize(d_output.len(), 0.0);
        match &self.layer_norm {
            Some(norm) => norm.backward(params, &cache.norm, d_output, grads, &mut cache.d_sum)?,
            None => cache.d_sum.copy_from_slice(d_output),
        }
        cache.d_gated.resize(rows * hidden, 0.0);
        self.glu.backward(params, &cache.gated_input, &mut cache.glu, &cache.d_sum, grads, Some(&mut cache.d_gated))?;
        self.dropout.backward_in_place(&mut cache.d_gated, &cache.mask)?;
        cache.d_activated.resize(rows * hidden, 0.0);
        self.lin_i.backward(params, &cache.activated, &cache.d_gated, rows, grads, Some(&mut cache.d_activated))?;
        self.activation.backward_in_place(params, &mut cache.d_activated, &cache.activated, &cache.pre, grads)?;
        if let (Some(context), Some(lin_c)) = (context, &self.lin_c) {
            let per_context = rows_per_context(rows, context.len(), hidden)?;
            cache.d_context_projected.clear();
            cache.d_context_projected.resize(context.len(), 0.0);
            for (d_rows, d_c) in cache.d_activated.chunks(per_context * hidden).zip(cache.d_context_projected.chunks_exact_mut(hidden)) {
                d_rows.chunks_exact(hidden).for_each(|row| d_c.iter_mut().zip(row).for_each(|(d, r)| *d += r));
            }
            lin_c.backward(params, context, &cache.d_context_projected, context.len() / hidden, grads, d_context)?;
        }
        self.lin_a.backward(params, input, &cache.d_activated, rows, grads, d_input.as_deref_mut())?;
        match &self.out_proj {
            Some(out_proj) => {
                let d_skip = match d_input.is_some() {
                    true => {
                        cache.d_skip.resize(input.len(), 0.0);
                        Some(cache.d_skip.as_mut_slice())
                    }
                    false => None,
                };
                out_proj.backward(params, input, &cache.d_sum, rows, grads, d_skip)?;
                if let Some(d_input) = d_input {
                    d_input.iter_mut().zip(&cache.d_skip).for_each(|(d, s)| *d += s);
                }
            }
            None => {
                if let Some(d_input) = d_input {
                    d_input.iter_mut().zip(&cache.d_sum).for_each(|(d, s)| *d += s);
                }
            }
        }
        Ok(())
    }
}

/// Rows of the input each context row of `context_len` values enriches.
fn rows_per_context(rows: usize, context_len: usize, hidden: usize) -> Result<usize, NnError> {
    let contexts = context_len / hidden;
    if contexts == 0 || context_len % hidden != 0 || rows % contexts != 0 {
        return Err(NnError::InvalidValue { what: "GRN context", reason: format!("{context_len} values do not divide {rows} rows of width {hidden}") });
    }
    Ok(rows / contexts)
}

#[cfg(test)]
#[path = "grn_tests.rs"]
mod tests;
