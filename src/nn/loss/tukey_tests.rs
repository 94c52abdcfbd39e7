//! TukeyLoss against torch's values and gradients (NeuralForecast 3.3's `TukeyLoss.__call__` in float64 on
//! `[2, 4, 1]` tensors, backward for the gradient), and a finite-difference gradient check.

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
    // TukeyLoss(): residuals over 0.01, so only those within 0.04685 stay in the biweight's range.
    let default_grad = [-16.718335297215823, 13.05210145454983, 0.0, 0.0, 11.386953693786507, 0.0, 0.0, 11.386953693786301];
    assert_matches_torch(Loss::tukey(4.685, true).unwrap(), None, 2.9682262340249084, default_grad);
    // Masked: the exact masked point adds 0, the masked point beyond c still adds 1 (c²/6 over 8 points).
    assert_matches_torch(Loss::tukey(4.685, true).unwrap(), Some(&MASK), 2.5109507131915754, default_grad);
    let raw_grad = [
        -0.0024995000250000025,
        0.003748312689843753,
        -0.054931640625,
        0.0,
        0.0012499375007812511,
        -0.0062421899414062485,
        -0.0062421899414062555,
        0.0012499375007812234,
    ];
    assert_matches_torch(Loss::tukey(2.0, false).unwrap(), None, 0.651591844854108, raw_grad);
    let masked_grad = [-0.002492006400000002, 0.003723048600000003, 0.0, 0.0, 0.0012490002000000013, 0.0, -0.006125625000000004, 0.0012490001999999735];
    assert_matches_torch(Loss::tukey(0.5, false).unwrap(), Some(&MASK), 0.025793471193333334, masked_grad);
}

#[test]
fn gradient_matches_finite_differences() {
    // Residuals within c (the biweight's smooth range), masked and not. `normalize` only divides the residuals
    // by 0.01, too steep for the check's step; torch's gradients above cover it.
    let target = random_vec(12, 5);
    let offsets = random_vec(12, 6);
    for (loss, step) in [(Loss::tukey(3.0, false).unwrap(), 1.0), (Loss::tukey(0.8, false).unwrap(), 0.5)] {
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
    // Weighted by their share of all points (masked ones too), two halves give the whole batch's loss.
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
