//! A validated panel of series in long format, stored contiguously series by series.

use std::collections::HashMap;
use std::sync::Arc;

use super::ds::{check_strictly_increasing, check_uniform_kind, Ds};
use super::error::DataError;
use super::freq::{advance, first_break, infer_frequency_with_rows, Frequency};

/// Series stored contiguously in first-appearance order: series `s` is rows
/// `offsets[s]..offsets[s + 1]` of `ds` and `y`, with strictly increasing ds that follow
/// the panel's one frequency.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    // Shared, so that a clone (a Dataset handed to fit) or a panel with other values (local scaling) or other
    // columns costs no copy of them; ds and y in an Arc<Vec>, which takes over the parsed column's buffer (an
    // Arc<[T]> would copy it).
    ids: Arc<[String]>,
    offsets: Arc<[usize]>,
    ds: Arc<Vec<Ds>>,
    y: Arc<Vec<f64>>,
    frequency: Frequency,
    /// Exogenous columns over time, in the storage order of `y`.
    exog: Arc<[Column]>,
    /// Static exogenous columns: one value per series, in series order.
    statics: Vec<Column>,
}

/// A named column of finite values.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub values: Vec<f64>,
}

/// One series of a [`Panel`]; never empty.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Series<'a> {
    pub id: &'a str,
    pub ds: &'a [Ds],
    pub y: &'a [f64],
}

impl Series<'_> {
    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The last ds, from which forecasts step on. `None` only for an empty series, which a panel never holds.
    pub fn last_ds(&self) -> Option<Ds> {
        self.ds.last().copied()
    }
}

impl Panel {
    /// Builds a panel from a string `unique_id` column. Rows of a series need not be
    /// contiguous; series keep the order of their first row. `freq`: the expected frequency,
    /// or `None` to infer it from the first series with at least 3 rows.
    pub fn from_columns<S: AsRef<str>>(
        unique_id: &[S],
        ds: &[Ds],
        y: &[f64],
        freq: Option<Frequency>,
    ) -> Result<Panel, DataError> {
        Self::with_exogenous(unique_id, ds, y, Vec::new(), freq)
    }

    /// A panel of `series` series named `s0`, `s1`, …, each of `length` points at the integer ds `0..length`, the
    /// value at point `t` of series `s` being `y(s, t)`: synthetic data for tests and benchmarks.
    pub fn from_fn(series: usize, length: usize, mut y: impl FnMut(usize, usize) -> f64) -> Result<Panel, DataError> {
        let (mut ids, mut ds, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for s in 0..series {
            for t in 0..length {
                ids.push(format!("s{s}"));
                ds.push(Ds::Int(t as i64));
                values.push(y(s, t));
            }
        }
        Self::from_columns(&ids, &ds, &values, None)
    }

    /// As [`Panel::from_columns`], with exogenous columns over time (`exog`, in input row order like `y`).
    pub fn with_exogenous<S: AsRef<str>>(
        unique_id: &[S],
        ds: &[Ds],
        y: &[f64],
        exog: Vec<Column>,
        freq: Option<Frequency>,
    ) -> Result<Panel, DataError> {
        check_lengths(unique_id.len(), ds.len(), y.len())?;
        let mut code_of_label: HashMap<&str, u32> = HashMap::new();
        let mut labels: Vec<&str> = Vec::new();
        let codes: Vec<u32> = unique_id
            .iter()
            .map(|id| {
                *code_of_label.entry(id.as_ref()).or_insert_with(|| {
                    labels.push(id.as_ref());
                    labels.len() as u32 - 1
                })
            })
            .collect();
        build(&codes, &labels, ds.to_vec(), y.to_vec(), exog, freq)
    }

    /// Builds a panel from integer `unique_id` codes indexing `labels` (a categorical column,
    /// as JS typed arrays carry it), with exogenous columns as [`Panel::with_exogenous`]. Takes the
    /// columns: rows already grouped by series (the usual layout of large panels) are kept without
    /// a copy.
    pub fn from_codes<S: AsRef<str>>(
        codes: &[u32],
        labels: &[S],
        ds: Vec<Ds>,
        y: Vec<f64>,
        exog: Vec<Column>,
        freq: Option<Frequency>,
    ) -> Result<Panel, DataError> {
        check_lengths(codes.len(), ds.len(), y.len())?;
        let mut first_code_of_label: HashMap<&str, u32> = HashMap::new();
        for (code, label) in (0u32..).zip(labels) {
            if let Some(&first_code) = first_code_of_label.get(label.as_ref()) {
                return Err(DataError::DuplicateLabel {
                    label: label.as_ref().to_string(),
                    first_code,
                    code,
                });
            }
            first_code_of_label.insert(label.as_ref(), code);
        }
        if let Some(row) = codes.iter().position(|&code| code as usize >= labels.len()) {
            return Err(DataError::UnknownSeriesCode { row, code: codes[row], n_labels: labels.len() });
        }
        let labels: Vec<&str> = labels.iter().map(AsRef::as_ref).collect();
        build(codes, &labels, ds, y, exog, freq)
    }

    /// The panel with static exogenous columns, given as a table of one row per series: `ids` and, per column,
    /// one value per row. Every series of the panel needs exactly one row; rows of other series are ignored.
    pub fn with_statics<S: AsRef<str>>(mut self, ids: &[S], columns: Vec<Column>) -> Result<Panel, DataError> {
        for column in &columns {
            if column.values.len() != ids.len() {
                return Err(DataError::ExogLength { column: column.name.clone(), len: column.values.len(), rows: ids.len() });
            }
        }
        let mut row_of: HashMap<&str, usize> = HashMap::new();
        for (row, id) in ids.iter().enumerate() {
            if row_of.insert(id.as_ref(), row).is_some() {
                return Err(DataError::DuplicateStatic { series: id.as_ref().to_string(), row });
            }
        }
        let rows = self
            .ids
            .iter()
            .map(|id| row_of.get(id.as_str()).copied().ok_or_else(|| DataError::MissingStatic { series: id.clone() }))
            .collect::<Result<Vec<usize>, _>>()?;
        self.statics = columns
            .into_iter()
            .map(|column| {
                let values: Vec<f64> = rows.iter().map(|&row| column.values[row]).collect();
                match values.iter().position(|v| !v.is_finite()) {
                    Some(s) => Err(DataError::NonFiniteExog { column: column.name.clone(), series: self.ids[s].clone(), row: rows[s], value: values[s] }),
                    None => Ok(Column { name: column.name, values }),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// The exogenous columns over time, in the storage order of [`Panel::y`].
    pub fn exogenous(&self) -> &[Column] {
        &self.exog
    }

    /// The static exogenous columns, one value per series.
    pub fn statics(&self) -> &[Column] {
        &self.statics
    }

    pub fn n_series(&self) -> usize {
        self.ids.len()
    }

    pub fn n_rows(&self) -> usize {
        self.y.len()
    }

    /// Series ids in storage order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// `n_series + 1` row offsets: series `s` is rows `offsets[s]..offsets[s + 1]`.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// All ds, series after series.
    pub fn ds(&self) -> &[Ds] {
        &self.ds
    }

    /// All y, series after series.
    pub fn y(&self) -> &[f64] {
        &self.y
    }

    pub fn frequency(&self) -> Frequency {
        self.frequency
    }

    /// Series `index`, or `None` past the last.
    pub fn series(&self, index: usize) -> Option<Series<'_>> {
        let rows = *self.offsets.get(index)?..*self.offsets.get(index + 1)?;
        Some(Series {
            id: &self.ids[index],
            ds: &self.ds[rows.clone()],
            y: &self.y[rows],
        })
    }

    pub fn series_iter(&self) -> impl Iterator<Item = Series<'_>> {
        (0..self.n_series()).filter_map(|index| self.series(index))
    }

    /// The `horizon` ds after series `index`'s last one, at the panel frequency.
    pub fn future_ds(&self, index: usize, horizon: usize) -> Result<Vec<Ds>, DataError> {
        let no_such_series = || DataError::NoSuchSeries {
            index,
            n_series: self.n_series(),
        };
        let mut last = self
            .series(index)
            .and_then(|series| series.last_ds())
            .ok_or_else(no_such_series)?;
        (0..horizon)
            .map(|_| {
                last = advance(last, self.frequency, 1)?;
                Ok(last)
            })
            .collect()
    }

    /// The panel without the last `n` rows of every series: the history up to a cross-validation cutoff. Errors
    /// on a series of at most `n` rows; `what` says what needs them.
    pub fn without_last(&self, n: usize, what: &str) -> Result<Panel, DataError> {
        self.check_min_length(n + 1, what)?;
        let mut kept = Vec::with_capacity(self.n_rows());
        for (s, series) in self.series_iter().enumerate() {
            kept.extend(self.offsets[s]..self.offsets[s] + series.len() - n);
        }
        let offsets = self.offsets.iter().enumerate().map(|(s, &offset)| offset - s * n).collect();
        let take = |values: &[f64]| kept.iter().map(|&row| values[row]).collect::<Vec<f64>>();
        Ok(Panel {
            ids: self.ids.clone(),
            offsets,
            ds: Arc::new(kept.iter().map(|&row| self.ds[row]).collect()),
            y: Arc::new(take(&self.y)),
            frequency: self.frequency,
            exog: self.exog.iter().map(|c| Column { name: c.name.clone(), values: take(&c.values) }).collect::<Vec<_>>().into(),
            statics: self.statics.clone(),
        })
    }

    /// The same series and ds with other values (`y` in storage order, as [`Panel::y`]); `None` when the length
    /// differs or a value is not finite.
    pub fn with_y(&self, y: Vec<f64>) -> Option<Panel> {
        (y.len() == self.y.len() && y.iter().all(|v| v.is_finite())).then(|| Panel {
            ids: self.ids.clone(),
            offsets: self.offsets.clone(),
            ds: self.ds.clone(),
            y: Arc::new(y),
            frequency: self.frequency,
            exog: self.exog.clone(),
            statics: self.statics.clone(),
        })
    }

    /// As [`Panel::with_y`], with other values of the exogenous columns over time too (`exog`: the same names, in
    /// the same order, as [`Panel::exogenous`]); `None` when a length or name differs or a value is not finite.
    pub fn with_values(&self, y: Vec<f64>, exog: Vec<Column>) -> Option<Panel> {
        let same = exog.len() == self.exog.len()
            && exog.iter().zip(self.exog.iter()).all(|(new, old)| new.name == old.name && new.values.len() == old.values.len());
        let finite = exog.iter().all(|c| c.values.iter().all(|v| v.is_finite()));
        let panel = self.with_y(y)?;
        (same && finite).then(|| Panel { exog: exog.into(), ..panel })
    }

    /// Errors on the first series shorter than `required` rows; `what` says what needs them
    /// (e.g. "inputSize + horizon").
    pub fn check_min_length(&self, required: usize, what: &str) -> Result<(), DataError> {
        match self.series_iter().find(|series| series.len() < required) {
            Some(series) => Err(DataError::SeriesTooShort {
                series: series.id.to_string(),
                len: series.len(),
                required,
                what: what.to_string(),
            }),
            None => Ok(()),
        }
    }
}

fn check_lengths(unique_id: usize, ds: usize, y: usize) -> Result<(), DataError> {
    if unique_id != ds || ds != y {
        return Err(DataError::ColumnLengths { unique_id, ds, y });
    }
    if y == 0 {
        return Err(DataError::Empty);
    }
    Ok(())
}

/// `codes[row]` indexes `labels`; column lengths are checked and equal.
fn build(
    codes: &[u32],
    labels: &[&str],
    ds: Vec<Ds>,
    y: Vec<f64>,
    exog: Vec<Column>,
    freq: Option<Frequency>,
) -> Result<Panel, DataError> {
    check_uniform_kind(&ds)?;
    let label_of = |row: usize| labels[codes[row] as usize].to_string();
    if let Some(row) = y.iter().position(|value| !value.is_finite()) {
        return Err(DataError::NonFiniteY { series: label_of(row), row, value: y[row] });
    }
    for column in &exog {
        if column.values.len() != y.len() {
            return Err(DataError::ExogLength { column: column.name.clone(), len: column.values.len(), rows: y.len() });
        }
        if let Some(row) = column.values.iter().position(|value| !value.is_finite()) {
            return Err(DataError::NonFiniteExog { column: column.name.clone(), series: label_of(row), row, value: column.values[row] });
        }
    }
    let grouping = Grouping::new(codes, labels.len());
    let ids: Vec<String> = grouping.series_codes.iter().map(|&code| labels[code as usize].to_string()).collect();
    let ds = grouping.group(ds);
    // Each series as (id, its range in the grouped columns, position in it → input row).
    let grouping_ref = &grouping;
    let series = || {
        ids.iter().zip(grouping_ref.offsets.windows(2)).map(move |(id, pair)| {
            let start = pair[0];
            let input_row = move |position: usize| grouping_ref.input_row(start + position);
            (id.as_str(), start..pair[1], input_row)
        })
    };
    for (id, rows, input_row) in series() {
        check_strictly_increasing(id, &ds[rows], &input_row)?;
    }
    let frequency = match freq {
        Some(freq) => freq,
        None => {
            // The first series long enough to infer from, else the longest (whose error says it is too short).
            let (id, rows, input_row) = series()
                .find(|(_, rows, _)| rows.len() >= 3)
                .or_else(|| series().max_by_key(|(_, rows, _)| rows.len()))
                .ok_or(DataError::Empty)?;
            infer_frequency_with_rows(id, &ds[rows], &input_row)?
        }
    };
    if frequency.is_step() != ds[0].is_int() {
        return Err(DataError::FrequencyDsKind { freq: frequency, ds: ds[0] });
    }
    for (id, rows, input_row) in series() {
        let values = &ds[rows];
        if let Some(spacing_break) = first_break(values, frequency) {
            return Err(spacing_break.into_error(id, values, frequency, &input_row));
        }
    }
    let exog: Vec<Column> = exog.into_iter().map(|c| Column { values: grouping.group(c.values), name: c.name }).collect();
    Ok(Panel {
        ids: ids.into(),
        y: Arc::new(grouping.group(y)),
        offsets: grouping.offsets.into(),
        ds: Arc::new(ds),
        frequency,
        exog: exog.into(),
        statics: Vec::new(),
    })
}

/// A stable grouping of rows by series code, series in first-appearance order.
struct Grouping {
    /// The code of each series, in first-appearance order.
    series_codes: Vec<u32>,
    /// `n_series + 1` offsets into the grouped rows.
    offsets: Vec<usize>,
    /// Input rows, series after series, each series in input order; `None` when the input is already grouped (every
    /// series' rows contiguous), so the columns are kept as they are.
    rows: Option<Vec<usize>>,
}

impl Grouping {
    /// `codes[row] < n_codes` for every row.
    fn new(codes: &[u32], n_codes: usize) -> Grouping {
        let mut series_of_code: Vec<Option<usize>> = vec![None; n_codes];
        let mut series_codes = Vec::new();
        let mut counts: Vec<usize> = Vec::new();
        let mut contiguous = true;
        for &code in codes {
            let new = series_of_code[code as usize].is_none();
            let series = *series_of_code[code as usize].get_or_insert_with(|| {
                series_codes.push(code);
                counts.push(0);
                counts.len() - 1
            });
            // A row of an earlier series after another series began: the input is not grouped.
            contiguous &= new || series + 1 == counts.len();
            counts[series] += 1;
        }
        let offsets: Vec<usize> = std::iter::once(0)
            .chain(counts.iter().scan(0, |end, count| {
                *end += count;
                Some(*end)
            }))
            .collect();
        let rows = (!contiguous).then(|| {
            // A counting sort: each row goes to the next free slot of its series.
            let mut next_slot = offsets.clone();
            let mut rows = vec![0; codes.len()];
            for (row, &code) in codes.iter().enumerate() {
                // Set for every code by the first pass.
                let series = series_of_code[code as usize].unwrap_or_default();
                rows[next_slot[series]] = row;
                next_slot[series] += 1;
            }
            rows
        });
        Grouping { series_codes, offsets, rows }
    }

    /// The input row at grouped position `position`.
    fn input_row(&self, position: usize) -> usize {
        self.rows.as_ref().map_or(position, |rows| rows[position])
    }

    /// A column in grouped order (moved when the input is already grouped).
    fn group<T: Copy>(&self, values: Vec<T>) -> Vec<T> {
        match &self.rows {
            None => values,
            Some(rows) => rows.iter().map(|&row| values[row]).collect(),
        }
    }
}

#[cfg(test)]
#[path = "panel_tests.rs"]
mod tests;
