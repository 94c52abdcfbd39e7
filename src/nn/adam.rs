//! torch.optim.Adam (no weight decay, no amsgrad) with NeuralForecast's schedule: a StepLR that halves
//! the learning rate every `lr_decay_steps` optimizer steps (`_base_model.py`, `configure_optimizers`),
//! and optional clipping of the global gradient norm as torch's `clip_grad_norm_` (Lightning's
//! `gradient_clip_val`).

use super::error::NnError;
use crate::simd::{thread_isa, Isa};
use super::params::ParamStore;

#[derive(Debug, Clone, PartialEq)]
pub struct AdamConfig {
    pub learning_rate: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Scale gradients down so their global L2 norm is at most this; `None` disables clipping.
    pub max_grad_norm: Option<f32>,
}

impl Default for AdamConfig {
    /// torch's defaults with NeuralForecast's learning rate 1e-3.
    fn default() -> Self {
        AdamConfig { learning_rate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, max_grad_norm: None }
    }
}

/// torch.optim.lr_scheduler.StepLR stepped once per optimizer step: `lr * gamma^(step / step_size)`.
#[derive(Debug, Clone, PartialEq)]
pub struct StepLr {
    /// `None` keeps the learning rate constant.
    pub step_size: Option<usize>,
    pub gamma: f32,
}

impl StepLr {
    pub fn constant() -> Self {
        StepLr { step_size: None, gamma: 1.0 }
    }

    /// NeuralForecast's schedule: `num_lr_decays` halvings spread evenly over `max_steps`
    /// (`lr_decay_steps = max(max_steps // num_lr_decays, 1)`); 0 decays keeps the rate constant.
    pub fn neuralforecast(max_steps: usize, num_lr_decays: usize) -> Self {
        if num_lr_decays == 0 {
            return Self::constant();
        }
        StepLr { step_size: Some((max_steps / num_lr_decays).max(1)), gamma: 0.5 }
    }

    /// The factor applied to the base learning rate after `steps_taken` optimizer steps.
    pub fn factor(&self, steps_taken: usize) -> f32 {
        match self.step_size {
            Some(step_size) => self.gamma.powi((steps_taken / step_size) as i32),
            None => 1.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Adam {
    config: AdamConfig,
    schedule: StepLr,
    first_moment: ParamStore,
    second_moment: ParamStore,
    steps_taken: usize,
}

impl Adam {
    pub fn new(params: &ParamStore, config: AdamConfig, schedule: StepLr) -> Result<Self, NnError> {
        let positive = |what: &'static str, value: f32| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(NnError::InvalidValue { what, reason: format!("must be positive and finite, got {value}") })
            }
        };
        positive("learning_rate", config.learning_rate)?;
        positive("Adam eps", config.eps)?;
        for (what, beta) in [("Adam beta1", config.beta1), ("Adam beta2", config.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(NnError::InvalidValue { what, reason: format!("must lie in [0, 1), got {beta}") });
            }
        }
        if let Some(max_norm) = config.max_grad_norm {
            positive("max_grad_norm", max_norm)?;
        }
        if schedule.step_size == Some(0) {
            return Err(NnError::ZeroSize { what: "StepLR step_size" });
        }
        Ok(Adam { config, schedule, first_moment: params.zeros_like(), second_moment: params.zeros_like(), steps_taken: 0 })
    }

    /// Whether steps clip the gradient norm (and so need [`Adam::summed_norm`]).
    pub fn clips(&self) -> bool {
        self.config.max_grad_norm.is_some()
    }

    /// The learning rate the next step will use.
    pub fn learning_rate(&self) -> f32 {
        self.config.learning_rate * self.schedule.factor(self.steps_taken)
    }

    pub fn steps_taken(&self) -> usize {
        self.steps_taken
    }

    /// Updates `params` from `grads` (not modified; clipping scales on the fly) and returns the global
    /// gradient norm before clipping.
    pub fn step(&mut self, params: &mut ParamStore, grads: &ParamStore) -> Result<f32, NnError> {
        params.check_same_layout(grads)?;
        let grad_norm = global_norm(grads);
        self.step_summed(params, std::slice::from_ref(grads), grad_norm)?;
        Ok(grad_norm as f32)
    }

    /// Updates `params` from the sum of `parts` (per-shard gradients, summed element by element in their order
    /// while updating, without a summed copy), in parallel over chunks of the larger tensors on the current rayon
    /// pool: each element's update is the same whatever the thread count, and nothing is allocated. `grad_norm`
    /// is the global norm of the sum, read only when clipping (see [`Adam::summed_norm`]).
    pub fn step_summed<P: AsRef<ParamStore> + Sync>(&mut self, params: &mut ParamStore, parts: &[P], grad_norm: f64) -> Result<(), NnError> {
        use rayon::prelude::*;
        /// Elements per parallel job: big enough to amortise the job, small enough to split large tensors.
        const CHUNK: usize = 1 << 14;
        params.check_same_layout(&self.first_moment)?;
        for part in parts {
            params.check_same_layout(part.as_ref())?;
        }
        if parts.is_empty() {
            return Err(NnError::ZeroSize { what: "gradient parts" });
        }
        // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1.
        let clip_scale = self.config.max_grad_norm.map_or(1.0, |max_norm| (max_norm as f64 / (grad_norm + 1e-6)).min(1.0)) as f32;
        let lr = self.learning_rate();
        self.steps_taken += 1;
        let (beta1, beta2) = (self.config.beta1, self.config.beta2);
        let step = self.steps_taken as i32;
        let step_size = (lr as f64 / (1.0 - (beta1 as f64).powi(step))) as f32;
        let bias_correction2_sqrt = (1.0 - (beta2 as f64).powi(step)).sqrt() as f32;
        let update = AdamUpdate { beta1, beta2, clip_scale, step_size, bias_correction2_sqrt, eps: self.config.eps };
        let isa = thread_isa();
        let moments = self.first_moment.iter_mut().zip(self.second_moment.iter_mut());
        for (t, ((_, param), ((_, m), (_, v)))) in params.iter_mut().zip(moments).enumerate() {
            let run = |c: usize, (p, (m, v)): (&mut [f32], (&mut [f32], &mut [f32]))| {
                update.apply(isa, p, GradParts { parts, tensor: t, start: c * CHUNK }, m, v)
            };
            if param.data.len() > CHUNK {
                let chunks = param.data.par_chunks_mut(CHUNK).zip(m.data.par_chunks_mut(CHUNK).zip(v.data.par_chunks_mut(CHUNK)));
                chunks.enumerate().for_each(|(c, chunk)| run(c, chunk));
            } else {
                run(0, (&mut param.data, (&mut m.data, &mut v.data)));
            }
        }
        Ok(())
    }

    /// The global L2 norm of the sum of `parts` (for clipping; the same on every path).
    pub fn summed_norm<P: AsRef<ParamStore>>(parts: &[P]) -> f64 {
        match parts {
            [single] => global_norm(single.as_ref()),
            _ => {
                let mut sum = parts[0].as_ref().clone();
                parts[1..].iter().for_each(|p| sum.add_assign(p.as_ref()).expect("parts share a layout"));
                global_norm(&sum)
            }
        }
    }
}

/// The gradient of a chunk of tensor `tensor` (from element `start`) as the sum of `parts`' values.
#[derive(Clone, Copy)]
struct GradParts<'a, P> {
    parts: &'a [P],
    tensor: usize,
    start: usize,
}

impl<P: AsRef<ParamStore>> GradParts<'_, P> {
    fn slice(&self, part: usize, len: usize) -> &[f32] {
        &self.parts[part].as_ref().tensor_at(self.tensor).data[self.start..self.start + len]
    }
}

/// The constants of one Adam step.
#[derive(Clone, Copy)]
struct AdamUpdate {
    beta1: f32,
    beta2: f32,
    clip_scale: f32,
    step_size: f32,
    bias_correction2_sqrt: f32,
    eps: f32,
}

impl AdamUpdate {
    /// The element-wise update of a chunk of one tensor from the sum of the gradient `parts` (added in order).
    /// The same operations in the same order run on every path (no fused multiply-add), so the AVX2 build only
    /// widens the loop and the bits do not change.
    fn apply<P: AsRef<ParamStore>>(self, isa: Isa, p: &mut [f32], parts: GradParts<'_, P>, m: &mut [f32], v: &mut [f32]) {
        let single = parts.parts.len() == 1;
        match isa {
            // SAFETY: `thread_isa` returns Avx2 or above only after avx2 and fma were detected.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 if single => unsafe { self.apply_avx2(p, parts.slice(0, p.len()), m, v) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 => unsafe { self.apply_summed_avx2(p, parts, m, v) },
            _ if single => self.apply_plain(p, parts.slice(0, p.len()), m, v),
            _ => self.apply_summed(p, parts, m, v),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn apply_avx2(self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        self.apply_plain(p, g, m, v)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn apply_summed_avx2<P: AsRef<ParamStore>>(self, p: &mut [f32], parts: GradParts<'_, P>, m: &mut [f32], v: &mut [f32]) {
        self.apply_summed(p, parts, m, v)
    }

    /// Sums the parts in blocks (on the stack), then updates the block.
    #[inline(always)]
    fn apply_summed<P: AsRef<ParamStore>>(self, p: &mut [f32], parts: GradParts<'_, P>, m: &mut [f32], v: &mut [f32]) {
        const BLOCK: usize = 256;
        let mut sum = [0.0f32; BLOCK];
        let len = p.len();
        for start in (0..len).step_by(BLOCK) {
            let end = (start + BLOCK).min(len);
            let block = &mut sum[..end - start];
            block.copy_from_slice(&parts.slice(0, len)[start..end]);
            for part in 1..parts.parts.len() {
                block.iter_mut().zip(&parts.slice(part, len)[start..end]).for_each(|(s, g)| *s += g);
            }
            self.apply_plain(&mut p[start..end], block, &mut m[start..end], &mut v[start..end]);
        }
    }

    #[inline(always)]
    fn apply_plain(self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        let AdamUpdate { beta1, beta2, clip_scale, step_size, bias_correction2_sqrt, eps } = self;
        let len = p.len();
        let (g, m, v) = (&g[..len], &mut m[..len], &mut v[..len]);
        for i in 0..len {
            let g = g[i] * clip_scale;
            m[i] = beta1 * m[i] + (1.0 - beta1) * g;
            v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
            p[i] -= step_size * m[i] / (v[i].sqrt() / bias_correction2_sqrt + eps);
        }
    }
}

/// The global L2 norm of all gradients, accumulated in f64 over 8 interleaved partial sums (a fixed
/// order, so the result is the same on every path) that the AVX2 build keeps in vector registers.
fn global_norm(grads: &ParamStore) -> f64 {
    fn partial_sums(values: &[f32], acc: &mut [f64; 8]) {
        let mut chunks = values.chunks_exact(8);
        for chunk in &mut chunks {
            for (a, &g) in acc.iter_mut().zip(chunk) {
                *a += g as f64 * g as f64;
            }
        }
        for (a, &g) in acc.iter_mut().zip(chunks.remainder()) {
            *a += g as f64 * g as f64;
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn partial_sums_avx2(values: &[f32], acc: &mut [f64; 8]) {
        partial_sums(values, acc)
    }
    let mut acc = [0.0f64; 8];
    for (_, tensor) in grads.iter() {
        match thread_isa() {
            // SAFETY: `thread_isa` returns Avx2 or above only after avx2 and fma were detected.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 => unsafe { partial_sums_avx2(&tensor.data, &mut acc) },
            _ => partial_sums(&tensor.data, &mut acc),
        }
    }
    (((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))).sqrt()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::nn::params::ParamInit;

    /// One parameter tensor `w` of two elements set to `values`, and a gradient store for it.
    fn single_param(values: [f32; 2]) -> (ParamStore, ParamStore) {
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let id = ParamInit::new(&mut params, &mut rng).uniform("w", &[2], 1.0).unwrap();
        params.get_mut(id).data.copy_from_slice(&values);
        let grads = params.zeros_like();
        (params, grads)
    }

    fn set_grads(grads: &mut ParamStore, values: [f32; 2]) {
        grads.iter_mut().next().unwrap().1.data.copy_from_slice(&values);
    }

    fn values(params: &ParamStore) -> Vec<f32> {
        params.iter().next().unwrap().1.data.clone()
    }

    #[test]
    fn a_summed_step_equals_a_step_on_the_sum() {
        let (mut a, mut parts) = (ParamStore::new(), Vec::new());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        ParamInit::new(&mut a, &mut rng).uniform("w", &[40_000], 1.0).unwrap();
        for seed in 2..5u64 {
            let mut g = a.zeros_like();
            g.iter_mut().for_each(|(_, t)| t.data.iter_mut().enumerate().for_each(|(i, x)| *x = ((i as u64 * seed) % 97) as f32 / 50.0 - 1.0));
            parts.push(g);
        }
        let mut total = a.zeros_like();
        parts.iter().for_each(|p| total.add_assign(p).unwrap());
        let mut b = a.clone();
        let (mut adam_a, mut adam_b) = (Adam::new(&a, AdamConfig::default(), StepLr::constant()).unwrap(), Adam::new(&b, AdamConfig::default(), StepLr::constant()).unwrap());
        for _ in 0..3 {
            adam_a.step(&mut a, &total).unwrap();
            let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
            pool.install(|| adam_b.step_summed(&mut b, &parts, Adam::summed_norm(&parts))).unwrap();
        }
        assert_eq!(a, b);
    }

    #[test]
    fn two_steps_match_hand_computed_torch_adam() {
        let (mut params, mut grads) = single_param([1.0, -2.0]);
        let mut adam = Adam::new(&params, AdamConfig { learning_rate: 0.1, ..AdamConfig::default() }, StepLr::constant()).unwrap();
        // Step 1: m = 0.1 g, v = 0.001 g^2, bias-corrected m/sqrt(v) = sign(g): p -= 0.1 * sign(g)
        // (up to eps).
        set_grads(&mut grads, [0.5, -4.0]);
        adam.step(&mut params, &grads).unwrap();
        let after_one = values(&params);
        assert!((after_one[0] - 0.9).abs() < 1e-6 && (after_one[1] + 1.9).abs() < 1e-6, "{after_one:?}");
        // Step 2 with g = 1.0 for the first element: m = 0.09*0.5 + 0.1*1 = 0.145, v = 0.999*0.00025 + 0.001 = 0.00124975,
        // m_hat = 0.145 / 0.19, v_hat = 0.00124975 / 0.001999, p = 0.9 - 0.1 * m_hat / sqrt(v_hat).
        set_grads(&mut grads, [1.0, 0.0]);
        adam.step(&mut params, &grads).unwrap();
        let expected = 0.9 - 0.1 * (0.145f64 / 0.19) / (0.00124975f64 / 0.001999).sqrt();
        assert!((values(&params)[0] as f64 - expected).abs() < 1e-6, "{} vs {expected}", values(&params)[0]);
    }

    #[test]
    fn clipping_scales_the_gradient_to_the_max_norm() {
        // A clipped gradient [3, 4] (norm 5) with max norm 1 acts like [0.6, 0.8]; Adam's first step is
        // scale-invariant, so check the reported norm and that the update equals the unclipped one.
        let config = AdamConfig { learning_rate: 0.1, max_grad_norm: Some(1.0), ..AdamConfig::default() };
        let (mut params, mut grads) = single_param([0.0, 0.0]);
        set_grads(&mut grads, [3.0, 4.0]);
        let mut adam = Adam::new(&params, config, StepLr::constant()).unwrap();
        assert!((adam.step(&mut params, &grads).unwrap() - 5.0).abs() < 1e-6);
        // Second step with a zero gradient: m = 0.9 * 0.1 * [0.6, 0.8] exposes the clipped scale.
        let m_first: f64 = 0.09 * 0.6 / 0.19;
        let v_first: f64 = 0.999 * 0.001 * 0.36 / 0.001999;
        set_grads(&mut grads, [0.0, 0.0]);
        let before = values(&params)[0];
        adam.step(&mut params, &grads).unwrap();
        let expected = before as f64 - 0.1 * m_first / v_first.sqrt();
        assert!((values(&params)[0] as f64 - expected).abs() < 1e-5);
    }

    #[test]
    fn step_lr_halves_every_lr_decay_steps() {
        let schedule = StepLr::neuralforecast(1000, 4);
        assert_eq!(schedule.step_size, Some(250));
        assert_eq!([schedule.factor(0), schedule.factor(249), schedule.factor(250), schedule.factor(999)], [1.0, 1.0, 0.5, 0.125]);
        assert_eq!(StepLr::neuralforecast(1000, 0).factor(5000), 1.0);
        let (params, _) = single_param([0.0, 0.0]);
        assert!(Adam::new(&params, AdamConfig { learning_rate: 0.0, ..AdamConfig::default() }, StepLr::constant()).is_err());
    }
}
