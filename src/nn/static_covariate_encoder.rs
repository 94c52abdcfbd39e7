//! tft.py's `StaticCovariateEncoder`: the static variables' selection network (no context), then one GRN
//! (`context_grns`, ELU, tft.py's GRN default whatever `grn_activation`) per context vector: the variable
//! selection context `cs`, the enrichment context `ce`, and the LSTM's initial hidden and cell states, one per
//! layer (`ch`, `cc`; a single pair shared by every layer with `one_rnn_initial_state`).

use super::activation::ActivationKind;
use super::error::NnError;
use super::grn::{DropoutStreams, Grn, GrnCache, GrnSizes};
use super::params::{ParamInit, ParamStore};
use super::variable_selection::{VariableSelection, VariableSelectionCache};

#[derive(Debug, Clone)]
pub struct StaticCovariateEncoder {
    vsn: VariableSelection,
    /// `cs`, `ce`, then the `n_states` hidden-state GRNs, then the `n_states` cell-state ones.
    context_grns: Vec<Grn>,
    layers: usize,
    one_state: bool,
}

#[derive(Debug, Clone, Default)]
pub struct StaticCovariateCache {
    vsn: VariableSelectionCache,
    /// The selected static context `[B, hidden]`, every context GRN's input.
    selected: Vec<f32>,
    contexts: Vec<GrnCache>,
    /// `ch` and `cc` `[layers, B, hidden]`.
    state_h: Vec<f32>,
    state_c: Vec<f32>,
    d_selected: Vec<f32>,
    d_context_input: Vec<f32>,
    d_state: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(StaticCovariateCache { vsn, selected, contexts, state_h, state_c, d_selected, d_context_input, d_state });

/// The gradients of the encoder's outputs: `cs`, `ce` `[B, hidden]`, `ch`, `cc` `[layers, B, hidden]`.
pub struct StaticContextGrads<'a> {
    pub selection: &'a [f32],
    pub enrichment: &'a [f32],
    pub state_h: &'a [f32],
    pub state_c: &'a [f32],
}

impl StaticCovariateEncoder {
    /// Creates `vsn` and `context_grns.{0..}` for `inputs` static variables and an LSTM of `layers` layers.
    pub fn new(
        init: &mut ParamInit<'_>,
        hidden: usize,
        inputs: usize,
        activation: ActivationKind,
        layers: usize,
        one_state: bool,
        dropouts: &mut DropoutStreams,
    ) -> Result<Self, NnError> {
        let vsn = VariableSelection::new(&mut init.pp("vsn"), hidden, inputs, activation, dropouts)?;
        let n_states = if one_state { 1 } else { layers };
        let sizes = GrnSizes { input: hidden, hidden, output: None, context: false };
        let context_grns = (0..2 + 2 * n_states)
            .map(|i| Grn::new(&mut init.pp(format!("context_grns.{i}")), sizes, ActivationKind::Elu, dropouts.next()?))
            .collect::<Result<_, _>>()?;
        Ok(StaticCovariateEncoder { vsn, context_grns, layers, one_state })
    }

    fn n_states(&self) -> usize {
        if self.one_state { 1 } else { self.layers }
    }

    /// Index into `context_grns` of layer `k`'s hidden (`cell = false`) or cell state GRN.
    fn state_grn(&self, k: usize, cell: bool) -> usize {
        2 + usize::from(cell) * self.n_states() + if self.one_state { 0 } else { k }
    }

    pub fn variable_weights<'c>(&self, cache: &'c StaticCovariateCache) -> &'c [f32] {
        self.vsn.weights(&cache.vsn)
    }

    pub fn selection_context<'c>(&self, cache: &'c StaticCovariateCache) -> &'c [f32] {
        self.context_grns[0].output(&cache.contexts[0])
    }

    pub fn enrichment_context<'c>(&self, cache: &'c StaticCovariateCache) -> &'c [f32] {
        self.context_grns[1].output(&cache.contexts[1])
    }

    /// `ch` and `cc` `[layers, B, hidden]`.
    pub fn initial_states<'c>(&self, cache: &'c StaticCovariateCache) -> (&'c [f32], &'c [f32]) {
        (&cache.state_h, &cache.state_c)
    }

    /// Runs the encoder on the static embeddings `[B, n, hidden]`.
    pub fn forward(&self, params: &ParamStore, input: &[f32], batch: usize, train_seed: Option<u64>, cache: &mut StaticCovariateCache) -> Result<(), NnError> {
        let selected = self.vsn.forward(params, input, batch, None, train_seed, &mut cache.vsn)?;
        cache.selected.clear();
        cache.selected.extend_from_slice(selected);
        cache.contexts.resize_with(self.context_grns.len(), GrnCache::default);
        for (grn, grn_cache) in self.context_grns.iter().zip(&mut cache.contexts) {
            grn.forward(params, &cache.selected, batch, None, train_seed, grn_cache)?;
        }
        cache.state_h.clear();
        cache.state_c.clear();
        for k in 0..self.layers {
            let (h, c) = (self.state_grn(k, false), self.state_grn(k, true));
            cache.state_h.extend_from_slice(self.context_grns[h].output(&cache.contexts[h]));
            cache.state_c.extend_from_slice(self.context_grns[c].output(&cache.contexts[c]));
        }
        Ok(())
    }

    /// Backpropagates the contexts' gradients to the parameters and to d input `[B, n, hidden]`.
    pub fn backward(
        &self,
        params: &ParamStore,
        input: &[f32],
        cache: &mut StaticCovariateCache,
        d: StaticContextGrads<'_>,
        grads: &mut ParamStore,
        d_input: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        let block = cache.selected.len();
        cache.d_selected.clear();
        cache.d_selected.resize(block, 0.0);
        cache.d_context_input.resize(block, 0.0);
        for (i, grn) in self.context_grns.iter().enumerate() {
            // A shared state GRN gets the sum of every layer's gradient.
            cache.d_state.clear();
            cache.d_state.resize(block, 0.0);
            match i {
                0 => cache.d_state.copy_from_slice(d.selection),
                1 => cache.d_state.copy_from_slice(d.enrichment),
                _ => {
                    for k in 0..self.layers {
                        let from = if i == self.state_grn(k, false) { d.state_h } else if i == self.state_grn(k, true) { d.state_c } else { continue };
                        cache.d_state.iter_mut().zip(&from[k * block..(k + 1) * block]).for_each(|(a, b)| *a += b);
                    }
                }
            }
            grn.backward(params, &cache.selected, None, &mut cache.contexts[i], &cache.d_state, grads, Some(&mut cache.d_context_input), None)?;
            cache.d_selected.iter_mut().zip(&cache.d_context_input).for_each(|(a, b)| *a += b);
        }
        self.vsn.backward(params, input, None, &mut cache.vsn, &cache.d_selected, grads, d_input, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    fn check(layers: usize, one_state: bool) {
        let (hidden, inputs, batch) = (4, 2, 3);
        let (net, mut params) = seeded_layer(6, "static_encoder", |init| {
            StaticCovariateEncoder::new(init, hidden, inputs, ActivationKind::Elu, layers, one_state, &mut DropoutStreams::new(0.0))
        });
        assert_eq!(net.context_grns.len(), 2 + 2 * if one_state { 1 } else { layers });
        let input = random_vec(batch * inputs * hidden, 1);
        let block = batch * hidden;
        let w: Vec<Vec<f32>> = (0..4).map(|i| random_vec(if i < 2 { block } else { layers * block }, 10 + i as u64)).collect();
        let objective = |params: &ParamStore, x: &[f32]| {
            let mut cache = StaticCovariateCache::default();
            net.forward(params, x, batch, None, &mut cache).unwrap();
            let (h, c) = net.initial_states(&cache);
            weighted_sum(net.selection_context(&cache), &w[0]) + weighted_sum(net.enrichment_context(&cache), &w[1]) + weighted_sum(h, &w[2]) + weighted_sum(c, &w[3])
        };
        let mut cache = StaticCovariateCache::default();
        net.forward(&params, &input, batch, None, &mut cache).unwrap();
        let mut grads = params.zeros_like();
        let mut d_input = vec![0.0; input.len()];
        let d = StaticContextGrads { selection: &w[0], enrichment: &w[1], state_h: &w[2], state_c: &w[3] };
        net.backward(&params, &input, &mut cache, d, &mut grads, Some(&mut d_input)).unwrap();
        check_input_grads(&input, &d_input, usize::MAX, |x| objective(&params, x));
        check_param_grads(&mut params, &grads, 6, |p| objective(p, &input));
    }

    #[test]
    fn contexts_match_finite_differences() {
        check(1, false);
        check(2, false);
        check(2, true);
    }
}
