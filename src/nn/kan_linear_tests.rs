//! Tests of KANLinear: torch's names and shapes, the B-spline bases against torch's, the spline initialisation, gradients.

use super::*;
use crate::nn::gradcheck::{check_input_grads, check_param_grads, random_vec, seeded_layer, weighted_sum};

const OPTIONS: KanOptions = KanOptions { grid_size: 5, spline_order: 3, scale_noise: 0.1, scale_base: 1.0, scale_spline: 1.0, grid_range: [-1.0, 1.0] };

fn layer(in_features: usize, out_features: usize) -> (KanLinear, ParamStore) {
    seeded_layer(4, "layers.0", |init| KanLinear::new(init, in_features, out_features, OPTIONS, 9))
}

#[test]
fn names_shapes_and_count_follow_the_torch_state_dict() {
    // kan.py: base_weight [out, in], spline_weight [out, in, grid_size + spline_order], spline_scaler [out, in].
    let (_, params) = layer(24, 512);
    let shapes: Vec<(&str, Vec<usize>)> = params.iter().map(|(n, t)| (n, t.shape.clone())).collect();
    assert_eq!(
        shapes,
        [("layers.0.base_weight", vec![512, 24]), ("layers.0.spline_weight", vec![512, 24, 8]), ("layers.0.spline_scaler", vec![512, 24])]
    );
    assert_eq!(params.num_parameters() as u128, KanLinear::parameter_count(24, 512, &OPTIONS));
}

#[test]
fn the_bases_partition_unity_inside_the_grid_and_vanish_outside() {
    let knots = OPTIONS.knots();
    assert_eq!(knots.len(), 5 + 2 * 3 + 1);
    assert!((knots[3] + 1.0).abs() < 1e-6 && (knots[8] - 1.0).abs() < 1e-6);
    let mut bases = Vec::new();
    for x in [-1.0, -0.73, 0.0, 0.41, 0.999] {
        b_splines(&knots, 3, x, &mut bases, None);
        assert_eq!(bases.len(), 8);
        assert!((bases.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{x}: {bases:?}");
        assert!(bases.iter().all(|&b| b >= 0.0));
    }
    b_splines(&knots, 3, 3.0, &mut bases, None);
    assert!(bases.iter().all(|&b| b == 0.0));
    // torch: KANLinear(24, 512).b_splines at -0.73 and 0.41 (NeuralForecast 3.3, printed to 4 decimals).
    for (x, expected) in [(-0.73, [0.0057, 0.3648, 0.5782, 0.0513, 0.0, 0.0, 0.0, 0.0]), (0.41, [0.0, 0.0, 0.0, 0.0179, 0.4634, 0.4946, 0.0241, 0.0])] {
        b_splines(&knots, 3, x, &mut bases, None);
        assert!(bases.iter().zip(expected).all(|(b, e)| (b - e).abs() < 1e-4), "{x}: {bases:?}");
    }
}

#[test]
fn the_spline_initialisation_solves_the_least_squares_system_exactly() {
    // A P = I: the minimum-norm coefficients reproduce any noise at the grid points.
    let knots = OPTIONS.knots();
    let (points, c) = (6, 8);
    let mut a = vec![0.0f64; points * c];
    let mut bases = Vec::new();
    for p in 0..points {
        b_splines(&knots, 3, knots[3 + p], &mut bases, None);
        a[p * c..(p + 1) * c].iter_mut().zip(&bases).for_each(|(a, &b)| *a = b as f64);
    }
    let pinv = min_norm_pseudo_inverse(&a, points, c);
    for r in 0..points {
        for q in 0..points {
            let v: f64 = (0..c).map(|k| a[r * c + k] * pinv[k * points + q]).sum();
            assert!((v - if r == q { 1.0 } else { 0.0 }).abs() < 1e-9, "{r} {q} {v}");
        }
    }
    // kan.py's noise is (U - 1/2) 0.1 / 5; torch's KANLinear(24, 512) has spline weights of std 0.0088, at most 0.027.
    let (_, params) = layer(24, 512);
    let spline = &params.find("layers.0.spline_weight").unwrap().data;
    let std = (spline.iter().map(|w| w * w).sum::<f32>() / spline.len() as f32).sqrt();
    assert!((0.0080..0.0097).contains(&std), "{std}");
    assert!(spline.iter().all(|w| w.abs() < 0.035));
}

#[test]
fn gradients_match_finite_differences() {
    let (layer, mut params) = layer(4, 3);
    let rows = 5;
    // Inputs inside and outside the grid range.
    let input: Vec<f32> = random_vec(rows * 4, 11).iter().map(|v| 1.6 * v).collect();
    let weights = random_vec(rows * 3, 12);
    let objective = |params: &ParamStore, input: &[f32]| {
        let mut cache = KanLinearCache::default();
        weighted_sum(layer.forward(params, input, rows, &mut cache).unwrap(), &weights)
    };
    let mut cache = KanLinearCache::default();
    layer.forward(&params, &input, rows, &mut cache).unwrap();
    let mut grads = params.zeros_like();
    let mut d_input = vec![0.0; input.len()];
    layer.backward(&params, &mut cache, &weights, &mut grads, Some(&mut d_input)).unwrap();
    check_input_grads(&input, &d_input, usize::MAX, |x| objective(&params, x));
    check_param_grads(&mut params, &grads, 12, |p| objective(p, &input));
}
