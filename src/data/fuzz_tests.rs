//! Data validation fuzzing: random columns (ragged, unsorted, duplicated, non-finite, extreme ds values,
//! odd date strings and frequency aliases) must give a panel or a `DataError`, never a panic, and a panel
//! that builds must generate its future ds without panicking. Seeded, so a failure repeats.
//!
//! A few thousand cases run with the unit tests; the long run:
//! `ND_FUZZ_ITERS=1000000 cargo test --release --lib data::fuzz_tests -- --nocapture`.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::ds::{ds_from_epoch_millis, ds_from_numbers, parse_ds_column};
use super::freq::Frequency;
use super::panel::Panel;
use super::Ds;

fn iterations() -> usize {
    std::env::var("ND_FUZZ_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(3000)
}

const ALIASES: [&str; 24] = [
    "B", "D", "h", "H", "30min", "15min", "1min", "0min", "-5min", "W", "W-SUN", "MS", "ME", "M", "QS", "QE", "Q",
    "YS", "YE", "Y", "2h", "99999999999999999999min", "", "fortnight",
];

fn ds_text(rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..10) {
        0 => format!("{}", rng.random::<i64>()),
        1 => format!("{}", rng.random_range(-3i64..40)),
        2 => format!("{:04}-{:02}-{:02}", rng.random_range(0..10000), rng.random_range(0..14), rng.random_range(0..33)),
        3 => format!("2024-{:02}-01", rng.random_range(1..13)),
        4 => format!("2024-01-01 {:02}:{:02}", rng.random_range(0..26), rng.random_range(0..62)),
        5 => format!("262143-12-31T23:59:59Z"),
        6 => "2024-02-29T12:00:00.123Z".to_string(),
        7 => String::new(),
        8 => (0..rng.random_range(1..12)).map(|_| rng.random_range(b' '..b'~') as char).collect(),
        _ => format!("2023-{:02}-{:02}", rng.random_range(1..13), rng.random_range(1..29)),
    }
}

fn number(rng: &mut ChaCha8Rng) -> f64 {
    match rng.random_range(0..8) {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => -1e308,
        3 => rng.random::<i64>() as f64,
        4 => rng.random_range(0..50) as f64 + 0.5,
        _ => rng.random_range(0..50) as f64,
    }
}

fn random_ds(rng: &mut ChaCha8Rng, n: usize) -> Result<Vec<Ds>, super::DataError> {
    match rng.random_range(0..3) {
        0 => parse_ds_column(&(0..n).map(|_| ds_text(rng)).collect::<Vec<_>>()),
        1 => ds_from_numbers(&(0..n).map(|_| number(rng)).collect::<Vec<_>>()),
        _ => ds_from_epoch_millis(&(0..n).map(|_| number(rng) * 86_400_000.0).collect::<Vec<_>>()),
    }
}

/// Well-formed columns: 1–3 series with regular ds (steps, days, month starts or extreme integers).
fn regular_columns(rng: &mut ChaCha8Rng) -> (Vec<String>, Vec<Ds>, Vec<f64>) {
    let (mut ids, mut ds, mut y) = (Vec::new(), Vec::new(), Vec::new());
    let kind = rng.random_range(0..4);
    let start = match rng.random_range(0..3) {
        0 => i64::MAX - rng.random_range(0..20),
        1 => i64::MIN + rng.random_range(0..20),
        _ => rng.random_range(-100..100),
    };
    for s in 0..rng.random_range(1..4) {
        for t in 0..rng.random_range(0..20i64) {
            ids.push(format!("s{s}"));
            ds.push(match kind {
                0 => Ds::Int(start.saturating_add(t)),
                1 => Ds::parse(&format!("2024-{:02}-01", 1 + t % 12)).unwrap_or(Ds::Int(t)),
                2 => Ds::parse(&format!("2023-12-{:02}", 1 + t)).unwrap(),
                _ => Ds::parse(&format!("{}-01-01", 262_100 + t)).unwrap_or(Ds::Int(t)),
            });
            y.push(rng.random_range(0..100) as f64);
        }
    }
    (ids, ds, y)
}

/// One random case; true when its columns made a panel.
fn one_case(rng: &mut ChaCha8Rng) -> bool {
    let (mut ids, mut ds, mut y) = regular_columns(rng);
    match rng.random_range(0..8) {
        0 => {
            let n = rng.random_range(0..40);
            ids = (0..n + rng.random_range(0..2)).map(|_| format!("s{}", rng.random_range(0..3))).collect();
            y = (0..n + rng.random_range(0..2)).map(|_| number(rng)).collect();
            let Ok(random) = random_ds(rng, n) else { return false };
            ds = random;
        }
        1 if !y.is_empty() => {
            let i = rng.random_range(0..y.len());
            y[i] = number(rng);
        }
        2 if ds.len() > 1 => {
            let (i, j) = (rng.random_range(0..ds.len()), rng.random_range(0..ds.len()));
            ds[i] = ds[j];
        }
        3 => drop(y.pop()),
        _ => {}
    }
    let freq = if rng.random_range(0..2) == 0 { Frequency::parse(ALIASES[rng.random_range(0..ALIASES.len())]).ok() } else { None };
    let Ok(panel) = Panel::from_columns(&ids, &ds, &y, freq) else { return false };
    for index in 0..panel.n_series() + 1 {
        let _ = panel.future_ds(index, rng.random_range(0..3000));
    }
    let _ = panel.check_min_length(rng.random_range(0..50), "inputSize + horizon");
    true
}

#[test]
fn random_columns_give_panels_or_errors_never_panics() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xda7a);
    let (n, mut panels) = (iterations(), 0);
    for case in 0..n {
        let mut case_rng = ChaCha8Rng::seed_from_u64(rng.random());
        let seed_state = case_rng.clone();
        match std::panic::catch_unwind(move || one_case(&mut case_rng)) {
            Ok(built) => panels += built as usize,
            Err(_) => panic!("case {case} panicked (replay with the rng state {seed_state:?})"),
        }
    }
    eprintln!("{n} random column sets: {panels} made panels");
    assert!(panels * 20 > n, "too few cases got past validation to exercise the later stages");
}
