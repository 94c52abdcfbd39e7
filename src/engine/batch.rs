//! Batches of windows as the networks read them (NeuralForecast's `windows_batch`): y inputs, targets and their
//! mask, and the exogenous inputs, filled from a panel (training, validation) or from the stored tails of the
//! series (forecasts), then window-scaled channel by channel as NeuralForecast's `_normalization` does.

use super::scaler::Scale;
use super::spec::{ExogLists, ScalerType};
use super::EngineError;
use crate::data::Panel;
use crate::kernels::Isa;
use crate::nn::heap_bytes::HeapBytes;
use crate::models::{ModelShape, WindowBatch};
use crate::nn::loss::LossTargets;

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
    /// The scale of each window's y, once scaled (empty under the identity scaler).
    pub scales: Vec<Scale>,
    /// `scales` as the loss reads them, `(shift, scale)` pairs (the distribution losses' data space).
    window_scales: Vec<(f64, f64)>,
    /// Each window's identity in a forecast (its series and cutoff, [`sample_key`]), which seeds the draws of a
    /// distribution loss's forecast; 0 for a bare window.
    pub sample_keys: Vec<u64>,
    /// Leading input steps of each window that lie before its series' data: zeros that the window scaling
    /// leaves out (NeuralForecast's `available_mask`).
    padding: Vec<usize>,
    /// How many of the last inputs are also targets: a recurrent model's teacher forcing, whose targets begin
    /// this many steps before the input ends (0: after it).
    target_shift: usize,
    values: Vec<f64>,
    scratch: Vec<f64>,
}

impl HeapBytes for Batch {
    fn heap_bytes(&self) -> usize {
        let Batch { shape: _, windows: _, target_shift: _, inputs, targets, mask, hist, futr, stat, scales, window_scales, sample_keys, padding, values, scratch } = self;
        let f32s: usize = [inputs, targets, mask, hist, futr, stat].iter().map(|v| v.heap_bytes()).sum();
        f32s + scales.capacity() * std::mem::size_of::<Scale>()
            + window_scales.capacity() * std::mem::size_of::<(f64, f64)>()
            + sample_keys.capacity() * std::mem::size_of::<u64>()
            + padding.capacity() * std::mem::size_of::<usize>()
            + values.heap_bytes()
            + scratch.heap_bytes()
    }
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
        self.scales.clear();
        self.window_scales.clear();
        self.sample_keys.clear();
        self.sample_keys.resize(windows, 0);
        self.padding.clear();
        self.padding.resize(windows, 0);
        self.target_shift = 0;
    }

    /// Makes the windows filled next teacher forced: their targets begin `shift` steps before their input ends
    /// (see [`crate::models::ModelConfig::training_horizon`]).
    pub fn set_target_shift(&mut self, shift: usize) {
        self.target_shift = shift;
    }

    fn shape(&self) -> ModelShape {
        self.shape.expect("reset before use")
    }

    /// Window `k` from series `series` of `panel`, input starting at row `start` of the series (before its first
    /// row, a negative `start`, the input is padded with zeros, as are the exogenous values): the targets after
    /// the input up to row `available` (exclusive) are observed, later ones masked; future exogenous values past
    /// the series' end are 0.
    pub fn fill_from_panel(&mut self, k: usize, panel: &Panel, exog: &ExogColumns, series: usize, start: isize, available: usize) {
        let l = self.shape().input_size as isize;
        self.fill_padded(k, panel, exog, series, (start + l).max(0) as usize, 0, available);
    }

    /// As [`Batch::fill_from_panel`] for the window whose input ends at row `end` (exclusive) of the series, rows
    /// before `first` (negative ones included) standing as zeros outside the data, as NeuralForecast pads the
    /// start of a series for in-sample forecasts.
    #[allow(clippy::too_many_arguments)]
    pub fn fill_padded(&mut self, k: usize, panel: &Panel, exog: &ExogColumns, series: usize, end: usize, first: usize, available: usize) {
        let ModelShape { h, input_size: l, .. } = self.shape();
        let Some(s) = panel.series(series) else { return };
        let padding = (first + l).saturating_sub(end).min(l);
        self.padding[k] = padding;
        // Row of step `t` of the window (input, then horizon), when it holds data.
        let row = |t: usize| (end + t).checked_sub(l).filter(|&r| r >= first && r < s.len());
        let first_target = end.saturating_sub(self.target_shift);
        let observed = available.saturating_sub(first_target).min(h);
        self.inputs[k * l..(k + 1) * l].iter_mut().enumerate().for_each(|(t, i)| *i = row(t).map_or(0.0, |r| s.y[r] as f32));
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
                self.futr[(k * (l + h) + t) * exog.futr.len() + f] = row(t).map_or(0.0, |r| temporal[c].values[base + r] as f32);
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
        self.window_scales.clear();
        if kind == ScalerType::Identity {
            return;
        }
        let ModelShape { h, input_size: l, exog, .. } = self.shape();
        for k in 0..self.windows {
            let observed = self.padding[k]..l;
            let scale = scale_channel(kind, isa, &mut self.inputs[k * l..(k + 1) * l], 0, 1, &observed, &mut self.values, &mut self.scratch);
            self.targets[k * h..(k + 1) * h].iter_mut().for_each(|v| *v = scale.apply(*v as f64) as f32);
            self.scales.push(scale);
            self.window_scales.push((scale.shift, scale.scale));
            for x in 0..exog.hist {
                let window = &mut self.hist[k * l * exog.hist..(k + 1) * l * exog.hist];
                scale_channel(kind, isa, window, x, exog.hist, &observed, &mut self.values, &mut self.scratch);
            }
            for f in 0..exog.futr {
                let window = &mut self.futr[k * (l + h) * exog.futr..(k + 1) * (l + h) * exog.futr];
                scale_channel(kind, isa, window, f, exog.futr, &observed, &mut self.values, &mut self.scratch);
            }
        }
    }

    /// The targets, their mask and the (scaled) inputs, as the loss reads them.
    pub fn loss_targets(&self) -> LossTargets<'_> {
        LossTargets { y: &self.targets, mask: Some(&self.mask), insample: &self.inputs, windows: self.windows, quantiles: None, window_scales: &self.window_scales }
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
            sample_keys: &self.sample_keys,
        }
    }
}

/// Scales channel `channel` of `values` (`stride` channels interleaved) by the statistics of its `observed`
/// steps (the input part outside any padding), every step of the slice included, and returns the scale.
#[allow(clippy::too_many_arguments)]
fn scale_channel(
    kind: ScalerType,
    isa: Isa,
    values: &mut [f32],
    channel: usize,
    stride: usize,
    observed: &std::ops::Range<usize>,
    buffer: &mut Vec<f64>,
    scratch: &mut Vec<f64>,
) -> Scale {
    buffer.clear();
    buffer.extend(values.iter().skip(channel + observed.start * stride).step_by(stride).take(observed.len()).map(|&v| v as f64));
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

/// The identity of a forecast window that seeds a distribution loss's draws: its series id and the ds of its last
/// input (FNV-1a over both), so a series' forecast draws the same values whichever series, batch or thread it
/// is forecast with.
pub(crate) fn sample_key(id: &str, last_ds: crate::data::Ds) -> u64 {
    let bytes = id.bytes().chain(last_ds.to_epoch_millis().to_bits().to_le_bytes());
    bytes.fold(0xCBF2_9CE4_8422_2325, |hash, byte| (hash ^ byte as u64).wrapping_mul(0x0100_0000_01B3))
}
