//! The neural models' forecasts: every series after its stored tail, batches of raw windows, and the
//! single-window low-latency path. All run on fixed chunks of windows, so the numbers do not depend on the
//! thread count.

use super::network::Network;
use super::spec::{NeuralSpec, ScalerType};
use super::train::{scale_window, scale_windows, WindowScaling};
use super::{Engine, EngineError, ForecastScratch, Scale, SeriesState};
use crate::models::WindowBatch;

impl Engine {
    /// One model's forecasts for every series, `[series, horizon, outputs_per_point]`: their stored tails through
    /// [`Engine::forecast_batch`], then the local scaling inverted.
    pub(super) fn forecast_series(
        &self,
        network: &Network,
        spec: &NeuralSpec,
        series: &[SeriesState],
        horizon: usize,
    ) -> Result<Vec<f64>, EngineError> {
        let (l, h, outputs) = (spec.input_size(), spec.h(), spec.shape().outputs_per_point);
        let inputs: Vec<f32> = series.iter().flat_map(|s| s.tail[s.tail.len() - l..].iter().map(|&v| v as f32)).collect();
        let mut full = vec![0.0; series.len() * h * outputs];
        self.forecast_batch(network, spec, &inputs, &mut full)?;
        let mut out = Vec::with_capacity(series.len() * horizon * outputs);
        for (state, forecast) in series.iter().zip(full.chunks_exact(h * outputs)) {
            out.extend(forecast[..horizon * outputs].iter().map(|&z| state.scale.invert(z)));
        }
        Ok(out)
    }

    /// Forecasts `h × outputs_per_point` values per window of `inputs` (`[n, input_size]`, window scaling
    /// inverted) into `out` (`[n, h, outputs_per_point]`), in parallel over fixed chunks of windows, so the numbers
    /// do not depend on the thread count.
    fn forecast_batch(&self, network: &Network, spec: &NeuralSpec, inputs: &[f32], out: &mut [f64]) -> Result<(), EngineError> {
        use rayon::prelude::*;
        const CHUNK: usize = 16;
        let (l, h, isa) = (spec.input_size(), spec.h(), self.isa());
        let per_window = h * spec.shape().outputs_per_point;
        self.threads.install(|| {
            let chunks = out.par_chunks_mut(CHUNK * per_window).zip(inputs.par_chunks(CHUNK * l));
            chunks.try_for_each_init(ForecastScratch::default, |scratch, (out, chunk)| {
                let n = chunk.len() / l;
                scratch.inputs.clear();
                scratch.inputs.extend_from_slice(chunk);
                scratch.targets.resize(n * h, 0.0);
                let buffers =
                    WindowScaling { values: &mut scratch.values, scratch: &mut scratch.median, scales: &mut scratch.scales };
                scale_windows(spec, isa, &mut scratch.inputs, &mut scratch.targets, buffers);
                let forecast = network.forward(&WindowBatch::univariate(&scratch.inputs, n), &mut scratch.cache)?;
                for (i, (out, z)) in out.chunks_exact_mut(per_window).zip(forecast.chunks_exact(per_window)).enumerate() {
                    let scale = scratch.scales.get(i).copied().unwrap_or(Scale::IDENTITY);
                    out.iter_mut().zip(z).for_each(|(o, &z)| *o = scale.invert(z as f64));
                }
                Ok::<(), EngineError>(())
            })
        })
    }

    /// Forecasts `h × outputs_per_point` values per window of raw values (`windows`: `[n, inputSize]` row-major)
    /// into `out` (`[n, h, outputs_per_point]`): the batch form of [`Engine::forecast_window`].
    pub fn forecast_windows(&self, model: usize, windows: &[f64], out: &mut [f64]) -> Result<(), EngineError> {
        let (network, spec, alias) = self.window_model(model)?;
        let l = spec.input_size();
        if windows.is_empty() || windows.len() % l != 0 {
            return Err(EngineError::Range(format!(
                "windows must hold a whole number of windows of inputSize = {l} values for model '{alias}', got {} values",
                windows.len()
            )));
        }
        let n = windows.len() / l;
        if let Some(i) = windows.iter().position(|v| !v.is_finite()) {
            return Err(EngineError::Range(format!("window {} value {} is {}, not a finite number", i / l, i % l, windows[i])));
        }
        let per_window = spec.h() * spec.shape().outputs_per_point;
        if out.len() != n * per_window {
            return Err(EngineError::Range(format!("out must hold {n} x {per_window} = {} values, got {}", n * per_window, out.len())));
        }
        let _simd = crate::nn::fast::scoped_simd(self.config.simd_enabled);
        let inputs: Vec<f32> = windows.iter().map(|&v| v as f32).collect();
        self.forecast_batch(network, spec, &inputs, out)
    }

    /// The network a window forecast runs, its spec and alias: a fitted neural model without local scaling (a bare
    /// window does not say which series it is).
    fn window_model(&self, model: usize) -> Result<(&Network, &NeuralSpec, &str), EngineError> {
        if self.fitted.is_none() {
            return Err(EngineError::NotFitted);
        }
        let (trained, spec) = match (self.models.get(model), self.config.models.get(model)) {
            (Some(t), Some(s)) => (t, s),
            _ => return Err(EngineError::Range(format!("model index {model} is out of range"))),
        };
        let (Some(network), Some(neural)) = (trained.network(), spec.neural()) else {
            return Err(EngineError::Range(format!(
                "model '{}' is {}, which forecasts from each series' time stamps, not from a window; window forecasts need a neural model",
                spec.alias,
                spec.kind().name()
            )));
        };
        if self.config.local_scaler_type != ScalerType::Identity {
            return Err(EngineError::Range(
                "window forecasts need localScalerType 'identity' (a window does not say which series it is)".into(),
            ));
        }
        Ok((network, neural, &spec.alias))
    }

    /// Forecasts `h × outputs_per_point` values (`[h, outputs_per_point]`) into `out` from one window of the last
    /// `inputSize` raw values, reusing buffers so a steady stream of calls does not allocate.
    pub fn forecast_window(&self, model: usize, window: &[f64], out: &mut [f64]) -> Result<(), EngineError> {
        let (network, spec, alias) = self.window_model(model)?;
        if window.len() != spec.input_size() {
            return Err(EngineError::Range(format!(
                "window must hold inputSize = {} values for model '{alias}', got {}",
                spec.input_size(),
                window.len()
            )));
        }
        if let Some(i) = window.iter().position(|v| !v.is_finite()) {
            return Err(EngineError::Range(format!("window[{i}] is {}, not a finite number", window[i])));
        }
        let per_window = spec.h() * spec.shape().outputs_per_point;
        if out.len() != per_window {
            return Err(EngineError::Range(format!("out must hold {per_window} values, got {}", out.len())));
        }
        let _simd = crate::nn::fast::scoped_simd(self.config.simd_enabled);
        let mut guard = self.window_scratch[model].lock().unwrap_or_else(|p| p.into_inner());
        let scratch = &mut *guard;
        scratch.inputs.clear();
        scratch.inputs.extend(window.iter().map(|&v| v as f32));
        let scale = match spec.scaler_type {
            ScalerType::Identity => Scale::IDENTITY,
            kind => scale_window(kind, self.isa(), &mut scratch.inputs, &mut [], &mut scratch.values, &mut scratch.median),
        };
        let forecast = network.forward(&WindowBatch::univariate(&scratch.inputs, 1), &mut scratch.cache)?;
        for (o, &z) in out.iter_mut().zip(forecast) {
            *o = scale.invert(z as f64);
        }
        Ok(())
    }

    /// Values a window forecast of `model` writes: `h × outputs_per_point`.
    pub fn window_output_len(&self, model: usize) -> Option<usize> {
        self.config.models.get(model).map(|spec| spec.h() * spec.outputs_per_point())
    }
}
