//! The neural models' forecasts: every series after its stored tail (with its exogenous values), batches of raw
//! windows, and the single-window low-latency path. Batches run on fixed chunks of windows, so the numbers do not
//! depend on the thread count.

use std::ops::Range;

use rayon::prelude::*;

use super::batch::{sample_key, Batch, ExogColumns, ExogSource};
use super::network::Network;
use super::spec::{NeuralSpec, ScalerType};
use super::{Engine, EngineError, Fitted, ForecastScratch, FutureExog, Scale, SeriesState};
use crate::nn::loss::implicit_quantile::{Quantiles, MEDIAN};
use crate::nn::loss::distribution_loss::point_seed;
use crate::nn::loss::Loss;

/// What a forecast of the series needs besides the model: the fit, the series to forecast (the fitted ones or new
/// history), future exogenous values, the steps, and the quantile an IQLoss model forecasts.
#[derive(Clone, Copy)]
pub(super) struct SeriesRequest<'a> {
    pub fitted: &'a Fitted,
    pub series: &'a [SeriesState],
    pub future: Option<&'a FutureExog>,
    pub horizon: usize,
    pub quantile: f32,
}

/// Windows per parallel chunk of a batch forecast, at most: fewer where the model's `inferenceWindowsBatchSize` is
/// smaller. A window's forecast has the same bits in any chunk (the kernels do not depend on the rows).
pub(super) const CHUNK: usize = 16;

impl Engine {
    /// One model's forecasts for every series, `[series, horizon, columns]`: their stored tails (and
    /// exogenous values, `future` over the horizon) through the network, then the local scaling inverted.
    pub(super) fn forecast_series(&self, model: usize, network: &Network, spec: &NeuralSpec, alias: &str, request: &SeriesRequest<'_>) -> Result<Vec<f64>, EngineError> {
        let SeriesRequest { fitted, series, horizon, quantile, .. } = *request;
        if let Some(n_series) = spec.n_series() {
            super::multivariate::check_series(alias, n_series, series, &fitted.series)?;
        }
        let fill = series_fill(spec, alias, request)?;
        let per_window = spec.h() * spec.columns_per_point();
        let mut full = vec![0.0; series.len() * per_window];
        self.forecast_chunks(model, network, spec, quantile, series.len(), &mut full, fill)?;
        let outputs = spec.columns_per_point();
        let mut out = Vec::with_capacity(series.len() * horizon * outputs);
        for (state, forecast) in series.iter().zip(full.chunks_exact(per_window)) {
            out.extend(forecast[..horizon * outputs].iter().map(|&z| state.scale.invert(z)));
        }
        Ok(out)
    }

    /// Forecasts `n` windows into `out` (`[n, h, columns]`, window scaling inverted) in parallel over
    /// fixed chunks of windows, at `quantile` for an IQLoss model; `fill(batch, windows)` fills a chunk's batch with
    /// the windows of that range. For a multivariate model, `n` counts batch rows (each window's `nSeries` rows,
    /// series after series), and the chunks hold whole windows. A single chunk runs on the calling thread with `model`'s reused buffers (no thread
    /// hop, no allocation).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forecast_chunks(
        &self,
        model: usize,
        network: &Network,
        spec: &NeuralSpec,
        quantile: f32,
        n: usize,
        out: &mut [f64],
        fill: impl Fn(&mut Batch, Range<usize>) + Sync,
    ) -> Result<(), EngineError> {
        let per_window = spec.h() * spec.columns_per_point();
        let isa = self.isa();
        let slots = &self.forecast_scratch[model];
        let chunk_windows = spec.window_rows() * spec.inference_windows_batch_size.map_or(CHUNK, |w| w.min(CHUNK));
        if n <= chunk_windows {
            let _assist = self.assist_scope();
            let mut guard = slots.lock(0, 1);
            guard.batch.reset(n, spec.shape());
            fill(&mut guard.batch, 0..n);
            return forecast_filled(network, spec, isa, quantile, &mut guard, &mut out[..n * per_window]);
        }
        let chunks = n.div_ceil(chunk_windows);
        let forecast = self.threads.install(|| {
            out[..n * per_window].par_chunks_mut(chunk_windows * per_window).enumerate().try_for_each(|(chunk, out)| {
                let mut scratch = slots.lock(chunk, chunks);
                let windows = chunk * chunk_windows..chunk * chunk_windows + out.len() / per_window;
                scratch.batch.reset(windows.len(), spec.shape());
                fill(&mut scratch.batch, windows);
                forecast_filled(network, spec, isa, quantile, &mut scratch, out)
            })
        });
        // lowMemory keeps only the buffers of small forecasts (the calling thread's), not a batch forecast's.
        if self.config.low_memory {
            slots.release();
        }
        forecast
    }

    /// Forecasts `h × columns` values per window of raw values (`windows`: `[n, inputSize]` row-major)
    /// into `out` (`[n, h, columns]`): the batch form of [`Engine::forecast_window`]. For a multivariate
    /// model each window is `nSeries` rows of `inputSize` values (series in the fit's order), and so is its forecast.
    pub fn forecast_windows(&self, model: usize, windows: &[f64], out: &mut [f64]) -> Result<(), EngineError> {
        let (network, spec, alias) = self.window_model(model)?;
        let l = spec.input_size();
        let window_len = spec.window_rows() * l;
        if windows.is_empty() || !windows.len().is_multiple_of(window_len) {
            return Err(EngineError::Range(format!(
                "windows must hold a whole number of windows of {} = {window_len} values for model '{alias}', got {} values",
                window_size_words(spec),
                windows.len()
            )));
        }
        let n = windows.len() / l;
        if let Some(i) = windows.iter().position(|v| !v.is_finite()) {
            return Err(EngineError::Range(format!("window {} value {} is {}, not a finite number", i / l, i % l, windows[i])));
        }
        let per_window = spec.h() * spec.columns_per_point();
        if out.len() != n * per_window {
            return Err(EngineError::Range(format!("out must hold {n} x {per_window} = {} values, got {}", n * per_window, out.len())));
        }
        let _simd = crate::simd::scoped_simd(self.config.simd_enabled);
        let none = ExogColumns::default();
        let forecast = self.forecast_chunks(model, network, spec, MEDIAN, n, out, |batch, range| {
            for (k, w) in range.enumerate() {
                batch.fill_from_tail(k, &windows[w * l..(w + 1) * l], &none, &ExogSource::NONE);
            }
        });
        self.end_call(forecast)
    }

    /// The network a window forecast runs, its spec and alias: a fitted neural model without local scaling (a bare
    /// window does not say which series it is) and without exogenous variables (a window holds only y).
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
        if !neural.exog.sizes().is_empty() {
            return Err(EngineError::Range(format!(
                "model '{}' uses exogenous variables, which a window of y values does not carry; use update() and predict()",
                spec.alias
            )));
        }
        if self.config.local_scaler_type != ScalerType::Identity {
            return Err(EngineError::Range(
                "window forecasts need localScalerType 'identity' (a window does not say which series it is)".into(),
            ));
        }
        Ok((network, neural, &spec.alias))
    }

    /// Forecasts `h × columns` values (`[h, columns]`) into `out` from one window of the last
    /// `inputSize` raw values, reusing buffers so a steady stream of calls does not allocate. A multivariate
    /// model's window is the last `inputSize` values of each of its `nSeries` series, series after series in the
    /// fit's order (`[nSeries, inputSize]`), and its forecast `[nSeries, h, columns]`.
    pub fn forecast_window(&self, model: usize, window: &[f64], out: &mut [f64]) -> Result<(), EngineError> {
        let (network, spec, alias) = self.window_model(model)?;
        let rows = spec.window_rows();
        if window.len() != rows * spec.input_size() {
            return Err(EngineError::Range(format!(
                "window must hold {} = {} values for model '{alias}', got {}",
                window_size_words(spec),
                rows * spec.input_size(),
                window.len()
            )));
        }
        if let Some(i) = window.iter().position(|v| !v.is_finite()) {
            return Err(EngineError::Range(format!("window[{i}] is {}, not a finite number", window[i])));
        }
        let per_window = rows * spec.h() * spec.columns_per_point();
        if out.len() != per_window {
            return Err(EngineError::Range(format!("out must hold {per_window} values, got {}", out.len())));
        }
        let _simd = crate::simd::scoped_simd(self.config.simd_enabled);
        let _assist = self.assist_scope();
        let mut guard = self.forecast_scratch[model].lock(0, 1);
        let scratch = &mut *guard;
        scratch.batch.reset(rows, spec.shape());
        for (k, series) in window.chunks_exact(spec.input_size()).enumerate() {
            scratch.batch.fill_from_tail(k, series, &ExogColumns::default(), &ExogSource::NONE);
        }
        let forecast = forecast_filled(network, spec, self.isa(), MEDIAN, scratch, out);
        drop(guard);
        self.end_call(forecast)
    }

    /// Lets a forecast on the calling thread share its large layers with a second core, when the forecaster may
    /// use two threads or more (the pool's threads are idle meanwhile).
    fn assist_scope(&self) -> crate::nn::matmul::assist::AssistScope {
        crate::nn::matmul::assist::scoped(self.threads.current_num_threads() >= 2)
    }

    /// Values a window forecast of `model` writes: `h × columns`, for each series of a multivariate one.
    pub fn window_output_len(&self, model: usize) -> Option<usize> {
        let spec = self.config.models.get(model)?;
        Some(window_rows(spec) * spec.h() * spec.columns_per_point())
    }

    /// Values of one window of `model`: `inputSize`, for each series of a multivariate one.
    pub fn window_input_len(&self, model: usize) -> Option<usize> {
        let spec = self.config.models.get(model)?;
        Some(window_rows(spec) * spec.input_size())
    }
}

/// The inputs of `request`'s series as a batch fill (`fill(batch, windows)` of [`Engine::forecast_chunks`]): each
/// series' stored tail, exogenous tail and statics, and its future values over the horizon.
pub(super) fn series_fill<'a>(
    spec: &'a NeuralSpec,
    alias: &str,
    request: &SeriesRequest<'a>,
) -> Result<impl Fn(&mut Batch, Range<usize>) + Sync + 'a, EngineError> {
    let SeriesRequest { fitted, series, future, .. } = *request;
    let columns = fitted.exog_columns(alias, spec)?;
    let futures = match (columns.futr.is_empty(), future) {
        (true, _) => None,
        (false, Some(future)) => Some(future.per_series(&fitted.temporal, &columns, series, spec.h(), fitted.freq)?),
        (false, None) => {
            return Err(EngineError::Range(format!(
                "model '{alias}' has future exogenous variables ({}): give predict({{ futrData }}) with the next h = {} values of each series",
                spec.exog.futr.join(", "),
                spec.h()
            )))
        }
    };
    Ok(move |batch: &mut Batch, windows: Range<usize>| {
        for (k, s) in windows.enumerate() {
            let values = futures.as_ref().map(|f| &f[s]);
            let scales = &series[s].exog_scales;
            let future = |c: usize, step: usize| values.map_or(0.0, |v| scales[c].apply(v[c * spec.h() + step]));
            let source = ExogSource { temporal: &series[s].exog_tail, statics: &series[s].statics, future: Some(&future) };
            batch.fill_from_tail(k, &series[s].tail, &columns, &source);
            batch.sample_keys[k] = sample_key(&series[s].id, series[s].last_ds);
        }
    })
}

/// Batch rows of one window of `spec` (1 but for a multivariate model's `nSeries`).
fn window_rows(spec: &super::ModelSpec) -> usize {
    spec.neural().map_or(1, NeuralSpec::window_rows)
}

/// What a window of `spec` holds, for messages.
fn window_size_words(spec: &NeuralSpec) -> String {
    match spec.n_series() {
        Some(n) => format!("nSeries × inputSize = {n} × {}", spec.input_size()),
        None => "inputSize".into(),
    }
}

/// Scales the filled batch of `scratch`, runs the network (at `quantile` for an IQLoss model) and writes its
/// forecasts, window scaling inverted, into `out` (`[windows, h, columns]`).
fn forecast_filled(
    network: &Network,
    spec: &NeuralSpec,
    isa: crate::kernels::Isa,
    quantile: f32,
    scratch: &mut ForecastScratch,
    out: &mut [f64],
) -> Result<(), EngineError> {
    let per_window = spec.h() * spec.shape().outputs_per_point;
    scratch.batch.scale(spec.scaler_type, isa);
    let forecast = network.forward(&scratch.batch.view(None), Quantiles::All(quantile), &mut scratch.cache)?;
    if let (Loss::Distribution(loss), Some(paths)) = (&spec.loss, network.forecast_paths()) {
        // The network drew the sample paths itself (`[windows, h, paths]`, scaler space).
        let columns = loss.columns_per_point();
        for (i, (out, z)) in out.chunks_exact_mut(spec.h() * columns).zip(forecast.chunks_exact(spec.h() * paths)).enumerate() {
            let scale = scratch.batch.scales.get(i).copied().unwrap_or(Scale::IDENTITY);
            for (out, draws) in out.chunks_exact_mut(columns).zip(z.chunks_exact(paths)) {
                loss.forecast_from_draws(draws.iter().map(|&d| scale.invert(d as f64)), &mut scratch.points, out);
            }
        }
        return Ok(());
    }
    if let Loss::Distribution(loss) = &spec.loss {
        let (params, columns) = (loss.distribution.param_count(), loss.columns_per_point());
        for (i, (out, z)) in out.chunks_exact_mut(spec.h() * columns).zip(forecast.chunks_exact(per_window)).enumerate() {
            let scale = scratch.batch.scales.get(i).copied().unwrap_or(Scale::IDENTITY);
            let key = scratch.batch.sample_keys[i];
            for (step, (out, raw)) in out.chunks_exact_mut(columns).zip(z.chunks_exact(params)).enumerate() {
                let seed = point_seed(spec.shape().random_seed, key, step);
                loss.forecast_point(raw, scale.shift, scale.scale, seed, &mut scratch.points, out);
            }
        }
        return Ok(());
    }
    for (i, (out, z)) in out.chunks_exact_mut(per_window).zip(forecast.chunks_exact(per_window)).enumerate() {
        let scale = scratch.batch.scales.get(i).copied().unwrap_or(Scale::IDENTITY);
        out.iter_mut().zip(z).for_each(|(o, &z)| *o = scale.invert(z as f64));
    }
    Ok(())
}
