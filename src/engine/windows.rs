//! NeuralForecast's training windows and how a step draws them: an epoch is a shuffled pass over the series in
//! batches of `batchSize` series; a step takes the next batch and draws `windowsBatchSize` windows among the
//! windows of its series (without replacement when they have enough, else with replacement). The windows are
//! indexed, never materialised, and every draw comes from one seeded ChaCha stream, so the windows of each step
//! depend on the data, the options and the seed alone.

use std::collections::HashSet;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::error::EngineError;
use super::spec::NeuralSpec;
use crate::data::Panel;

/// A training window: `input_size` values from row `start` of series `series`, then `h` targets. A negative
/// `start` reads padded zeros (masked out of the window's scaling) before the series' first row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub series: usize,
    pub start: isize,
}

/// The training windows of every series as NeuralForecast cuts them (`_create_windows`): each series is padded
/// on the left to the longest one (and with `inputSize - 1` more zeros under `startPaddingEnabled`) and with `h`
/// zeros on the right, cut every `stepSize` rows from the start of the padded length, and a window is kept when
/// at least one of its inputs and one of its targets are observed.
pub(crate) struct TrainingWindows {
    input_size: usize,
    h: usize,
    step: usize,
    /// Training length (rows before the held-out part) of each series.
    train_lengths: Vec<usize>,
    /// Per series, the start of its first kept window, relative to its first row.
    first: Vec<isize>,
    /// Per series, how many windows are kept.
    counts: Vec<usize>,
}

impl TrainingWindows {
    pub fn new(panel: &Panel, spec: &NeuralSpec, holdout: usize) -> Result<TrainingWindows, EngineError> {
        // A recurrent model's window is its input and `h_train` targets.
        let (window, _, _) = spec.training_windows();
        let (input_size, h, step) = (window.input_size, window.h, spec.step_size);
        let what = if holdout > 0 { "inputSize + validationSize" } else { "inputSize" };
        panel.check_min_length(input_size + holdout, what)?;
        let train_lengths: Vec<usize> = panel.series_iter().map(|s| s.len() - holdout).collect();
        let longest = train_lengths.iter().copied().max().unwrap_or(0);
        let pad = if spec.start_padding_enabled { input_size - 1 } else { 0 };
        // The last window start of the padded grid whose first target is observed (the same for every series,
        // which all end where the padded length less `h` ends).
        let last = (pad + longest) as isize - input_size as isize - 1;
        let (mut first, mut counts) = (Vec::with_capacity(train_lengths.len()), Vec::with_capacity(train_lengths.len()));
        for (s, series) in panel.series_iter().enumerate() {
            let begins = (pad + longest - train_lengths[s]) as isize;
            // The first grid point whose last input is observed.
            let lowest = (begins - input_size as isize + 1).max(0) as usize;
            let start = (lowest.div_ceil(step) * step) as isize;
            if start > last {
                return Err(too_short(series.id, train_lengths[s], holdout > 0, spec));
            }
            first.push(start - begins);
            counts.push(((last - start) / step as isize) as usize + 1);
        }
        Ok(TrainingWindows { input_size, h, step, train_lengths, first, counts })
    }

    pub fn n_series(&self) -> usize {
        self.train_lengths.len()
    }

    /// Rows of `series` before its held-out part.
    pub fn train_length(&self, series: usize) -> usize {
        self.train_lengths[series]
    }

    /// The `k`-th kept window of `series`.
    fn window(&self, series: usize, k: usize) -> Window {
        Window { series, start: self.first[series] + (k * self.step) as isize }
    }

    /// Observed target points of `windows`.
    pub fn observed_in(&self, windows: &[Window]) -> usize {
        windows.iter().map(|w| self.observed_targets(w)).sum()
    }

    /// Target points of `windows`, observed or not.
    pub fn targets_in(&self, windows: &[Window]) -> usize {
        windows.len() * self.h
    }

    /// Observed targets of `w`: those before the series' training end (a kept window has at least one).
    pub fn observed_targets(&self, w: &Window) -> usize {
        let first_target = (w.start + self.input_size as isize) as usize;
        (self.train_lengths[w.series] - first_target).min(self.h)
    }
}

/// The error for a series without a training window, naming what would give it one.
fn too_short(id: &str, rows: usize, held_out: bool, spec: &NeuralSpec) -> EngineError {
    let before = if held_out { " before the validation part" } else { "" };
    let mut cures = Vec::new();
    if !spec.start_padding_enabled {
        cures.push("set startPaddingEnabled: true".to_string());
    }
    cures.push("use a smaller inputSize".into());
    if spec.step_size > 1 {
        cures.push(format!("a stepSize below {}", spec.step_size));
    }
    EngineError::Range(format!(
        "series '{id}' is too short for training: its {rows} rows{before} give no window with an observed target at inputSize {}; {}",
        spec.input_size(),
        cures.join(", or ")
    ))
}

/// The draws of a training run: the series batches of each epoch and the windows of each step.
pub(crate) struct WindowSampler<'a> {
    index: &'a TrainingWindows,
    batch_size: usize,
    windows_batch_size: usize,
    /// Batch rows of a window: 1, or a multivariate model's `nSeries` (every series cut at the same time).
    window_rows: usize,
    rng: ChaCha8Rng,
    /// The series in this epoch's order, and where the next batch begins.
    order: Vec<usize>,
    next: usize,
    /// Cumulative window counts of the step's series.
    cumulative: Vec<usize>,
    drawn: HashSet<usize>,
}

impl<'a> WindowSampler<'a> {
    pub fn new(index: &'a TrainingWindows, batch_size: usize, windows_batch_size: usize, window_rows: usize, seed: u64) -> WindowSampler<'a> {
        let n = index.n_series();
        WindowSampler {
            index,
            batch_size,
            windows_batch_size,
            window_rows,
            rng: ChaCha8Rng::seed_from_u64(seed),
            order: (0..n).collect(),
            next: n,
            cumulative: Vec::with_capacity(batch_size.min(n) + 1),
            drawn: HashSet::with_capacity(windows_batch_size),
        }
    }

    /// Steps in one epoch: batches of `batch_size` series, the last one possibly smaller (NeuralForecast's
    /// loader keeps it: `drop_last_loader=False`); one for a multivariate model, whose batch holds every series
    /// (NeuralForecast raises its `batch_size` to `n_series`).
    pub fn steps_per_epoch(&self) -> usize {
        if self.window_rows > 1 {
            return 1;
        }
        self.index.n_series().div_ceil(self.batch_size)
    }

    /// Draws the next step's `windows_batch_size` windows into `out` (a multivariate window as its
    /// `window_rows` rows, series after series).
    pub fn draw(&mut self, out: &mut Vec<Window>) {
        out.clear();
        if self.window_rows > 1 {
            // NeuralForecast's multivariate windows: every series cut at the same time, drawn among the time
            // steps (the series are aligned, so each has the same windows).
            let (index, rows) = (self.index, self.window_rows);
            draw_indices(&mut self.rng, &mut self.drawn, index.counts[0], self.windows_batch_size, |k| {
                out.extend((0..rows).map(|s| index.window(s, k)));
            });
            return;
        }
        if self.next >= self.order.len() {
            // A new epoch: the series in a fresh random order (Fisher-Yates).
            for i in (1..self.order.len()).rev() {
                let j = self.rng.random_range(0..=i);
                self.order.swap(i, j);
            }
            self.next = 0;
        }
        let end = (self.next + self.batch_size).min(self.order.len());
        let series = &self.order[self.next..end];
        self.next = end;
        self.cumulative.clear();
        self.cumulative.push(0);
        for &s in series {
            self.cumulative.push(self.cumulative[self.cumulative.len() - 1] + self.index.counts[s]);
        }
        let total = self.cumulative[self.cumulative.len() - 1];
        let (index, cumulative) = (self.index, &self.cumulative);
        draw_indices(&mut self.rng, &mut self.drawn, total, self.windows_batch_size, |flat| {
            let k = cumulative.partition_point(|&c| c <= flat) - 1;
            out.push(index.window(series[k], flat - cumulative[k]));
        });
    }
}

/// Draws `batch` indices below `total` into `push`: NeuralForecast's `torch.randperm(n)[:batch]`, a uniform
/// `batch`-subset, by Floyd's algorithm in `batch` draws (no table of all windows), or `torch.randint` (with
/// replacement) when there are fewer than `batch`.
fn draw_indices(rng: &mut ChaCha8Rng, drawn: &mut HashSet<usize>, total: usize, batch: usize, mut push: impl FnMut(usize)) {
    if total < batch {
        (0..batch).for_each(|_| push(rng.random_range(0..total)));
        return;
    }
    drawn.clear();
    for j in total - batch..total {
        let pick = rng.random_range(0..=j);
        let flat = if drawn.insert(pick) { pick } else { j };
        if flat == j {
            drawn.insert(j);
        }
        push(flat);
    }
}

#[cfg(test)]
#[path = "windows_tests.rs"]
mod tests;
