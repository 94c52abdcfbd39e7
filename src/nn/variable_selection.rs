//! tft.py's `VariableSelectionNetwork`: `n` embedded variables `[rows, n, hidden]` are weighted by
//! `softmax(joint_grn(all n embeddings, context))` (one weight per variable and row) and summed after each
//! passes through its own GRN (`var_grns.i`). The same layer serves the static inputs (one row per window, no
//! context) and the temporal ones (a row per window and step, the static context broadcast over the steps).
//! The softmax weights are the variable importances TFT reports.

use super::activation::ActivationKind;
use super::attention::{softmax_backward_in_place, softmax_in_place};
use super::error::{expect_len, NnError};
use super::grn::{DropoutStreams, Grn, GrnCache, GrnSizes};
use super::params::{ParamInit, ParamStore};

#[derive(Debug, Clone)]
pub struct VariableSelection {
    joint_grn: Grn,
    var_grns: Vec<Grn>,
    hidden: usize,
}

#[derive(Debug, Clone, Default)]
pub struct VariableSelectionCache {
    rows: usize,
    joint: GrnCache,
    /// The softmax weights `[rows, n]`.
    weights: Vec<f32>,
    /// Each variable's embeddings `[rows, hidden]` and its GRN's pass.
    var_inputs: Vec<Vec<f32>>,
    vars: Vec<GrnCache>,
    output: Vec<f32>,
    d_weights: Vec<f32>,
    d_var_output: Vec<f32>,
    d_var_input: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(VariableSelectionCache { rows, joint, weights, var_inputs, vars, output, d_weights, d_var_output, d_var_input });

impl VariableSelection {
    /// Creates `joint_grn` (input `n hidden`, output `n`, a context layer, no dropout) and `var_grns.{0..n}`
    /// (dropout from `dropouts`), activation `activation`.
    pub fn new(init: &mut ParamInit<'_>, hidden: usize, inputs: usize, activation: ActivationKind, dropouts: &mut DropoutStreams) -> Result<Self, NnError> {
        crate::nn::error::nonzero("variable selection inputs", inputs)?;
        let joint_sizes = GrnSizes { input: hidden * inputs, hidden, output: Some(inputs), context: true };
        let joint_grn = Grn::new(&mut init.pp("joint_grn"), joint_sizes, activation, dropouts.with_p(0.0)?)?;
        let var_sizes = GrnSizes { input: hidden, hidden, output: None, context: false };
        let var_grns = (0..inputs)
            .map(|i| Grn::new(&mut init.pp(format!("var_grns.{i}")), var_sizes, activation, dropouts.next()?))
            .collect::<Result<_, _>>()?;
        Ok(VariableSelection { joint_grn, var_grns, hidden })
    }

    pub fn inputs(&self) -> usize {
        self.var_grns.len()
    }

    /// The softmax weights `[rows, n]` of the pass in `cache`.
    pub fn weights<'c>(&self, cache: &'c VariableSelectionCache) -> &'c [f32] {
        &cache.weights
    }

    /// `[rows, hidden]` from `input` `[rows, n, hidden]` and the optional `context` (see [`Grn::forward`]).
    pub fn forward<'c>(
        &self,
        params: &ParamStore,
        input: &[f32],
        rows: usize,
        context: Option<&[f32]>,
        train_seed: Option<u64>,
        cache: &'c mut VariableSelectionCache,
    ) -> Result<&'c [f32], NnError> {
        let (n, hidden) = (self.inputs(), self.hidden);
        expect_len("variable selection input", rows * n * hidden, input.len())?;
        cache.rows = rows;
        let joint = self.joint_grn.forward(params, input, rows, context, train_seed, &mut cache.joint)?;
        cache.weights.clear();
        cache.weights.extend_from_slice(joint);
        cache.weights.chunks_exact_mut(n).for_each(|row| softmax_in_place(row, 1.0));
        cache.var_inputs.resize_with(n, Vec::new);
        cache.vars.resize_with(n, GrnCache::default);
        cache.output.clear();
        cache.output.resize(rows * hidden, 0.0);
        for (i, grn) in self.var_grns.iter().enumerate() {
            let var_input = &mut cache.var_inputs[i];
            var_input.clear();
            input.chunks_exact(n * hidden).for_each(|row| var_input.extend_from_slice(&row[i * hidden..(i + 1) * hidden]));
            let embedded = grn.forward(params, var_input, rows, None, train_seed, &mut cache.vars[i])?;
            for ((out, e), w) in cache.output.chunks_exact_mut(hidden).zip(embedded.chunks_exact(hidden)).zip(cache.weights.chunks_exact(n)) {
                out.iter_mut().zip(e).for_each(|(o, e)| *o += w[i] * e);
            }
        }
        Ok(&cache.output)
    }

    /// Backpropagates `d_output` `[rows, hidden]`: accumulates into `grads`, writes d input and d context into
    /// those given.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        params: &ParamStore,
        input: &[f32],
        context: Option<&[f32]>,
        cache: &mut VariableSelectionCache,
        d_output: &[f32],
        grads: &mut ParamStore,
        mut d_input: Option<&mut [f32]>,
        d_context: Option<&mut [f32]>,
    ) -> Result<(), NnError> {
        let (n, hidden, rows) = (self.inputs(), self.hidden, cache.rows);
        expect_len("variable selection output gradient", rows * hidden, d_output.len())?;
        cache.d_weights.resize(rows * n, 0.0);
        for (i, grn) in self.var_grns.iter().enumerate() {
            let embedded = grn.output(&cache.vars[i]);
            for ((d_out, e), d_w) in d_output.chunks_exact(hidden).zip(embedded.chunks_exact(hidden)).zip(cache.d_weights.chunks_exact_mut(n)) {
                d_w[i] = d_out.iter().zip(e).map(|(d, e)| d * e).sum();
            }
        }
        cache.d_weights.chunks_exact_mut(n).zip(cache.weights.chunks_exact(n)).for_each(|(d, p)| softmax_backward_in_place(d, p, 1.0));
        // The joint GRN writes d input; each variable's GRN then adds its part.
        self.joint_grn.backward(params, input, context, &mut cache.joint, &cache.d_weights, grads, d_input.as_deref_mut(), d_context)?;
        for (i, grn) in self.var_grns.iter().enumerate() {
            cache.d_var_output.clear();
            for (d_out, w) in d_output.chunks_exact(hidden).zip(cache.weights.chunks_exact(n)) {
                cache.d_var_output.extend(d_out.iter().map(|d| d * w[i]));
            }
            let d_var_input = match d_input.is_some() {
                true => {
                    cache.d_var_input.resize(rows * hidden, 0.0);
                    Some(cache.d_var_input.as_mut_slice())
                }
                false => None,
            };
            grn.backward(params, &cache.var_inputs[i], None, &mut cache.vars[i], &cache.d_var_output, grads, d_var_input, None)?;
            if let Some(d_input) = d_input.as_deref_mut() {
                scatter_add(d_input, &cache.d_var_input, i, n, hidden);
            }
        }
        Ok(())
    }
}

/// Adds `d_var` `[rows, hidden]` into variable `i`'s columns of `d_input` `[rows, n, hidden]`.
fn scatter_add(d_input: &mut [f32], d_var: &[f32], i: usize, n: usize, hidden: usize) {
    for (d_row, d) in d_input.chunks_exact_mut(n * hidden).zip(d_var.chunks_exact(hidden)) {
        d_row[i * hidden..(i + 1) * hidden].iter_mut().zip(d).for_each(|(a, b)| *a += b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

    fn vsn(hidden: usize, inputs: usize, dropout: f32) -> (VariableSelection, ParamStore) {
        seeded_layer(4, "history_vsn", |init| VariableSelection::new(init, hidden, inputs, ActivationKind::Elu, &mut DropoutStreams::new(dropout)))
    }

    fn check(inputs: usize, rows: usize, contexts: Option<usize>, dropout: f32) {
        let hidden = 4;
        let (net, mut params) = vsn(hidden, inputs, dropout);
        let seed = (dropout > 0.0).then_some(11);
        let input: Vec<f32> = random_vec(rows * inputs * hidden, 1).iter().map(|v| 2.0 * v).collect();
        let context = contexts.map(|c| random_vec(c * hidden, 2));
        let weights = random_vec(rows * hidden, 3);
        let objective = |params: &ParamStore, input: &[f32], context: Option<&[f32]>| {
            weighted_sum(net.forward(params, input, rows, context, seed, &mut VariableSelectionCache::default()).unwrap(), &weights)
        };
        let mut cache = VariableSelectionCache::default();
        net.forward(&params, &input, rows, context.as_deref(), seed, &mut cache).unwrap();
        for row in net.weights(&cache).chunks_exact(inputs) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        let mut grads = params.zeros_like();
        let mut d_input = vec![0.0; input.len()];
        let mut d_context = vec![0.0; context.as_ref().map_or(0, Vec::len)];
        let d_ctx = context.as_ref().map(|_| d_context.as_mut_slice());
        net.backward(&params, &input, context.as_deref(), &mut cache, &weights, &mut grads, Some(&mut d_input), d_ctx).unwrap();
        check_input_grads(&input, &d_input, 60, |x| objective(&params, x, context.as_deref()));
        if let Some(context) = &context {
            check_input_grads(context, &d_context, 40, |c| objective(&params, &input, Some(c)));
        }
        check_param_grads(&mut params, &grads, 8, |p| objective(p, &input, context.as_deref()));
    }

    #[test]
    fn temporal_selection_with_context_matches_finite_differences() {
        check(3, 6, Some(2), 0.0);
        check(3, 6, Some(3), 0.25);
    }

    #[test]
    fn static_and_single_variable_selection_match_finite_differences() {
        check(2, 3, None, 0.0);
        // One variable: its weight is always 1, and the joint GRN has no LayerNorm (tft.py's MaybeLayerNorm).
        check(1, 4, Some(2), 0.0);
    }

    #[test]
    fn parameter_names_follow_tft() {
        let (_, params) = vsn(4, 2, 0.1);
        let names: Vec<&str> = params.iter().map(|(n, _)| n).collect();
        assert_eq!(names.first(), Some(&"history_vsn.joint_grn.layer_norm.ln.weight"));
        assert!(names.contains(&"history_vsn.joint_grn.lin_c.weight") && names.contains(&"history_vsn.var_grns.1.glu.lin.bias"));
        assert_eq!(names.last(), Some(&"history_vsn.var_grns.1.glu.lin.bias"));
    }
}
