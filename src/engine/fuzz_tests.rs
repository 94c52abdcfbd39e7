//! Checkpoint fuzzing: damaged bytes and damaged metadata must give an error (or, when the damage is
//! harmless, a usable engine), never a panic, a hang or a huge allocation. Seeded, so a failure repeats.
//!
//! A few thousand cases run with the unit tests; the long run:
//! `ND_FUZZ_ITERS=1000000 cargo test --release --lib engine::fuzz_tests -- --nocapture`.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use super::*;

fn iterations() -> usize {
    std::env::var("ND_FUZZ_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(2000)
}

/// A small fitted engine's checkpoint.
fn checkpoint() -> Vec<u8> {
    let panel = Panel::from_fn(2, 30, |s, t| 5.0 + s as f64 + (t as f64 / 3.0).sin()).unwrap();
    let specs = [ModelKind::Lstm, ModelKind::Gru].map(|kind| {
        super::tests::spec_of(serde_json::json!({
            "type": kind.name(), "h": 3, "inputSize": 6, "encoderHiddenSize": 3, "decoderHiddenSize": 4, "maxSteps": 2,
            "scalerType": "standard",
        }))
    });
    let mut config = EngineConfig::new(specs.to_vec());
    config.num_threads = 1;
    let mut engine = Engine::new(config).unwrap();
    engine.fit(&panel, &FitOptions::default(), &mut |_| Control::Continue).unwrap();
    engine.to_bytes().unwrap()
}

/// Splits a safetensors file into its JSON header and its tensor bytes.
fn split(bytes: &[u8]) -> (Value, &[u8]) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (serde_json::from_slice(&bytes[8..8 + n]).unwrap(), &bytes[8 + n..])
}

fn join(header: &Value, data: &[u8]) -> Vec<u8> {
    let text = header.to_string();
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(data);
    out
}

fn hostile(rng: &mut ChaCha8Rng) -> Value {
    match rng.random_range(0..12) {
        0 => Value::from(0),
        1 => Value::from(-1),
        2 => Value::from(u64::MAX),
        3 => Value::from(1u64 << rng.random_range(0..40)),
        4 => Value::from(1e300),
        5 => Value::from(0.5),
        6 => Value::from(""),
        7 => Value::from("NaN"),
        8 => Value::Null,
        9 => Value::Array(vec![]),
        10 => serde_json::json!({}),
        _ => Value::from(rng.random_range(0..100)),
    }
}

/// Replaces one value somewhere in `v` by a hostile one, or deletes or duplicates it.
fn mutate_json(v: &mut Value, rng: &mut ChaCha8Rng) {
    let descend = rng.random_range(0..4) != 0;
    match v {
        Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(rng.random_range(0..map.len())).unwrap().clone();
            match (descend, rng.random_range(0..3)) {
                (true, _) => mutate_json(map.get_mut(&key).unwrap(), rng),
                (false, 0) => drop(map.remove(&key)),
                (false, _) => drop(map.insert(key, hostile(rng))),
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = rng.random_range(0..items.len());
            match (descend, rng.random_range(0..3)) {
                (true, _) => mutate_json(&mut items[i], rng),
                (false, 0) => items.truncate(i),
                (false, 1) => items.push(items[i].clone()),
                (false, _) => items[i] = hostile(rng),
            }
        }
        _ => *v = hostile(rng),
    }
}

/// One damaged copy of `original`: raw byte damage, or a hostile edit of the tensor table or the metadata.
fn damage(original: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut bytes = original.to_vec();
    match rng.random_range(0..6) {
        0 => {
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..bytes.len());
                bytes[i] ^= 1 << rng.random_range(0..8);
            }
        }
        1 => bytes.truncate(rng.random_range(0..bytes.len())),
        2 => bytes[..8].copy_from_slice(&rng.random::<u64>().to_le_bytes()),
        3 => {
            let (mut header, data) = split(original);
            mutate_json(&mut header, rng);
            bytes = join(&header, data);
        }
        _ => {
            let (mut header, data) = split(original);
            let meta = header["__metadata__"]["engine"].as_str().unwrap();
            let mut engine: Value = serde_json::from_str(meta).unwrap();
            for _ in 0..rng.random_range(1..3) {
                mutate_json(&mut engine, rng);
            }
            header["__metadata__"]["engine"] = Value::from(engine.to_string());
            bytes = join(&header, data);
        }
    }
    bytes
}

#[test]
fn damaged_checkpoints_give_errors_never_panics() {
    let original = checkpoint();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5afe);
    let (mut loaded, n) = (0, iterations());
    for case in 0..n {
        let bytes = damage(&original, &mut rng);
        let outcome = std::panic::catch_unwind(|| {
            let Ok(engine) = Engine::from_bytes(&bytes) else { return false };
            // Whatever loads must also forecast without panicking.
            let _ = engine.predict(None, None, &[], None);
            let _ = engine.forecast_window(0, &[1.0; 6], &mut [0.0; 3]);
            true
        });
        match outcome {
            Ok(ok) => loaded += ok as usize,
            Err(_) => panic!("case {case} panicked; bytes: {:?}", String::from_utf8_lossy(&bytes[..bytes.len().min(2000)])),
        }
    }
    eprintln!("{n} damaged checkpoints: {loaded} loaded, {} rejected", n - loaded);
    assert!(loaded < n, "no damage was detected at all");
}
