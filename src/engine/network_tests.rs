//! An IQLoss network end to end: the model and its head under the loss at drawn quantiles against finite
//! differences; training with it on any thread count; its checkpoints and quantile forecasts.

use serde_json::json;

use super::*;
use crate::engine::tests::{engine, keep_going, sine_panel, spec_of};
use crate::engine::{Engine, FitOptions};
use crate::models::model::tests::RandomBatch;
use crate::nn::gradcheck::check_param_grads;
use crate::nn::loss::LossTargets;

fn iq_spec(steps: usize) -> crate::engine::spec::ModelSpec {
    spec_of(json!({
        "type": "MLP", "h": 3, "inputSize": 6, "numLayers": 1, "hiddenSize": 8, "maxSteps": steps,
        "windowsBatchSize": 20, "scalerType": "standard", "loss": { "type": "IQLoss", "cosEmbeddingDim": 8 },
    }))
}

#[test]
fn model_and_head_gradients_of_the_loss_match_finite_differences() {
    let spec = iq_spec(1);
    let neural = spec.neural().unwrap();
    let network = neural.architecture.build(&neural.loss).unwrap();
    assert!(network.params().find("loss.output_layer.1.weight").is_some());
    let inputs = RandomBatch::new(neural.shape(), 4, 21);
    let points = 4 * neural.h();
    let target = crate::nn::gradcheck::random_vec(points, 22);
    let mut quantiles = vec![0.0; points];
    assert!(neural.loss.draw_quantiles(9, &mut quantiles));
    let targets = LossTargets { quantiles: Some(&quantiles), ..LossTargets::without_insample(&target, None) };
    let objective = |network: &Network| {
        let mut cache = NetworkCache::default();
        let forecast = network.forward(&inputs.view(None), Quantiles::Each(&quantiles), &mut cache).unwrap().to_vec();
        let mut grad = vec![0.0; forecast.len()];
        neural.loss.value_and_grad(&forecast, &targets, &mut grad).unwrap() as f64
    };
    let mut cache = NetworkCache::default();
    let forecast = network.forward(&inputs.view(None), Quantiles::Each(&quantiles), &mut cache).unwrap().to_vec();
    let mut d_output = vec![0.0; forecast.len()];
    neural.loss.value_and_grad(&forecast, &targets, &mut d_output).unwrap();
    let mut grads = network.params().zeros_like();
    network.backward(&mut cache, &d_output, &mut grads).unwrap();
    let mut probe = network.clone();
    check_param_grads(&mut network.params().clone(), &grads, 6, |p| {
        *probe.params_mut() = p.clone();
        objective(&probe)
    });
}

#[test]
fn iq_training_is_bit_identical_on_one_and_two_threads_and_survives_a_checkpoint() {
    let panel = sine_panel(2, 48);
    let run = |threads| {
        let mut e = engine(vec![iq_spec(20)], threads);
        e.fit(&panel, &FitOptions::default(), &mut keep_going).unwrap();
        e
    };
    let (one, two) = (run(1), run(2));
    let weights = |e: &Engine| e.models[0].network().unwrap().params().clone();
    assert_eq!(weights(&one), weights(&two));
    let at = |e: &Engine| e.predict_quantiles(None, None, &[], &[0.1, 0.9], None).unwrap();
    assert_eq!(at(&one), at(&two));
    let loaded = Engine::from_bytes(&one.to_bytes().unwrap()).unwrap();
    assert_eq!(weights(&loaded), weights(&one));
    assert_eq!(at(&loaded), at(&one));
    let names: Vec<String> = at(&one).columns.into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["MLP_ql0.1", "MLP_ql0.9"]);
    let median = one.predict(None, None, &[], None).unwrap();
    assert_eq!(median.columns[0].0, "MLP_ql0.5");
    let mut window = [0.0; 3];
    one.forecast_window(0, &panel.series(0).unwrap().y[42..48], &mut window).unwrap();
    assert_eq!(window[..], median.columns[0].1[..3]);
}
