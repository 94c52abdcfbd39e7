//! Test support: finite-difference gradient checks.
//!
//! The layers compute in f32, so the numeric side perturbs f32 values by `EPS` and takes central
//! differences of an objective accumulated in f64 (`weighted_sum`). With `EPS = 2e-3` the f32
//! rounding noise in the difference quotient is about 3e-5 times the objective's magnitude (O(1)
//! here) and the O(EPS^2) truncation error about 1e-5, so the tolerance `ABS_TOL + REL_TOL * |numeric|`
//! sits well above the noise, while a real mistake (a missing term, a wrong gate, a transposed weight)
//! misses it by far: `rejects_a_slightly_wrong_gradient` shows that a 5% error fails. The small step
//! also keeps most perturbations from crossing ReLU kinks, where a central difference is meaningless; a sample
//! whose one-sided differences disagree (a kink within `EPS`: the objective is not smooth there) is skipped
//! rather than compared, and at most a third of the samples may be skipped.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::error::NnError;
use super::params::{ParamInit, ParamStore};

pub const EPS: f32 = 2e-3;
pub const ABS_TOL: f64 = 2e-3;
pub const REL_TOL: f64 = 1e-2;

/// A layer that `build` creates under `prefix` in a fresh store whose initialisation is seeded by `seed`, and
/// that store.
pub fn seeded_layer<T>(seed: u64, prefix: &str, build: impl FnOnce(&mut ParamInit<'_>) -> Result<T, NnError>) -> (T, ParamStore) {
    let mut params = ParamStore::new();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let layer = build(&mut ParamInit::new(&mut params, &mut rng).pp(prefix)).unwrap();
    (layer, params)
}

pub fn random_vec(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// The scalar objective sum_i weights_i * output_i, in f64; its gradient w.r.t. `output` is `weights`.
pub fn weighted_sum(output: &[f32], weights: &[f32]) -> f64 {
    output.iter().zip(weights).map(|(&y, &w)| y as f64 * w as f64).sum()
}

pub fn gradient_matches(analytic: f32, numeric: f64) -> bool {
    (analytic as f64 - numeric).abs() <= ABS_TOL + REL_TOL * numeric.abs()
}

fn assert_gradient(what: &str, analytic: f32, numeric: f64) {
    assert!(gradient_matches(analytic, numeric), "{what}: analytic {analytic} vs numeric {numeric}");
}

/// Up to `samples` indices spread over `0..len`, always including the first and the last.
fn sample_indices(len: usize, samples: usize) -> Vec<usize> {
    if len <= samples {
        return (0..len).collect();
    }
    let mut indices: Vec<usize> = (0..samples).map(|k| k * (len - 1) / (samples - 1)).collect();
    indices.dedup();
    indices
}

/// (f(x + EPS) - f(x - EPS)) / (2 EPS), where `objective_at(v)` evaluates the objective with x set to v, or `None` where the objective has a kink within `EPS` of `x`: its forward and
/// backward differences then disagree by far more than curvature and rounding explain.
fn smooth_difference(x: f32, mut objective_at: impl FnMut(f32) -> f64) -> Option<f64> {
    let (plus, center, minus) = (objective_at(x + EPS), objective_at(x), objective_at(x - EPS));
    let (forward, backward) = ((plus - center) / EPS as f64, (center - minus) / EPS as f64);
    let kink = (forward - backward).abs() > 4.0 * (ABS_TOL + REL_TOL * forward.abs().max(backward.abs()));
    (!kink).then_some((plus - minus) / (2.0 * EPS as f64))
}

/// Counts compared and skipped samples, and fails when too many had to be skipped.
#[derive(Default)]
struct Tally {
    compared: usize,
    skipped: usize,
}

impl Tally {
    fn check(&mut self, what: &str, analytic: f32, numeric: Option<f64>) {
        match numeric {
            Some(numeric) => {
                self.compared += 1;
                assert_gradient(what, analytic, numeric);
            }
            None => self.skipped += 1,
        }
    }

    fn finish(self) {
        assert!(self.skipped * 2 <= self.compared, "{} of {} samples sat on kinks", self.skipped, self.skipped + self.compared);
    }
}

/// Checks `grads` (the analytic gradient of `objective`) on a sample of every trained parameter tensor (frozen
/// tensors and buffers have none).
pub fn check_param_grads(params: &mut ParamStore, grads: &ParamStore, samples: usize, mut objective: impl FnMut(&ParamStore) -> f64) {
    params.check_same_layout(grads).expect("gradients have the parameters' layout");
    let mut tally = Tally::default();
    let trained: Vec<usize> = (0..params.len()).filter(|&i| params.kind_at(i) == super::params::TensorKind::Trained).collect();
    for tensor_index in trained {
        let (name, analytic) = grads.iter().nth(tensor_index).expect("index below len");
        for index in sample_indices(analytic.len(), samples) {
            let original = params.iter().nth(tensor_index).expect("index below len").1.data[index];
            let numeric = smooth_difference(original, |value| {
                params.iter_mut().nth(tensor_index).expect("index below len").1.data[index] = value;
                objective(params)
            });
            params.iter_mut().nth(tensor_index).expect("index below len").1.data[index] = original;
            tally.check(&format!("{name}[{index}]"), analytic.data[index], numeric);
        }
    }
    tally.finish();
}

/// Checks `d_input` (the analytic gradient of `objective` w.r.t. `input`) on a sample of elements.
pub fn check_input_grads(input: &[f32], d_input: &[f32], samples: usize, objective: impl Fn(&[f32]) -> f64) {
    let mut perturbed = input.to_vec();
    let mut tally = Tally::default();
    for index in sample_indices(input.len(), samples) {
        let numeric = smooth_difference(input[index], |value| {
            perturbed[index] = value;
            objective(&perturbed)
        });
        perturbed[index] = input[index];
        tally.check(&format!("input[{index}]"), d_input[index], numeric);
    }
    tally.finish();
}

#[test]
fn a_kink_is_skipped_not_compared() {
    assert!(smooth_difference(0.0005, |x| (x as f64).max(0.0)).is_none());
    assert!(smooth_difference(0.5, |x| (x as f64).max(0.0)).is_some());
}

#[test]
fn rejects_a_slightly_wrong_gradient() {
    // d/dx x^3 at x = 1.3 is 5.07; a 5% error must fail, the true value must pass.
    let numeric = smooth_difference(1.3, |x| (x as f64).powi(3)).expect("x^3 is smooth");
    assert!(gradient_matches(5.07, numeric));
    assert!(!gradient_matches(5.07 * 1.05, numeric));
}
