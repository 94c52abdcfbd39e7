//! Training windows (`input_size` inputs followed by `horizon` targets) over all series of a
//! [`Panel`], indexed without materialising them, so a global model can sample across series.
//!
//! Valid windows lie wholly inside a series' training part (all but its last `holdout` rows),
//! one per start position (NeuralForecast's `step_size = 1`). NeuralForecast instead pads each
//! series with `horizon` zeros at the end (and with `start_padding_enabled` also `input_size - 1`
//! at the start) and keeps windows with at least one observed target, masking the padding in
//! the loss; we require `input_size + horizon + holdout` rows per series and never pad.

use rand::{Rng, RngExt};

use super::error::DataError;
use super::panel::Panel;

/// A window: rows `start..start + input_size + horizon` of series `series` of the panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    pub series: usize,
    pub start: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowIndex {
    input_size: usize,
    horizon: usize,
    /// `n_series + 1` cumulative window counts: series `s` owns window numbers
    /// `window_offsets[s]..window_offsets[s + 1]`.
    window_offsets: Vec<usize>,
}

impl WindowIndex {
    /// Indexes the windows of every series, leaving out each series' last `holdout` rows
    /// (NeuralForecast's `val_size + test_size`). Errors if any series is too short for one window.
    pub fn new(
        panel: &Panel,
        input_size: usize,
        horizon: usize,
        holdout: usize,
    ) -> Result<WindowIndex, DataError> {
        if input_size == 0 || horizon == 0 {
            return Err(DataError::InvalidWindow {
                input_size,
                horizon,
            });
        }
        let (required, what) = match holdout {
            0 => (input_size.saturating_add(horizon), "inputSize + horizon"),
            _ => (
                input_size.saturating_add(horizon).saturating_add(holdout),
                "inputSize + horizon + holdout",
            ),
        };
        panel.check_min_length(required, what)?;
        let window_offsets = std::iter::once(0)
            .chain(panel.series_iter().scan(0, |total, series| {
                *total += series.len() - required + 1;
                Some(*total)
            }))
            .collect();
        Ok(WindowIndex {
            input_size,
            horizon,
            window_offsets,
        })
    }

    pub fn input_size(&self) -> usize {
        self.input_size
    }

    pub fn horizon(&self) -> usize {
        self.horizon
    }

    /// The number of windows over all series.
    pub fn len(&self) -> usize {
        self.window_offsets.last().copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of windows of series `series` (0 past the last series).
    pub fn series_count(&self, series: usize) -> usize {
        match (
            self.window_offsets.get(series),
            self.window_offsets.get(series + 1),
        ) {
            (Some(start), Some(end)) => end - start,
            _ => 0,
        }
    }

    /// Window number `index` (`0..len()`): series by series, start by start.
    pub fn locate(&self, index: usize) -> Option<Window> {
        if index >= self.len() {
            return None;
        }
        // The last series whose first window number is at most `index`.
        let series = self.window_offsets.partition_point(|&first| first <= index) - 1;
        Some(Window {
            series,
            start: index - self.window_offsets[series],
        })
    }

    /// `batch` windows drawn uniformly with replacement from all windows of all series;
    /// the same `rng` state gives the same windows.
    pub fn sample<R: Rng + ?Sized>(&self, batch: usize, rng: &mut R) -> Vec<Window> {
        if self.is_empty() {
            return Vec::new();
        }
        (0..batch)
            .filter_map(|_| self.locate(rng.random_range(0..self.len())))
            .collect()
    }

    /// Copies `window`'s inputs into `input` (`input_size` values) and its targets into
    /// `target` (`horizon` values). `panel` must be the one this index was built from.
    pub fn copy_window(
        &self,
        panel: &Panel,
        window: Window,
        input: &mut [f32],
        target: &mut [f32],
    ) -> Result<(), DataError> {
        check_buffer("input", self.input_size, input.len())?;
        check_buffer("target", self.horizon, target.len())?;
        let no_such_window = || DataError::NoSuchWindow {
            series: window.series,
            start: window.start,
            len: self.input_size + self.horizon,
        };
        if window.start >= self.series_count(window.series) {
            return Err(no_such_window());
        }
        let values = panel
            .series(window.series)
            .and_then(|series| {
                series
                    .y
                    .get(window.start..window.start + self.input_size + self.horizon)
            })
            .ok_or_else(no_such_window)?;
        let (input_values, target_values) = values.split_at(self.input_size);
        copy_as_f32(input_values, input);
        copy_as_f32(target_values, target);
        Ok(())
    }

    /// Copies `windows` into row-major `inputs` (`windows.len() × input_size`) and `targets`
    /// (`windows.len() × horizon`).
    pub fn fill_batch(
        &self,
        panel: &Panel,
        windows: &[Window],
        inputs: &mut [f32],
        targets: &mut [f32],
    ) -> Result<(), DataError> {
        check_buffer(
            "inputs",
            windows.len().saturating_mul(self.input_size),
            inputs.len(),
        )?;
        check_buffer(
            "targets",
            windows.len().saturating_mul(self.horizon),
            targets.len(),
        )?;
        let rows = inputs
            .chunks_exact_mut(self.input_size)
            .zip(targets.chunks_exact_mut(self.horizon));
        for (&window, (input, target)) in windows.iter().zip(rows) {
            self.copy_window(panel, window, input, target)?;
        }
        Ok(())
    }
}

/// The last `input_size` y of every series, row-major (`n_series × input_size`): the inputs
/// for forecasting past each series' end.
pub fn latest_inputs(panel: &Panel, input_size: usize) -> Result<Vec<f32>, DataError> {
    panel.check_min_length(input_size, "inputSize")?;
    let mut inputs = vec![0.0; panel.n_series() * input_size];
    for (series, row) in panel
        .series_iter()
        .zip(inputs.chunks_exact_mut(input_size.max(1)))
    {
        copy_as_f32(&series.y[series.len() - input_size..], row);
    }
    Ok(inputs)
}

fn check_buffer(buffer: &'static str, expected: usize, got: usize) -> Result<(), DataError> {
    if expected == got {
        Ok(())
    } else {
        Err(DataError::BufferLength {
            buffer,
            expected,
            got,
        })
    }
}

fn copy_as_f32(values: &[f64], out: &mut [f32]) {
    for (slot, &value) in out.iter_mut().zip(values) {
        *slot = value as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ds::Ds;
    use crate::data::freq::Frequency;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Series of lengths `lens`, each with y = 100 × series + position.
    fn panel(lens: &[usize]) -> Panel {
        let (mut ids, mut ds, mut y) = (Vec::new(), Vec::new(), Vec::new());
        for (series, &len) in lens.iter().enumerate() {
            for position in 0..len {
                ids.push(format!("s{series}"));
                ds.push(Ds::Int(position as i64));
                y.push((100 * series + position) as f64);
            }
        }
        Panel::from_columns(&ids, &ds, &y, Some(Frequency::step(1).unwrap())).unwrap()
    }

    #[test]
    fn counts_and_maps_windows() {
        let panel = panel(&[5, 7, 4]);
        let index = WindowIndex::new(&panel, 3, 1, 0).unwrap();
        assert_eq!(
            (0..4)
                .map(|series| index.series_count(series))
                .collect::<Vec<_>>(),
            [2, 4, 1, 0]
        );
        assert_eq!(index.len(), 7);
        let windows: Vec<Window> = (0..7).map(|number| index.locate(number).unwrap()).collect();
        let expected = [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (1, 3), (2, 0)];
        assert_eq!(
            windows,
            expected.map(|(series, start)| Window { series, start })
        );
        assert_eq!(index.locate(7), None);
    }

    #[test]
    fn holdout_rows_are_left_out() {
        let panel = panel(&[10]);
        let index = WindowIndex::new(&panel, 4, 2, 3).unwrap();
        assert_eq!(index.len(), 2);
        let (mut input, mut target) = ([0.0; 4], [0.0; 2]);
        index
            .copy_window(
                &panel,
                Window {
                    series: 0,
                    start: 1,
                },
                &mut input,
                &mut target,
            )
            .unwrap();
        assert_eq!((input, target), ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0]));
        let err = index
            .copy_window(
                &panel,
                Window {
                    series: 0,
                    start: 2,
                },
                &mut input,
                &mut target,
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "there is no training window of 6 values at position 2 of series 0"
        );
    }

    #[test]
    fn short_series_and_bad_sizes_are_errors() {
        let panel = panel(&[8, 5]);
        let err = WindowIndex::new(&panel, 4, 2, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "series 's1' has 5 rows; inputSize + horizon = 6 are needed"
        );
        let err = WindowIndex::new(&panel, 2, 2, 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "series 's1' has 5 rows; inputSize + horizon + holdout = 6 are needed"
        );
        let err = WindowIndex::new(&panel, 0, 2, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "inputSize and horizon must both be at least 1 (got inputSize = 0, horizon = 2)"
        );
    }

    #[test]
    fn copies_windows_and_batches() {
        let panel = panel(&[4, 6]);
        let index = WindowIndex::new(&panel, 2, 2, 0).unwrap();
        let windows = [
            Window {
                series: 1,
                start: 2,
            },
            Window {
                series: 0,
                start: 0,
            },
        ];
        let (mut inputs, mut targets) = ([0.0; 4], [0.0; 4]);
        index
            .fill_batch(&panel, &windows, &mut inputs, &mut targets)
            .unwrap();
        assert_eq!(inputs, [102.0, 103.0, 0.0, 1.0]);
        assert_eq!(targets, [104.0, 105.0, 2.0, 3.0]);
        let err = index
            .fill_batch(&panel, &windows, &mut [0.0; 3], &mut targets)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the inputs buffer holds 3 values; 4 are needed"
        );
        let err = index
            .copy_window(
                &panel,
                Window {
                    series: 5,
                    start: 0,
                },
                &mut [0.0; 2],
                &mut [0.0; 2],
            )
            .unwrap_err();
        assert!(
            matches!(err, DataError::NoSuchWindow { series: 5, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn sampling_is_deterministic_for_a_seed() {
        let panel = panel(&[30, 50]);
        let index = WindowIndex::new(&panel, 5, 3, 0).unwrap();
        let draw = |seed| index.sample(64, &mut ChaCha8Rng::seed_from_u64(seed));
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        assert!(draw(7)
            .iter()
            .all(|window| window.start < index.series_count(window.series)));
    }

    #[test]
    fn sampling_is_uniform_over_all_windows() {
        // 1 + 3 + 6 windows: each window, and so each series in proportion, equally likely.
        let panel = panel(&[3, 5, 8]);
        let index = WindowIndex::new(&panel, 2, 1, 0).unwrap();
        let draws = 100_000;
        let mut hits = vec![0usize; index.len()];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for window in index.sample(draws, &mut rng) {
            let number = (0..index.len())
                .find(|&number| index.locate(number) == Some(window))
                .unwrap();
            hits[number] += 1;
        }
        let expected = draws as f64 / index.len() as f64;
        // Binomial sd ≈ 95 here; 5 sd keeps this from flaking.
        assert!(
            hits.iter()
                .all(|&count| (count as f64 - expected).abs() < 475.0),
            "{hits:?}"
        );
    }

    #[test]
    fn latest_inputs_are_each_series_tail() {
        let panel = panel(&[4, 6]);
        assert_eq!(
            latest_inputs(&panel, 3).unwrap(),
            [1.0, 2.0, 3.0, 103.0, 104.0, 105.0]
        );
        let err = latest_inputs(&panel, 5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "series 's0' has 4 rows; inputSize = 5 are needed"
        );
    }
}
