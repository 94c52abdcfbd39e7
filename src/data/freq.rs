//! Frequencies by pandas / NeuralForecast alias, stepping a ds forward by one, and inferring the
//! frequency of a sorted series.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, TimeDelta, Weekday};

use super::ds::{check_strictly_increasing, Ds};
use super::error::DataError;

/// The aliases [`Frequency::parse`] accepts after an optional multiple, for messages.
pub(crate) const ACCEPTED_ALIASES: &str =
    "B, D, W, W-MON … W-SAT, h (H), min (T), s (S), ms (L), us (U), ns (N), \
     MS, ME (M), QS, QE (Q), YS (AS), YE (Y, A)";

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SECOND;
const NANOS_PER_WEEK: i64 = 7 * NANOS_PER_DAY;

/// The spacing of a series' ds. Built by [`Frequency::parse`] (or `str::parse`),
/// [`Frequency::step`] or [`infer_frequency`]; displays as its canonical pandas alias.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Frequency(Unit);

/// Invariant: every count is at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Unit {
    /// Integer ds advancing by this step.
    Step(i64),
    /// A fixed duration (D, h, min, s, ms, us, ns and their multiples), in nanoseconds.
    Fixed(i64),
    BusinessDays(i64),
    /// Every `n`-th `anchor` weekday (pandas `W-SUN`, `2W-MON`, …).
    Weeks {
        n: i64,
        anchor: Weekday,
    },
    /// Every `n`-th month start or end; quarters and years are 3 and 12 months.
    Months {
        n: i64,
        anchor: MonthAnchor,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum MonthAnchor {
    Start,
    End,
}

impl Frequency {
    /// Parses a pandas alias with an optional multiple (`'D'`, `'30min'`, `'3MS'`, `'W-MON'`),
    /// or a bare integer, which is the step of integer ds.
    pub fn parse(alias: &str) -> Result<Frequency, DataError> {
        let unknown = || DataError::UnknownFrequency {
            alias: alias.to_string(),
        };
        let invalid_multiple = || DataError::InvalidFrequencyMultiple {
            alias: alias.to_string(),
        };
        let text = alias.trim();
        let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (count, name) = text.split_at(digits);
        // Counts stay within u32, so every later product with them fits in i64.
        let multiple = match count {
            "" => 1,
            _ => count
                .parse::<u32>()
                .ok()
                .filter(|&n| n >= 1)
                .map(i64::from)
                .ok_or_else(invalid_multiple)?,
        };
        let fixed = |unit_nanos: i64| {
            multiple
                .checked_mul(unit_nanos)
                .map(Unit::Fixed)
                .ok_or_else(invalid_multiple)
        };
        let months = |per_unit: i64, anchor| {
            Ok(Unit::Months {
                n: multiple * per_unit,
                anchor,
            })
        };
        let unit = match name {
            "" if !count.is_empty() => Ok(Unit::Step(multiple)),
            "B" => Ok(Unit::BusinessDays(multiple)),
            "D" | "d" => fixed(NANOS_PER_DAY),
            "h" | "H" => fixed(3_600 * NANOS_PER_SECOND),
            "min" | "T" => fixed(60 * NANOS_PER_SECOND),
            "s" | "S" => fixed(NANOS_PER_SECOND),
            "ms" | "L" => fixed(1_000_000),
            "us" | "U" => fixed(1_000),
            "ns" | "N" => fixed(1),
            "W" => Ok(Unit::Weeks {
                n: multiple,
                anchor: Weekday::Sun,
            }),
            "MS" => months(1, MonthAnchor::Start),
            "ME" | "M" => months(1, MonthAnchor::End),
            "QS" => months(3, MonthAnchor::Start),
            "QE" | "Q" => months(3, MonthAnchor::End),
            "YS" | "AS" => months(12, MonthAnchor::Start),
            "YE" | "Y" | "A" => months(12, MonthAnchor::End),
            _ => match name.strip_prefix("W-").map(str::parse::<Weekday>) {
                Some(Ok(anchor)) => Ok(Unit::Weeks {
                    n: multiple,
                    anchor,
                }),
                _ => Err(unknown()),
            },
        }?;
        Ok(Frequency(unit))
    }

    /// The frequency of integer ds advancing by `step` (NeuralForecast's `freq=1`).
    pub fn step(step: i64) -> Result<Frequency, DataError> {
        if step >= 1 {
            Ok(Frequency(Unit::Step(step)))
        } else {
            Err(DataError::InvalidFrequencyMultiple {
                alias: step.to_string(),
            })
        }
    }

    /// Whether this frequency is for integer ds.
    pub fn is_step(self) -> bool {
        matches!(self.0, Unit::Step(_))
    }

    /// Whether `ds` is a value this frequency produces (a month start for `MS`, a weekday for `B`, …).
    pub fn is_on_offset(self, ds: Ds) -> bool {
        match (self.0, ds) {
            (Unit::Step(_), Ds::Int(_)) => true,
            (Unit::Step(_), Ds::Time(_)) | (_, Ds::Int(_)) => false,
            (Unit::Fixed(_), Ds::Time(_)) => true,
            (Unit::BusinessDays(_), Ds::Time(time)) => time.weekday().num_days_from_monday() < 5,
            (Unit::Weeks { anchor, .. }, Ds::Time(time)) => time.weekday() == anchor,
            (Unit::Months { anchor, .. }, Ds::Time(time)) => is_month_anchor(time.date(), anchor),
        }
    }
}

impl FromStr for Frequency {
    type Err = DataError;

    fn from_str(alias: &str) -> Result<Frequency, DataError> {
        Frequency::parse(alias)
    }
}

/// The canonical pandas alias: `'D'`, `'30min'`, `'2h'`, `'W'`, `'W-MON'`, `'MS'`, `'QS'`, `'2YE'`, `'1'`.
impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (count, name) = match self.0 {
            Unit::Step(step) => return write!(f, "{step}"),
            Unit::Fixed(nanos) => largest_fixed_unit(nanos),
            Unit::BusinessDays(n) => (n, "B"),
            Unit::Weeks {
                n,
                anchor: Weekday::Sun,
            } => (n, "W"),
            Unit::Weeks { n, anchor } => {
                return write!(f, "{}W-{}", multiple_prefix(n), weekday_alias(anchor))
            }
            Unit::Months { n, anchor } => {
                let (per_unit, start, end) = match n {
                    n if n % 12 == 0 => (12, "YS", "YE"),
                    n if n % 3 == 0 => (3, "QS", "QE"),
                    _ => (1, "MS", "ME"),
                };
                (
                    n / per_unit,
                    if anchor == MonthAnchor::Start {
                        start
                    } else {
                        end
                    },
                )
            }
        };
        write!(f, "{}{name}", multiple_prefix(count))
    }
}

fn multiple_prefix(count: i64) -> String {
    if count == 1 {
        String::new()
    } else {
        count.to_string()
    }
}

fn largest_fixed_unit(nanos: i64) -> (i64, &'static str) {
    const UNITS: [(i64, &str); 7] = [
        (NANOS_PER_DAY, "D"),
        (3_600 * NANOS_PER_SECOND, "h"),
        (60 * NANOS_PER_SECOND, "min"),
        (NANOS_PER_SECOND, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    UNITS
        .iter()
        .find(|(unit, _)| nanos % unit == 0)
        .map_or((nanos, "ns"), |&(unit, name)| (nanos / unit, name))
}

/// pandas' upper-case weekday anchors (chrono prints "Mon").
fn weekday_alias(day: Weekday) -> &'static str {
    ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"][day.num_days_from_monday() as usize]
}

fn is_month_anchor(date: NaiveDate, anchor: MonthAnchor) -> bool {
    match anchor {
        MonthAnchor::Start => date.day() == 1,
        MonthAnchor::End => date.succ_opt().is_none_or(|next| next.day() == 1),
    }
}

/// The `k`-th ds after `ts` at `freq` (before it for negative `k`). Calendar frequencies keep
/// the time of day. `ts` is expected on the frequency ([`Frequency::is_on_offset`], as every
/// [`Panel`](super::Panel) ds is); from elsewhere the first step goes to the next anchor
/// (the month start or end `k` months on, the next business day).
pub fn advance(ts: Ds, freq: Frequency, k: i64) -> Result<Ds, DataError> {
    let out_of_range = || DataError::OutOfRange { ds: ts, freq, k };
    let time = match (freq.0, ts) {
        (Unit::Step(step), Ds::Int(value)) => {
            return step
                .checked_mul(k)
                .and_then(|delta| value.checked_add(delta))
                .map(Ds::Int)
                .ok_or_else(out_of_range);
        }
        (Unit::Step(_), Ds::Time(_)) | (_, Ds::Int(_)) => {
            return Err(DataError::FrequencyDsKind { freq, ds: ts })
        }
        (_, Ds::Time(time)) => time,
    };
    let advanced = match freq.0 {
        Unit::Step(_) => None,
        Unit::Fixed(nanos) => nanos
            .checked_mul(k)
            .and_then(|delta| time.checked_add_signed(TimeDelta::nanoseconds(delta))),
        Unit::BusinessDays(n) => n
            .checked_mul(k)
            .and_then(|steps| add_business_days(time, steps)),
        Unit::Weeks { n, .. } => n
            .checked_mul(k)
            .and_then(|weeks| weeks.checked_mul(7))
            .and_then(TimeDelta::try_days)
            .and_then(|delta| time.checked_add_signed(delta)),
        Unit::Months { n, anchor } => n
            .checked_mul(k)
            .and_then(|months| add_months(time, months, anchor)),
    };
    advanced.map(Ds::Time).ok_or_else(out_of_range)
}

fn add_business_days(time: NaiveDateTime, steps: i64) -> Option<NaiveDateTime> {
    let date = time.date();
    let weekday = i64::from(date.weekday().num_days_from_monday());
    // A weekend day counts as Friday going forward and as the next Monday going back, as pandas rolls.
    let position = match weekday {
        0..=4 => weekday,
        _ if steps >= 0 => 4,
        _ => 5,
    };
    let monday = date.checked_sub_signed(TimeDelta::try_days(weekday)?)?;
    let target = position.checked_add(steps)?;
    let days = target
        .div_euclid(5)
        .checked_mul(7)?
        .checked_add(target.rem_euclid(5))?;
    Some(
        monday
            .checked_add_signed(TimeDelta::try_days(days)?)?
            .and_time(time.time()),
    )
}

fn add_months(time: NaiveDateTime, months: i64, anchor: MonthAnchor) -> Option<NaiveDateTime> {
    let month_index = i64::from(time.year())
        .checked_mul(12)?
        .checked_add(i64::from(time.month0()))?
        .checked_add(months)?;
    let year = i32::try_from(month_index.div_euclid(12)).ok()?;
    let first = NaiveDate::from_ymd_opt(year, month_index.rem_euclid(12) as u32 + 1, 1)?;
    let date = match anchor {
        MonthAnchor::Start => first,
        MonthAnchor::End => first.checked_add_months(Months::new(1))?.pred_opt()?,
    };
    Some(date.and_time(time.time()))
}

/// Where a series stops following a frequency.
#[derive(Debug, PartialEq)]
pub(crate) enum SpacingBreak {
    /// The value at this position is not on the frequency (only possible at position 0).
    OffFrequency { position: usize },
    /// The value at this position is not the one after its predecessor.
    Mismatch { position: usize, expected: Ds },
}

impl SpacingBreak {
    fn position(&self) -> usize {
        match *self {
            SpacingBreak::OffFrequency { position } | SpacingBreak::Mismatch { position, .. } => {
                position
            }
        }
    }

    /// The error for series `series`, with `row_of` mapping positions to input rows.
    pub(crate) fn into_error(
        self,
        series: &str,
        values: &[Ds],
        freq: Frequency,
        row_of: &dyn Fn(usize) -> usize,
    ) -> DataError {
        let series = series.to_string();
        match self {
            SpacingBreak::OffFrequency { position } => DataError::OffFrequency {
                series,
                row: row_of(position),
                value: values[position],
                freq,
            },
            SpacingBreak::Mismatch { position, expected } => DataError::FrequencyMismatch {
                series,
                row: row_of(position),
                prev: values[position - 1],
                value: values[position],
                expected,
                freq,
            },
        }
    }
}

/// The first place `values` (sorted, all of `freq`'s ds kind) leaves `freq`, if any.
pub(crate) fn first_break(values: &[Ds], freq: Frequency) -> Option<SpacingBreak> {
    let &first = values.first()?;
    if !freq.is_on_offset(first) {
        return Some(SpacingBreak::OffFrequency { position: 0 });
    }
    values
        .windows(2)
        .enumerate()
        .find_map(|(index, pair)| match advance(pair[0], freq, 1) {
            Ok(expected) if expected == pair[1] => None,
            Ok(expected) => Some(SpacingBreak::Mismatch {
                position: index + 1,
                expected,
            }),
            // Stepping past the representable range cannot reach a stored value.
            Err(_) => Some(SpacingBreak::OffFrequency {
                position: index + 1,
            }),
        })
}

/// Infers the frequency of one series' ds (sorted, at least 3 values, one kind), as pandas'
/// `infer_freq` would: month starts/ends (MS, QS, YS, ME, QE, YE), else a constant step (the
/// integer step, a weekly anchor or the largest D/h/min/s/ms/us/ns unit), else business days
/// (B). `series` names the series in errors; rows are positions in `values`. Since the rules
/// are tried in this order, no series is ambiguous: the first rule that fits wins.
pub fn infer_frequency(series: &str, values: &[Ds]) -> Result<Frequency, DataError> {
    infer_frequency_with_rows(series, values, &|position| position)
}

/// [`infer_frequency`] with `row_of` mapping positions to the input rows named in errors.
pub(crate) fn infer_frequency_with_rows(
    series: &str,
    values: &[Ds],
    row_of: &dyn Fn(usize) -> usize,
) -> Result<Frequency, DataError> {
    // Integer steps need no inference below three values: NeuralForecast's integer frequency is 1.
    if values.len() < 3 && values.iter().all(|v| v.is_int()) {
        check_strictly_increasing(series, values, row_of)?;
        return Ok(Frequency(Unit::Step(1)));
    }
    if values.len() < 3 {
        return Err(DataError::TooFewToInfer {
            series: series.to_string(),
            len: values.len(),
        });
    }
    check_strictly_increasing(series, values, row_of)?;
    let candidates = candidates(values[0], values[1]);
    let breaks: Vec<Option<SpacingBreak>> = candidates
        .iter()
        .map(|&freq| first_break(values, freq))
        .collect();
    if let Some((&freq, _)) = candidates
        .iter()
        .zip(&breaks)
        .find(|(_, spacing_break)| spacing_break.is_none())
    {
        return Ok(freq);
    }
    // Name the break of the candidate that explained the longest prefix.
    let position = breaks
        .iter()
        .flatten()
        .map(SpacingBreak::position)
        .max()
        .unwrap_or(1)
        .max(1);
    Err(DataError::IrregularSpacing {
        series: series.to_string(),
        row: row_of(position),
        prev: values[position - 1],
        value: values[position],
    })
}

/// The frequencies that could step from `first` to `second` (`first < second`, one kind), in
/// pandas' order of preference: month-anchored rules (so years of 365 days are still `YS`),
/// then the constant step (so Mon, Tue, Wed is `D` and weekly Mondays are `W-MON`, not `5B`),
/// then business days.
fn candidates(first: Ds, second: Ds) -> Vec<Frequency> {
    let (first, second) = match (first, second) {
        (Ds::Int(a), Ds::Int(b)) => {
            return b
                .checked_sub(a)
                .map(|step| Frequency(Unit::Step(step)))
                .into_iter()
                .collect()
        }
        (Ds::Time(a), Ds::Time(b)) => (a, b),
        _ => return Vec::new(),
    };
    let months = i64::from(second.year() - first.year()) * 12 + i64::from(second.month0())
        - i64::from(first.month0());
    let month_rules = [MonthAnchor::Start, MonthAnchor::End]
        .into_iter()
        .filter(|&anchor| {
            months > 0
                && is_month_anchor(first.date(), anchor)
                && is_month_anchor(second.date(), anchor)
        })
        .map(|anchor| Unit::Months { n: months, anchor });
    // Whole weeks are anchored on the first weekday, as pandas infers `W-MON` for Mondays.
    let constant_step = (second - first).num_nanoseconds().map(|nanos| match nanos {
        nanos if nanos % NANOS_PER_WEEK == 0 => Unit::Weeks {
            n: nanos / NANOS_PER_WEEK,
            anchor: first.weekday(),
        },
        nanos => Unit::Fixed(nanos),
    });
    let business_days = business_days_between(first.date(), second.date())
        .filter(|&days| days >= 1)
        .map(Unit::BusinessDays);
    month_rules
        .chain(constant_step)
        .chain(business_days)
        .map(Frequency)
        .collect()
}

/// Business days from weekday `from` to weekday `to` (`from < to`); `None` unless both are weekdays.
fn business_days_between(from: NaiveDate, to: NaiveDate) -> Option<i64> {
    let weekday = |date: NaiveDate| i64::from(date.weekday().num_days_from_monday());
    if weekday(from) > 4 || weekday(to) > 4 {
        return None;
    }
    // Whole weeks between the two dates' Mondays, five business days each.
    let weeks = ((to - from).num_days() - weekday(to) + weekday(from)) / 7;
    Some(weeks * 5 + weekday(to) - weekday(from))
}

#[cfg(test)]
#[path = "freq_tests.rs"]
mod tests;
