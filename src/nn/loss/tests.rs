//! Values against hand-computed NeuralForecast formulas, and finite-difference gradient checks, of every loss.

use super::*;
use crate::nn::gradcheck::{check_input_grads, random_vec};

fn all_losses() -> Vec<Loss> {
    vec![
        Loss::Mae,
        Loss::Mse,
        Loss::Rmse,
        Loss::Mape,
        Loss::Smape,
        Loss::mase(2).unwrap(),
        Loss::RelMse,
        Loss::huber(0.3).unwrap(),
        Loss::quantile(0.9).unwrap(),
        Loss::multi_quantile(vec![0.1, 0.5, 0.9]).unwrap(),
        Loss::huber_quantile(0.8, 0.3).unwrap(),
        Loss::huber_multi_quantile(vec![0.1, 0.5, 0.9], 0.3).unwrap(),
        Loss::implicit_quantile(8, 1.0, 1.0).unwrap(),
    ]
}

fn assert_close(actual: f32, expected: f64) {
    assert!((actual as f64 - expected).abs() < 1e-5, "{actual} vs {expected}");
}

fn assert_all_close(actual: &[f32], expected: &[f32]) {
    assert!(actual.iter().zip(expected).all(|(a, e)| (a - e).abs() < 1e-6), "{actual:?} vs {expected:?}");
}

/// The loss of `forecast` against `target` with no mask and no inputs, and its gradient.
fn value(loss: &Loss, forecast: &[f32], target: &[f32], grad: &mut [f32]) -> f32 {
    loss.value_and_grad(forecast, &LossTargets::without_insample(target, None), grad).unwrap()
}

#[test]
fn values_match_hand_computation() {
    let (target, forecast) = ([1.0, 2.0], [1.5, 0.0]);
    let mut grad = [0.0; 2];
    assert_close(value(&Loss::Mae, &forecast, &target, &mut grad), 1.25);
    assert_eq!(grad, [0.5, -0.5]);
    assert_close(value(&Loss::Mse, &forecast, &target, &mut grad), 2.125);
    // Huber(1): 0.5 * 0.25 and 1 * (2 - 0.5), averaged.
    assert_close(value(&Loss::huber(1.0).unwrap(), &forecast, &target, &mut grad), 0.8125);
    // q = 0.9: over-forecast by 0.5 costs 0.1 * 0.5, under-forecast by 2 costs 0.9 * 2.
    assert_close(value(&Loss::quantile(0.9).unwrap(), &forecast, &target, &mut grad), 0.925);
    assert_all_close(&grad, &[0.05, -0.45]);
}

#[test]
fn percentage_and_root_losses_match_neuralforecast() {
    let (target, forecast) = ([1.0, 2.0, 0.0], [1.5, 0.0, 0.0]);
    let mut grad = [0.0; 3];
    // RMSE: sqrt((0.25 + 4 + 0) / 3); its gradient 2 e / 3 / (2 RMSE).
    let rmse = (4.25f64 / 3.0).sqrt();
    assert_close(value(&Loss::Rmse, &forecast, &target, &mut grad), rmse);
    assert_all_close(&grad, &[(0.5 / 3.0 / rmse) as f32, (-2.0 / 3.0 / rmse) as f32, 0.0]);
    // MAPE: 0.5 / 1 and 2 / 2; the zero target divides to 0 (_divide_no_nan).
    assert_close(value(&Loss::Mape, &forecast, &target, &mut grad), 1.5 / 3.0);
    assert_all_close(&grad, &[1.0 / 3.0, -0.5 / 3.0, 0.0]);
    // SMAPE: 2 * mean(0.5 / 2.5, 2 / 2, 0 / 0 -> 0).
    assert_close(value(&Loss::Smape, &forecast, &target, &mut grad), 2.0 * 1.2 / 3.0);
}

#[test]
fn mase_scales_each_window_by_its_seasonal_naive_error() {
    // Two windows of 4 inputs, h = 2, seasonality 2: scales mean(|3-1|, |4-2|) = 2 and mean(|1-1|, |1-1|) = 0.
    let insample = [1.0, 2.0, 3.0, 4.0, 1.0, 1.0, 1.0, 1.0];
    let (target, forecast) = ([5.0, 6.0, 1.0, 1.0], [4.0, 6.0, 3.0, 1.0]);
    let targets = LossTargets { y: &target, mask: None, insample: &insample, windows: 2, quantiles: None, window_scales: &[] };
    let mut grad = [0.0; 4];
    let value = Loss::mase(2).unwrap().value_and_grad(&forecast, &targets, &mut grad).unwrap();
    // |5 - 4| / 2 in the first window; the second's zero scale makes its errors 0.
    assert_close(value, 0.5 / 4.0);
    assert_all_close(&grad, &[-0.125, 0.0, 0.0, 0.0]);
    assert!(Loss::mase(4).unwrap().value_and_grad(&forecast, &targets, &mut grad).is_err());
}

#[test]
fn rel_mse_divides_by_the_naive_forecasts_mse() {
    // One window, last input 2: the naive forecast errs by 1 and 2, MSE 2.5; the model's MSE (0.25 + 1) / 2.
    let (insample, target, forecast) = ([0.0, 2.0], [3.0, 4.0], [2.5, 5.0]);
    let targets = LossTargets { y: &target, mask: None, insample: &insample, windows: 1, quantiles: None, window_scales: &[] };
    let mut grad = [0.0; 2];
    let value = Loss::RelMse.value_and_grad(&forecast, &targets, &mut grad).unwrap();
    let norm = 2.5 + 1e-5;
    assert_close(value, 0.625 / norm);
    assert_all_close(&grad, &[(-0.5 / norm) as f32, (1.0 / norm) as f32]);
}

#[test]
fn huber_quantile_losses_match_neuralforecast() {
    let (target, forecast) = ([1.0, 2.0], [1.5, 0.0]);
    let mut grad = [0.0; 2];
    // HuberQLoss(q = 0.9, delta = 1): 0.1 * 0.5 * 0.25 for the excess, 0.9 * (2 - 0.5) for the shortfall.
    assert_close(value(&Loss::huber_quantile(0.9, 1.0).unwrap(), &forecast, &target, &mut grad), (0.0125 + 1.35) / 2.0);
    assert_all_close(&grad, &[0.025, -0.45]);
    // HuberMQLoss([0.2, 0.8], delta = 1) at y = 1, forecasts 0 and 3: H(0.2 * 1) and H(0.2 * 2), not divided by
    // the number of quantiles (as NeuralForecast's `1 / len(quantiles)` of a [1, 1, 1, Q] tensor).
    let mut grad = [0.0; 2];
    let loss = Loss::huber_multi_quantile(vec![0.2, 0.8], 1.0).unwrap();
    assert_close(value(&loss, &[0.0, 3.0], &[1.0], &mut grad), 0.5 * 0.04 + 0.5 * 0.16);
    assert_all_close(&grad, &[-0.2 * 0.2, 0.2 * 0.4]);
    assert_eq!(Loss::huber_multi_quantile_levels(&[80.0], 1.0).unwrap().output_names(), ["-median", "-lo-80", "-hi-80"]);
}

#[test]
fn mask_excludes_points_and_all_masked_is_zero() {
    let mut grad = [0.0; 2];
    let targets = LossTargets::without_insample(&[1.0, 2.0], Some(&[1.0, 0.0]));
    let value = Loss::Mae.value_and_grad(&[1.5, 0.0], &targets, &mut grad).unwrap();
    assert_eq!((value, grad), (0.5, [1.0, 0.0]));
    let targets = LossTargets::without_insample(&[1.0, 2.0], Some(&[0.0, 0.0]));
    for loss in [Loss::Mae, Loss::Rmse] {
        let value = loss.value_and_grad(&[1.5, 0.0], &targets, &mut grad).unwrap();
        assert_eq!((value, grad), (0.0, [0.0, 0.0]));
    }
}

#[test]
fn multi_quantile_averages_over_quantiles_like_mqloss() {
    let loss = Loss::multi_quantile(vec![0.2, 0.8]).unwrap();
    let mut grad = [0.0; 2];
    // y = 1, forecasts 0 and 2: 0.2 * 1 and 0.2 * 1, each divided by 2 quantiles, over 1 point.
    assert_close(value(&loss, &[0.0, 2.0], &[1.0], &mut grad), 0.2);
    assert_all_close(&grad, &[-0.1, 0.1]);
}

#[test]
fn levels_give_neuralforecast_quantiles_and_names() {
    let loss = Loss::multi_quantile_levels(&[80.0, 95.0]).unwrap();
    let Loss::MultiQuantile { quantiles, .. } = &loss else { panic!("not a multi-quantile loss") };
    assert_all_close(quantiles, &[0.5, 0.025, 0.1, 0.9, 0.975]);
    assert_eq!(loss.output_names(), ["-median", "-lo-95", "-lo-80", "-hi-80", "-hi-95"]);
    // A level is printed as given (`f"-lo-{l}"`), repeats dropped.
    assert_eq!(Loss::multi_quantile_levels(&[80.5, 80.5]).unwrap().output_names(), ["-median", "-lo-80.5", "-hi-80.5"]);
    assert_eq!(Loss::Mae.output_names(), [""]);
    assert!(Loss::multi_quantile_levels(&[100.0]).is_err());
}

#[test]
fn quantile_losses_name_outputs_as_neuralforecast() {
    // NeuralForecast 3.3's forecast columns for MLP(loss=MQLoss(quantiles=[0.1, 0.3, 0.5, 0.9])):
    // MLP-lo-80.0, MLP-lo-40.0, MLP-median, MLP-hi-80.0 (`quantiles_to_outputs`: np.round(100 - 200 q, 2)).
    let named = Loss::multi_quantile(vec![0.1, 0.3, 0.5, 0.9]).unwrap().output_names();
    assert_eq!(named, ["-lo-80.0", "-lo-40.0", "-median", "-hi-80.0"]);
    assert_eq!(Loss::huber_multi_quantile(vec![0.25, 0.5, 0.999], 1.0).unwrap().output_names(), ["-lo-50.0", "-median", "-hi-99.8"]);
    // QuantileLoss(q=0.3): MLP_ql0.3; HuberQLoss(q=0.3, delta=1.0): _q0.3_d1.0.
    assert_eq!(Loss::quantile(0.3).unwrap().output_names(), ["_ql0.3"]);
    assert_eq!(Loss::huber_quantile(0.3, 1.0).unwrap().output_names(), ["_q0.3_d1.0"]);
}

#[test]
fn python_float_prints_as_python_str() {
    // Python: str(80.0), str(33.4), str(0.3), str(1e-05), str(0.0001), str(1e16), str(-2.5), str(123456.0)
    let cases: [(f64, &str); 8] =
        [(80.0, "80.0"), (33.4, "33.4"), (0.3, "0.3"), (1e-5, "1e-05"), (0.0001, "0.0001"), (1e16, "1e+16"), (-2.5, "-2.5"), (123456.0, "123456.0")];
    for (x, python) in cases {
        assert_eq!(super::quantile::python_float(x), python, "{x}");
    }
    assert_eq!(super::quantile::python_float(0.3f32), "0.3");
}

#[test]
fn rejects_invalid_hyper_parameters_and_shapes() {
    assert!(Loss::huber(0.0).is_err());
    assert!(Loss::quantile(1.0).is_err());
    assert!(Loss::multi_quantile(vec![]).is_err());
    assert!(Loss::mase(0).is_err());
    assert!(Loss::huber_quantile(0.5, -1.0).is_err());
    assert!(Loss::huber_multi_quantile(vec![1.5], 1.0).is_err());
    assert!(Loss::mase(3).unwrap().check_input_size(3).is_err());
    let err = Loss::Mae.value_and_grad(&[0.0; 3], &LossTargets::without_insample(&[0.0; 2], None), &mut [0.0; 3]).unwrap_err();
    assert!(matches!(err, NnError::LengthMismatch { what: "loss forecast", .. }));
    let no_inputs = LossTargets::without_insample(&[0.0; 2], None);
    assert!(Loss::RelMse.value_and_grad(&[0.0; 2], &no_inputs, &mut [0.0; 2]).is_err());
}

#[test]
fn gradients_match_finite_differences() {
    let (windows, h, input_size) = (2, 4, 5);
    let target = random_vec(windows * h, 31);
    let insample = random_vec(windows * input_size, 33);
    let mask: Vec<f32> = (0..windows * h).map(|i| if i == 3 { 0.0 } else { 1.0 }).collect();
    let targets = LossTargets { y: &target, mask: Some(&mask), insample: &insample, windows, quantiles: None, window_scales: &[] };
    for loss in all_losses() {
        let outputs = loss.outputs_per_point();
        // Forecasts at least 0.1 away from every target (and, for SMAPE, from 0) keep the central differences
        // off the kinks.
        let forecast: Vec<f32> =
            random_vec(target.len() * outputs, 32).iter().enumerate().map(|(i, v)| target[i / outputs] + v.signum() * (0.1 + v.abs())).collect();
        let forecast: Vec<f32> = forecast.iter().map(|&f| if f.abs() < 0.1 { f + 0.2 } else { f }).collect();
        let mut grad = vec![0.0; forecast.len()];
        loss.value_and_grad(&forecast, &targets, &mut grad).unwrap();
        check_input_grads(&forecast, &grad, usize::MAX, |f| loss.value_and_grad(f, &targets, &mut vec![0.0; f.len()]).unwrap() as f64);
    }
}

#[test]
fn shard_sums_add_up_to_the_batch_loss() {
    // Two halves of a batch, each weighted by its share of the observed points, give the whole batch's
    // RMSE and relMSE (and their gradients) once finished.
    let (windows, h, input_size) = (2, 3, 2);
    let target = random_vec(windows * h, 41);
    let insample = random_vec(windows * input_size, 42);
    let forecast = random_vec(windows * h, 43);
    for loss in [Loss::Rmse, Loss::RelMse] {
        let mut whole_grad = vec![0.0; forecast.len()];
        let whole = LossTargets { y: &target, mask: None, insample: &insample, windows, quantiles: None, window_scales: &[] };
        let expected = loss.value_and_grad(&forecast, &whole, &mut whole_grad).unwrap();
        let mut grad = vec![0.0; forecast.len()];
        let sums: LossSums = (0..windows)
            .map(|w| {
                let half = LossTargets { y: &target[w * h..(w + 1) * h], mask: None, insample: &insample[w * input_size..(w + 1) * input_size], windows: 1, quantiles: None, window_scales: &[] };
                let range = w * h..(w + 1) * h;
                loss.sums_and_grad(&forecast[range.clone()], &half, &mut grad[range]).unwrap().scaled(0.5)
            })
            .sum();
        let (value, grad_scale) = loss.finish(sums);
        assert_close(expected, value);
        let sharded: Vec<f32> = grad.iter().map(|g| g * 0.5 * grad_scale as f32).collect();
        assert_all_close(&sharded, &whole_grad);
    }
}

#[test]
fn implicit_quantile_loss_scores_each_point_at_its_own_quantile() {
    let loss = Loss::implicit_quantile(64, 1.0, 1.0).unwrap();
    let (target, forecast, quantiles) = ([1.0, 2.0], [1.5, 0.0], [0.1, 0.9]);
    let mut grad = [0.0; 2];
    let targets = LossTargets { quantiles: Some(&quantiles), ..LossTargets::without_insample(&target, None) };
    // Over by 0.5 at q = 0.1 costs 0.9 * 0.5; under by 2 at q = 0.9 costs 0.9 * 2.
    assert_close(loss.value_and_grad(&forecast, &targets, &mut grad).unwrap(), (0.45 + 1.8) / 2.0);
    assert_all_close(&grad, &[0.45, -0.45]);
    // Without quantiles (validation, prediction), the median's.
    assert_close(value(&loss, &forecast, &target, &mut grad), (0.25 + 1.0) / 2.0);
    assert_eq!(loss.output_names(), ["_ql0.5"]);
}

#[test]
fn implicit_quantile_parameters_are_checked() {
    assert!(Loss::implicit_quantile(0, 1.0, 1.0).is_err());
    assert!(Loss::implicit_quantile(4096, 1.0, 1.0).is_err());
    assert!(Loss::implicit_quantile(8, 0.0, 1.0).is_err());
    assert!(Loss::implicit_quantile(8, 1.0, f32::NAN).is_err());
}
