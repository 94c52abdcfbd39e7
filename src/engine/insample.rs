//! In-sample forecasts as NeuralForecast's `NeuralForecast.predict_insample`: every model forecasts the data it
//! was fitted on, window after window, `step_size` points apart. A series of `n` points first drops its first
//! `(n - h) mod step_size` points (NeuralForecast's `forefront_offset`); window `k` then forecasts the `h` points
//! from `offset + k·step_size` on, the last one ending at the series' last point, from the `inputSize` points
//! before it. Input steps before the kept data are zeros that the window scaling leaves out, as NeuralForecast's
//! padding with `available_mask = 0`. The windows run through the batch forecast path (fixed chunks of windows),
//! so the numbers do not depend on the thread count.

use super::batch::{sample_key, ExogColumns};
use super::cross_validation::CrossValidationResult;
use super::{local, Engine, EngineError, Method, Trained};
use crate::data::{advance, Panel};

/// One in-sample window: its series, the row its horizon starts at, and the first row of kept data.
#[derive(Debug, Clone, Copy)]
struct Window {
    series: usize,
    start: usize,
    first: usize,
}

/// The windows of every series of `panel` (in panel order), `step_size` apart, each of `h` steps; a series shorter
/// than `h` is an error (NeuralForecast: "`sizes` should be greater or equal to `h`").
fn windows(panel: &Panel, h: usize, step_size: usize) -> Result<Vec<Window>, EngineError> {
    let mut windows = Vec::new();
    for (s, series) in panel.series_iter().enumerate() {
        let n = series.len();
        if n < h {
            return Err(EngineError::Range(format!("series '{}' has {n} points, fewer than the horizon h = {h}", series.id)));
        }
        let first = (n - h) % step_size;
        windows.extend((0..=(n - h) / step_size).map(|k| Window { series: s, start: first + k * step_size, first }));
    }
    Ok(windows)
}

/// The order in which a model forecasts `count` windows cut series after series: as they are, or for a
/// multivariate model of `n_series` aligned series (each with `count / n_series` windows), window after window
/// with every series' rows together, as its batches hold them.
fn batch_order(count: usize, n_series: Option<usize>) -> Vec<usize> {
    match n_series {
        Some(n) => {
            let per_series = count / n;
            (0..count).map(|r| (r % n) * per_series + r / n).collect()
        }
        None => (0..count).collect(),
    }
}

impl Engine {
    /// Forecasts of the fitted data (NeuralForecast's `predict_insample(step_size)`): per series (in fit order) and
    /// window, `h` rows of `unique_id`, `ds`, `cutoff` (the point before the window), the actual `y` and one column
    /// per model output. Prophet gives its fitted values at each row's time. Needs the data of a fit in this
    /// session (a loaded checkpoint keeps only each series' tail).
    pub fn predict_insample(&self, step_size: usize) -> Result<CrossValidationResult, EngineError> {
        let fitted = self.fitted.as_ref().ok_or(EngineError::NotFitted)?;
        if step_size == 0 {
            return Err(EngineError::Range("stepSize must be at least 1, got 0".into()));
        }
        let panel = fitted.history.as_deref().ok_or_else(|| {
            EngineError::Range(
                "in-sample forecasts need the data the models were fitted on, which a loaded checkpoint does not keep; call fit() first".into(),
            )
        })?;
        let h = self.horizon();
        let windows = windows(panel, h, step_size)?;
        let rows = windows.len() * h;
        let mut result = CrossValidationResult {
            unique_id: Vec::with_capacity(rows),
            ds: Vec::with_capacity(rows),
            cutoff: Vec::with_capacity(rows),
            y: Vec::with_capacity(rows),
            columns: Vec::new(),
            aborted: false,
        };
        let mut sample_keys = Vec::with_capacity(windows.len());
        for window in &windows {
            let series = panel.series(window.series).expect("windows are cut from the panel's series");
            let cutoff = advance(series.ds[window.start], fitted.freq, -1)?;
            sample_keys.push(sample_key(series.id, cutoff));
            result.unique_id.extend(std::iter::repeat_n(series.id.to_string(), h));
            result.ds.extend_from_slice(&series.ds[window.start..window.start + h]);
            result.cutoff.extend(std::iter::repeat_n(cutoff, h));
            result.y.extend_from_slice(&series.y[window.start..window.start + h]);
        }
        let _simd = crate::simd::scoped_simd(self.config.simd_enabled);
        let (states, scaled) = self.local_scaling(panel, &fitted.temporal, &fitted.statics)?;
        let temporal: Vec<&str> = scaled.exogenous().iter().map(|c| c.name.as_str()).collect();
        let statics: Vec<&str> = scaled.statics().iter().map(|c| c.name.as_str()).collect();
        for (index, (model, spec)) in self.models.iter().zip(&self.config.models).enumerate() {
            match (model, &spec.method) {
                (Trained::Neural(network), Method::Neural(neural)) => {
                    let exog = ExogColumns::resolve(&spec.alias, &neural.exog, &temporal, &statics)?;
                    let outputs = neural.columns_per_point();
                    let per_window = h * outputs;
                    let order = batch_order(windows.len(), neural.n_series());
                    let mut batched = vec![0.0; windows.len() * per_window];
                    self.forecast_chunks(index, network, neural, crate::nn::loss::implicit_quantile::MEDIAN, windows.len(), &mut batched, |batch, range| {
                        for (k, &w) in order[range].iter().enumerate() {
                            batch.sample_keys[k] = sample_keys[w];
                            let w = &windows[w];
                            batch.fill_padded(k, &scaled, &exog, w.series, w.start, w.first, w.start);
                        }
                    })?;
                    let mut out = vec![0.0; windows.len() * per_window];
                    for (&w, forecast) in order.iter().zip(batched.chunks_exact(per_window)) {
                        out[w * per_window..(w + 1) * per_window].copy_from_slice(forecast);
                    }
                    for (k, column) in spec.output_columns().into_iter().enumerate() {
                        let values = windows.iter().zip(out.chunks_exact(per_window)).flat_map(|(w, forecast)| {
                            let scale = states[w.series].scale;
                            forecast.iter().skip(k).step_by(outputs).map(move |&z| scale.invert(z))
                        });
                        result.columns.push((column, values.collect()));
                    }
                }
                (Trained::Prophet(fits), Method::Prophet(prophet)) => {
                    let fitted_values = panel
                        .series_iter()
                        .zip(fits)
                        .map(|(series, fit)| {
                            let t: Vec<f64> = series.ds.iter().map(|&ds| local::seconds(ds)).collect();
                            let forecast = fit.predict(&t, &[], prophet.random_seed);
                            forecast.map(|f| f.yhat).map_err(|e| EngineError::Range(format!("series '{}': {e}", series.id)))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let values = windows.iter().flat_map(|w| &fitted_values[w.series][w.start..w.start + h]).copied().collect();
                    result.columns.push((spec.alias.clone(), values));
                }
                _ => unreachable!("a model's learned state always matches its method"),
            }
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(lengths: &[usize]) -> Panel {
        Panel::from_lengths(lengths, |_, t| t as f64).unwrap()
    }

    #[test]
    fn windows_follow_neuralforecasts_offsets() {
        // n = 10, h = 3, step 3: offset (10 - 3) mod 3 = 1, windows at 1, 4, 7 (the last ends at row 9).
        let cut = windows(&panel(&[10, 3]), 3, 3).unwrap();
        let starts: Vec<(usize, usize, usize)> = cut.iter().map(|w| (w.series, w.start, w.first)).collect();
        assert_eq!(starts, [(0, 1, 1), (0, 4, 1), (0, 7, 1), (1, 0, 0)]);
        assert_eq!(windows(&panel(&[10]), 3, 1).unwrap().len(), 8);
        assert!(windows(&panel(&[2]), 3, 1).is_err());
    }

    #[test]
    fn padded_steps_are_zeros_left_out_of_the_window_scale() {
        use super::super::batch::Batch;
        use super::super::spec::ScalerType;
        use super::super::Scale;
        use crate::models::{ExogSizes, ModelShape};
        let shape = ModelShape { h: 2, input_size: 4, outputs_per_point: 1, exog: ExogSizes::none(), random_seed: 0 };
        let data = panel(&[10]);
        let mut batch = Batch::default();
        batch.reset(2, &shape);
        // Input rows -3..1 with data from row 1 on (row 0 dropped as NeuralForecast's offset), and rows 3..7.
        batch.fill_padded(0, &data, &ExogColumns::default(), 0, 1, 1, 1);
        batch.fill_padded(1, &data, &ExogColumns::default(), 0, 7, 1, 7);
        assert_eq!(batch.inputs, [0.0, 0.0, 0.0, 0.0, 3.0, 4.0, 5.0, 6.0]);
        batch.reset(1, &shape);
        batch.fill_padded(0, &data, &ExogColumns::default(), 0, 4, 1, 4);
        assert_eq!(batch.inputs, [0.0, 1.0, 2.0, 3.0]);
        batch.scale(ScalerType::Standard, crate::kernels::Isa::Scalar);
        let observed = Scale::of(ScalerType::Standard, &[1.0, 2.0, 3.0], crate::kernels::Isa::Scalar, &mut Vec::new());
        assert_eq!(batch.scales, [observed]);
        assert_eq!(batch.inputs[0], observed.apply(0.0) as f32);
    }
}
