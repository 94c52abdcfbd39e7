//! Tests of the GLU and the gated residual network: finite-difference gradients of inputs, context and parameters.

use super::*;
use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

fn grn(sizes: GrnSizes, activation: ActivationKind, dropout: f32) -> (Grn, ParamStore) {
    seeded_layer(5, "enrichment_grn", |init| Grn::new(init, sizes, activation, Dropout::new(dropout, 3)?))
}

/// Checks d input, d context and every parameter of `net` on `rows` rows (with `contexts` context rows).
fn check(net: &Grn, params: &mut ParamStore, rows: usize, contexts: Option<usize>, seed: Option<u64>) {
    let hidden = net.hidden;
    let input = random_vec(rows * net.in_features(), 1);
    let context = contexts.map(|c| random_vec(c * hidden, 2));
    let weights = random_vec(rows * net.out_features(), 3);
    let objective = |params: &ParamStore, input: &[f32], context: Option<&[f32]>| {
        let mut cache = GrnCache::default();
        weighted_sum(net.forward(params, input, rows, context, seed, &mut cache).unwrap(), &weights)
    };
    let mut cache = GrnCache::default();
    net.forward(params, &input, rows, context.as_deref(), seed, &mut cache).unwrap();
    let mut grads = params.zeros_like();
    let mut d_input = vec![0.0; input.len()];
    let mut d_context = vec![0.0; context.as_ref().map_or(0, Vec::len)];
    let d_ctx = context.as_ref().map(|_| d_context.as_mut_slice());
    net.backward(params, &input, context.as_deref(), &mut cache, &weights, &mut grads, Some(&mut d_input), d_ctx).unwrap();
    check_input_grads(&input, &d_input, 40, |x| objective(params, x, context.as_deref()));
    if let Some(context) = &context {
        check_input_grads(context, &d_context, 40, |c| objective(params, &input, Some(c)));
    }
    if contexts.is_none() && net.lin_c.is_some() {
        // A context layer run without context gets no gradient (tft.py's static VSN).
        let lin_c = grads.iter().find(|(n, _)| n.ends_with("lin_c.weight")).unwrap().1;
        assert!(lin_c.data.iter().all(|&g| g == 0.0));
    }
    check_param_grads(params, &grads, 12, |p| objective(p, &input, context.as_deref()));
}

#[test]
fn names_and_counts_are_tfts() {
    let (_, params) = grn(GrnSizes { input: 6, hidden: 4, output: Some(3), context: true }, ActivationKind::Elu, 0.0);
    let names: Vec<String> = params.iter().map(|(n, t)| format!("{n} {:?}", t.shape)).collect();
    assert_eq!(names, [
        "enrichment_grn.layer_norm.ln.weight [3]", "enrichment_grn.layer_norm.ln.bias [3]",
        "enrichment_grn.lin_a.weight [4, 6]", "enrichment_grn.lin_a.bias [4]", "enrichment_grn.lin_c.weight [4, 4]",
        "enrichment_grn.lin_i.weight [4, 4]", "enrichment_grn.lin_i.bias [4]", "enrichment_grn.glu.lin.weight [6, 4]",
        "enrichment_grn.glu.lin.bias [6]", "enrichment_grn.out_proj.weight [3, 6]", "enrichment_grn.out_proj.bias [3]",
    ]);
    // One output: MaybeLayerNorm is the identity; no output size: the skip is the input itself.
    let (_, params) = grn(GrnSizes { input: 8, hidden: 4, output: Some(1), context: false }, ActivationKind::Elu, 0.0);
    assert!(params.iter().all(|(n, _)| !n.contains("layer_norm")));
    let (_, params) = grn(GrnSizes { input: 4, hidden: 4, output: None, context: false }, ActivationKind::Elu, 0.0);
    assert!(params.iter().all(|(n, _)| !n.contains("out_proj")));
    assert_eq!(params.num_parameters(), 2 * 4 + 2 * (4 * 4 + 4) + 8 * 4 + 8);
}

#[test]
fn gradients_with_context_output_size_and_dropout() {
    for activation in ActivationKind::GRN {
        let (net, mut params) = grn(GrnSizes { input: 6, hidden: 5, output: Some(3), context: true }, activation, 0.0);
        check(&net, &mut params, 6, Some(2), None);
    }
    let (net, mut params) = grn(GrnSizes { input: 5, hidden: 5, output: None, context: true }, ActivationKind::Elu, 0.3);
    check(&net, &mut params, 4, Some(4), Some(7));
}

#[test]
fn gradients_without_context_and_with_one_output() {
    let (net, mut params) = grn(GrnSizes { input: 8, hidden: 4, output: Some(1), context: true }, ActivationKind::Elu, 0.0);
    check(&net, &mut params, 3, None, None);
    let (net, mut params) = grn(GrnSizes { input: 4, hidden: 4, output: None, context: false }, ActivationKind::Relu, 0.2);
    check(&net, &mut params, 5, None, Some(3));
}

#[test]
fn glu_matches_torch() {
    // torch: F.glu(torch.tensor([1.5, -2.0, 0.3, 0.7])) = [1.5 * sigmoid(0.3), -2.0 * sigmoid(0.7)].
    let (glu, mut params) = seeded_layer(1, "input_gate", |init| Glu::new(init, 2, 2));
    for (name, tensor) in params.iter_mut() {
        tensor.data = if name.ends_with("weight") { vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0] } else { vec![0.0, 0.0, 0.3, 0.7] };
    }
    let mut cache = GluCache::default();
    let y = glu.forward(&params, &[1.5, -2.0], 1, &mut cache).unwrap();
    assert!((y[0] - 0.861_663_8).abs() < 1e-6 && (y[1] - -1.336_375_5).abs() < 1e-6, "{y:?}");
}

#[test]
fn rejects_context_it_cannot_use() {
    let (net, params) = grn(GrnSizes { input: 4, hidden: 4, output: None, context: false }, ActivationKind::Elu, 0.0);
    assert!(net.forward(&params, &[0.0; 8], 2, Some(&[0.0; 4]), None, &mut GrnCache::default()).is_err());
    let (net, params) = grn(GrnSizes { input: 4, hidden: 4, output: None, context: true }, ActivationKind::Elu, 0.0);
    assert!(net.forward(&params, &[0.0; 12], 3, Some(&[0.0; 8]), None, &mut GrnCache::default()).is_err());
}
