//! Batches of windows as the networks read them (NeuralForecast's `windows_batch`): y inputs, targets and their
//! mask, and the exogenous inputs, filled from a panel (training, validation) or from the stored tails of the
//! series (forecasts), then window-scaled channel by channel as NeuralForecast's `_normalization` does.

use super::scaler::Scale;
use super::spec::{ExogLists, ScalerType};
use super::EngineError;
use crate::data::Panel;
use crate::kernels::Isa;
use crate::models::{ModelShape, WindowBatch};

/// Where a model's exogenous columns are among the temporal and static columns of what holds the data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ExogColumns {
    pub futr: Vec<usize>,
    pub hist: Vec<usize>,
    pub stat: Vec<usize>,
}

impl ExogColumns {
    /// Finds each listed column by name among `temporal` and `statics`; the error names the model, list and column.
    pub fn resolve(alias: &str, lists: &ExogLists, temporal: &[&str], statics: &[&str]) -> Result<ExogColumns, EngineError> {
        let find = |list: &str, names: &[String], among: &[&str], kind: &str| {
            names
                .iter()
                .map(|name| {
                    among.iter().position(|c| c == name).ok_or_else(|| {
                        let have = if among.is_empty() { "none".to_string() } else { among.join(", ") };
                        EngineError::Range(format!(
                            "model '{alias}': {list} column '{name}' is not in the {kind} data (its {kind} columns: {have})"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(ExogColumns {
            futr: find("futrExogList", &lists.futr, temporal, "temporal")?,
            hist: find("histExogList", &lists.hist, temporal, "temporal")?,
            stat: find("statExogList", &lists.stat, statics, "static")?,
        })
    }
}

/// The windows' values in [`WindowBatch`]'s layout, with targets and their 0/1 mask; buffers are reused call
/// after call.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    shape: Option<ModelShape>,
    windows: usize,
    /// `[n, L]`.
    pub inputs: Vec<f32>,
    /// `[n, h]`, 0 where the mask is 0.
    pub targets: Vec<f32>,
    pub mask: Vec<f32>,
    /// `[n, L, hist]`, `[n, L + h, futr]`, `[n, stat]`.
    hist: Vec<f32>,
    futr: Vec<f32>,
    stat: Vec<f32>,
    /// Per window, the padded zeros that begin its input (left out of its scaling statistics, as NeuralForecast's
    /// mask leaves them out).
    padded: Vec<usize>,
    /// The scale of each window's y, once scaled (empty under the identity scaler).
    pub scales: Vec<Scale>,
    values: Vec<f64>,
    scratch: Vec<f64>,
}

impl Batch {
    /// Sizes the buffers for `windows` windows of a model of `shape` (contents to be filled).
    pub fn reset(&mut self, windows: usize, shape: &ModelShape) {
        let ModelShape { h, input_size: l, exog, .. } = *shape;
        self.shape = Some(*shape);
        self.windows = windows;
        self.inputs.resize(windows * l, 0.0);
        self.targets.resize(windows * h, 0.0);
        self.mask.resize(windows * h, 0.0);
        self.hist.resize(windows * l * exog.hist, 0.0);
        self.futr.resize(windows * (l + h) * exog.futr, 0.0);
        self.stat.resize(windows * exog.stat, 0.0);
        self.padded.clear();
        self.padded.resize(windows, 0);
        self.scales.clear();
    }

    fn shape(&self) -> ModelShape {
        self.shape.expect("reset before use")
    }

    /// Window `k` from series `series` of `panel`, input starting at row `start` of the series (before its first
    /// row, a negative `start`, the input is padded with zeros, as are the exogenous values): the targets after
    /// the input up to row `available` (exclusive) are observed, later ones masked; future exogenous values past
    /// the series' end are 0.
    pub fn fill_from_panel(&mut self, k: usize, panel: &Panel, exog: &ExogColumns, series: usize, start: isize, available: usize) {
        let ModelShape { h, input_size: l, .. } = self.shape();
        let Some(s) = panel.series(series) else { return };
        let padded = start.min(0).unsigned_abs().min(l);
        self.padded[k] = padded;
        // The row of step `t` of the window, None in the padding.
        let row = |t: usize| (t >= padded).then(|| (start + t as isize) as usize);
        let observed = available.saturating_sub((start + l as isize) as usize).min(h);
        let inputs = &mut self.inputs[k * l..(k + 1) * l];
        inputs[..padded].fill(0.0);
        inputs[padded..].iter_mut().zip(&s.y[row(padded).unwrap_or(0)..]).for_each(|(i, &v)| *i = v as f32);
        let first_target = (start + l as isize) as usize;
        for j in 0..h {
            let (target, mask) = if j < observed { (s.y[first_target + j] as f32, 1.0) } else { (0.0, 0.0) };
            (self.targets[k * h + j], self.mask[k * h + j]) = (target, mask);
        }
        let base = panel.offsets()[series];
        let temporal = panel.exogenous();
        for (x, &c) in exog.hist.iter().enumerate() {
            for t in 0..l {
                self.hist[(k * l + t) * exog.hist.len() + x] = row(t).map_or(0.0, |r| temporal[c].values[base + r] as f32);
            }
        }
        for (f, &c) in exog.futr.iter().enumerate() {
            for t in 0..l + h {
                let value = row(t).filter(|&r| r < s.len()).map_or(0.0, |r| temporal[c].values[base + r] as f32);
                self.futr[(k * (l + h) + t) * exog.futr.len() + f] = value;
            }
        }
        for (j, &c) in exog.stat.iter().enumerate() {
            self.stat[k * exog.stat.len() + j] = panel.statics()[c].values[series] as f32;
        }
    }

    /// Window `k` from the last `L` values of `tail`, with the exogenous values of `source` (no targets).
    pub fn fill_from_tail(&mut self, k: usize, tail: &[f64], exog: &ExogColumns, source: &ExogSource<'_>) {
        let ModelShape { h, input_size: l, .. } = self.shape();
        self.inputs[k * l..(k + 1) * l].iter_mut().zip(&tail[tail.len() - l..]).for_each(|(i, &v)| *i = v as f32);
        for (x, &c) in exog.hist.iter().enumerate() {
            let past = &source.temporal[c];
            for t in 0..l {
                self.hist[(k * l + t) * exog.hist.len() + x] = past[past.len() - l + t] as f32;
            }
        }
        for (f, &c) in exog.futr.iter().enumerate() {
            let past = &source.temporal[c];
            for t in 0..l + h {
                let value = if t < l { past[past.len() - l + t] } else { source.future.map_or(0.0, |future| future(c, t - l)) };
                self.futr[(k * (l + h) + t) * exog.futr.len() + f] = value as f32;
            }
        }
        for (j, &c) in exog.stat.iter().enumerate() {
            self.stat[k * exog.stat.len() + j] = source.statics[c] as f32;
        }
    }

    /// Scales each window by the statistics of its input part (`kind`, NeuralForecast's `scaler_type`): y with its
    /// targets, each historic exogenous channel, each future exogenous channel over its whole length.
    pub fn scale(&mut self, kind: ScalerType, isa: Isa) {
        self.scales.clear();
        if kind == ScalerType::Identity {
            return;
        }
        let ModelShape { h, input_size: l, exog, .. } = self.shape();
        for k in 0..self.windows {
            let fitted = self.padded[k]..l;
            let scale = scale_channel(kind, isa, &mut self.inputs[k * l..(k + 1) * l], 0, 1, fitted.clone(), &mut self.values, &mut self.scratch);
            self.targets[k * h..(k + 1) * h].iter_mut().for_each(|v| *v = scale.apply(*v as f64) as f32);
            self.scales.push(scale);
            for x in 0..exog.hist {
                let window = &mut self.hist[k * l * exog.hist..(k + 1) * l * exog.hist];
                scale_channel(kind, isa, window, x, exog.hist, fitted.clone(), &mut self.values, &mut self.scratch);
            }
            for f in 0..exog.futr {
                let window = &mut self.futr[k * (l + h) * exog.futr..(k + 1) * (l + h) * exog.futr];
                scale_channel(kind, isa, window, f, exog.futr, fitted.clone(), &mut self.values, &mut self.scratch);
            }
        }
    }

    /// The batch as the network reads it.
    pub fn view(&self, train_seed: Option<u64>) -> WindowBatch<'_> {
        WindowBatch {
            batch: self.windows,
            insample_y: &self.inputs,
            hist_exog: &self.hist,
            futr_exog: &self.futr,
            stat_exog: &self.stat,
            train_seed,
        }
    }
}

/// Scales channel `channel` of `values` (`stride` channels interleaved) by the statistics of its steps `fitted`
/// (the observed input), every step of the slice included, and returns the scale.
#[allow(clippy::too_many_arguments)]
fn scale_channel(
    kind: ScalerType,
    isa: Isa,
    values: &mut [f32],
    channel: usize,
    stride: usize,
    fitted: std::ops::Range<usize>,
    buffer: &mut Vec<f64>,
    scratch: &mut Vec<f64>,
) -> Scale {
    buffer.clear();
    buffer.extend(values.iter().skip(channel).step_by(stride).take(fitted.end).skip(fitted.start).map(|&v| v as f64));
    let scale = Scale::of(kind, buffer, isa, scratch);
    values.iter_mut().skip(channel).step_by(stride).for_each(|v| *v = scale.apply(*v as f64) as f32);
    scale
}

/// The exogenous values a forecast of one series reads: the stored tails of the temporal columns, the series'
/// static values, and `future(column, step)` for the future exogenous columns over the horizon.
pub(crate) struct ExogSource<'a> {
    pub temporal: &'a [Vec<f64>],
    pub statics: &'a [f64],
    pub future: Option<&'a dyn Fn(usize, usize) -> f64>,
}

impl ExogSource<'_> {
    pub const NONE: ExogSource<'static> = ExogSource { temporal: &[], statics: &[], future: None };
}
