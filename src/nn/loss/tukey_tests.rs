//! TukeyLoss against torch's values and gradients (the biweight written in torch float64 on `[2, 4]` tensors,
//! backward for the gradient), and a finite-difference gradient check.

use super::*;
use crate::nn::gradcheck::{check_input_grads, random_vec};

const TARGET: [f32; 8] = [0.5, -1.0, 2.0, 0.0, 1.5, 0.25, -0.75, 3.0];
const FORECAST: [f32; 8] = [0.52, -1.03, 2.5, 0.0, 1.49, 0.3, -0.7, 2.99];
const MASK: [f32; 8] = [1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0];

fn value_and_grad(loss: &Loss, mask: Option<&[f32]>) -> (f32, Vec<f32>) {
    let mut grad = vec![0.0; FORECAST.len()];
    let targets = LossTargets { windows: 2, ..LossTargets::without_insample(&TARGET, mask) };
    (loss.value_and_grad(&FORECAST, &targets, &mut grad).unwrap(), grad)
}

/// Our f32 inputs are torch's float64 ones rounded, so values agree to about 1e-6 relative.
fn assert_matches_torch(loss: Loss, mask: Option<&[f32]>, value: f64, grad: [f64; 8]) {
    let (actual, actual_grad) = value_and_grad(&loss, mask);
    let close = |a: f64, e: f64| (a - e).abs() <= 1e-5 * (1.0 + e.abs());
    assert!(close(actual as f64, value), "{loss:?}: value {actual} vs torch {value}");
    for (k, (&a, &e)) in actual_grad.iter().zip(&grad).enumerate() {
        assert!(close(a as f64, e), "{loss:?}: grad[{k}] {a} vs torch {e}");
    }
}

#[test]
fn values_and_gradients_equal_torch() {
    // TukeyLoss(): residuals over each window's target deviation (+ 0.01), all within c.
    let default_grad = [0.002094395083976517, -0.0031414727133073942, 0.05136694681631298, 0.0, -0.0006259635010576473, 0.003129474760276924, 0.0031294747602769275, -0.0006259635010576334];
    assert_matches_torch(Loss::tukey(4.685, true).unwrap(), None, 0.01319666448237244, default_grad);
    // Masked: masked points add 0 and do not enter their window's deviation.
    let masked_default_grad = [0.0016397406539131344, -0.0024595374796209514, 0.0403842620855889, 0.0, -0.0005195493575886151, 0.0, 0.0025975106703971015, -0.0005195493575886035];
    assert_matches_torch(Loss::tukey(4.685, true).unwrap(), Some(&MASK), 0.010295677475686446, masked_default_grad);
    let raw_grad = [
        0.0024995000250000025,
        -0.003748312689843753,
        0.054931640625,
        0.0,
        -0.0012499375007812511,
        0.0062421899414062485,
        0.0062421899414062555,
        -0.0012499375007812234,
    ];
    assert_matches_torch(Loss::tukey(2.0, false).unwrap(), None, 0.0150748218125586, raw_grad);
    // c = 0.5: the residual 0.5 of point 2 is beyond c, so it is saturated (gradient 0) unless normalized.
    let masked_grad = [0.002492006400000002, -0.003723048600000003, 0.0, 0.0, -0.0012490002000000013, 0.0, 0.006125625000000004, -0.0012490001999999735];
    assert_matches_torch(Loss::tukey(0.5, false).unwrap(), Some(&MASK), 0.005456528806666666, masked_grad);
    let normalized_grad = [0.0016363398972957656, -0.0024480675440911007, 0.0048536086466600655, 0.0, -0.0005193785821514843, 0.0, 0.0025762068182305932, -0.0005193785821514727];
    assert_matches_torch(Loss::tukey(0.5, true).unwrap(), Some(&MASK), 0.0051192094028165705, normalized_grad);
}

#[test]
fn gradient_matches_finite_differences() {
    // Residuals within c (the biweight's smooth range), masked and not, with and without `normalize` (the
    // deviation depends on the targets only).
    let target = random_vec(12, 5);
    let offsets = random_vec(12, 6);
    for (loss, step) in [(Loss::tukey(3.0, false).unwrap(), 1.0), (Loss::tukey(0.8, false).unwrap(), 0.5), (Loss::tukey(4.685, true).unwrap(), 1.0)] {
        let forecast: Vec<f32> = target.iter().zip(&offsets).map(|(y, o)| y + step * o).collect();
        for mask in [None, Some(&MASK[..]).map(|m| m.iter().chain(m).copied().take(12).collect::<Vec<f32>>())] {
            let targets = LossTargets { windows: 3, ..LossTargets::without_insample(&target, mask.as_deref()) };
            let mut grad = vec![0.0; forecast.len()];
            loss.value_and_grad(&forecast, &targets, &mut grad).unwrap();
            assert!(grad.iter().any(|&g| g != 0.0), "{loss:?}: every residual saturated");
            check_input_grads(&forecast, &grad, usize::MAX, |f| loss.value_and_grad(f, &targets, &mut vec![0.0; f.len()]).unwrap() as f64);
        }
    }
}

#[test]
fn threshold_must_be_positive_and_finite() {
    for c in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        let message = Loss::tukey(c, true).unwrap_err().to_string();
        assert!(message.contains("TukeyLoss c"), "{message}");
    }
}

#[test]
fn shard_shares_of_every_point_add_up_to_the_batch_loss() {
    // Weighted by their share of all points (masked ones too), two halves (one window each) give the whole batch's loss.
    let loss = Loss::tukey(2.0, false).unwrap();
    let (whole, whole_grad) = value_and_grad(&loss, Some(&MASK));
    let mut grad = vec![0.0; 8];
    let halves: LossSums = (0..2)
        .map(|k| {
            let range = k * 4..(k + 1) * 4;
            let half = LossTargets::without_insample(&TARGET[range.clone()], Some(&MASK[range.clone()]));
            loss.sums_and_grad(&FORECAST[range.clone()], &half, &mut grad[range]).unwrap().scaled(0.5)
        })
        .sum();
    assert!((loss.finish(halves).0 as f32 - whole).abs() < 1e-6);
    let halves_grad: Vec<f32> = grad.iter().map(|g| g * 0.5).collect();
    assert!(halves_grad.iter().zip(&whole_grad).all(|(a, b)| (a - b).abs() < 1e-7));
}
