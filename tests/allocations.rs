//! A steady-state training step and a single-window forecast allocate nothing, for every model, small and at
//! baselines.md's configuration: counted by a global allocator over every thread (this test binary only), comparing
//! fits that differ only in their number of steps. The one allocation left is rayon's: its global injector, which
//! takes a training step's work into the pool, allocates a block of 63 job slots per 63 jobs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use neuro_divergent::data::Panel;
use neuro_divergent::engine::{Control, Engine, EngineConfig, FitOptions, ModelSpec};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's allocations: the thread pool's workers register themselves (thread info, crossbeam's epoch)
    /// once, on their own schedule, and a window forecast runs on the calling thread alone.
    static THREAD_ALLOCATIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn count_one() {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    THREAD_ALLOCATIONS.with(|c| c.set(c.get() + 1));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counter is global: tests that count take this lock so that they do not count each other.
static COUNTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Allocations on every thread while `work` runs.
fn allocations_during(work: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    work();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

fn panel() -> Panel {
    Panel::from_fn(3, 120, |s, t| 10.0 + s as f64 + (t as f64 / 2.0).sin()).unwrap()
}

/// Allocations on this thread while `work` runs.
fn thread_allocations_during(work: impl FnOnce()) -> usize {
    let before = THREAD_ALLOCATIONS.with(|c| c.get());
    work();
    THREAD_ALLOCATIONS.with(|c| c.get()) - before
}

/// Each model at a small size (baseline-like layer shapes, few parameters) with the usual batch of 32 windows;
/// `LSTM@baseline` and `GRU@baseline` at baselines.md's configuration.
fn engine(model: &str) -> Engine {
    let (model, baseline) = model.split_once('@').map_or((model, false), |(m, _)| (m, true));
    let sizes = match model {
        "DLinear" | "NLinear" => serde_json::json!({}),
        "TCN" if baseline => serde_json::json!({ "encoderHiddenSize": 64, "decoderHiddenSize": 64, "kernelSize": 2, "dilations": [1, 2, 4, 8, 16] }),
        "NHITS" | "NBEATS" | "VanillaTransformer" | "TiDE" | "KAN" if baseline => serde_json::json!({}),
        "PatchTST" | "BiTCN" if baseline => serde_json::json!({}),
        _ if baseline => serde_json::json!({ "encoderHiddenSize": 64, "decoderHiddenSize": 64 }),
        "LSTM" | "GRU" | "RNN" => serde_json::json!({ "encoderHiddenSize": 16, "decoderHiddenSize": 16 }),
        "MLP" => serde_json::json!({ "hiddenSize": 32, "numLayers": 2 }),
        "TiDE" => serde_json::json!({ "hiddenSize": 32, "temporalDecoderDim": 16 }),
        "KAN" => serde_json::json!({ "hiddenSize": 32 }),
        "BiTCN" => serde_json::json!({ "hiddenSize": 8 }),
        "TCN" => serde_json::json!({ "encoderHiddenSize": 16, "decoderHiddenSize": 16, "kernelSize": 2, "dilations": [1, 2, 4] }),
        "NHITS" | "NBEATS" => serde_json::json!({ "mlpUnits": [[32, 32], [32, 32], [32, 32]] }),
        "PatchTST" => serde_json::json!({ "hiddenSize": 16, "nHeads": 4, "linearHiddenSize": 32 }),
        // Multivariate: the panel's three series jointly.
        "TSMixer" => serde_json::json!({ "nSeries": 3, "ffDim": 16 }),
        "iTransformer" => serde_json::json!({ "nSeries": 3, "hiddenSize": 16, "nHeads": 2, "dFf": 32 }),
        "TSMixerx" => serde_json::json!({ "nSeries": 3, "ffDim": 16 }),
        "DeepAR" => serde_json::json!({ "lstmHiddenSize": 16 }),
        "TFT" => serde_json::json!({ "hiddenSize": 16, "nHead": 2 }),
        _ => serde_json::json!({ "hiddenSize": 16, "nHead": 2, "convHiddenSize": 8 }),
    };
    let mut options = serde_json::json!({ "type": model, "h": 12, "inputSize": 24, "scalerType": "standard", "batchSize": 32 });
    options.as_object_mut().unwrap().extend(sizes.as_object().unwrap().clone());
    let spec = ModelSpec::from_options(options.as_object().unwrap(), "model").unwrap();
    let mut config = EngineConfig::new(vec![spec]);
    config.num_threads = 2;
    Engine::new(config).unwrap()
}

/// The models checked: all at a small size, the recurrent ones and TCN also at the baseline; in an optimised build
/// (`cargo test --release`) the 2.4 M-parameter NHITS and NBEATS and the Transformer at the baseline too, which
/// a debug build trains too slowly for `npm test`.
fn models() -> Vec<&'static str> {
    let mut models = vec!["LSTM", "GRU", "MLP", "TCN", "NHITS", "NBEATS", "VanillaTransformer", "TiDE", "KAN", "LSTM@baseline", "GRU@baseline", "TCN@baseline"];
    models.extend(["DLinear", "NLinear", "RNN", "RNN@baseline", "PatchTST", "TSMixer", "iTransformer", "BiTCN", "BiTCN@baseline", "TSMixerx", "DeepAR", "TFT"]);
    if !cfg!(debug_assertions) {
        models.extend(["NHITS@baseline", "NBEATS@baseline", "VanillaTransformer@baseline", "TiDE@baseline", "KAN@baseline"]);
        models.push("PatchTST@baseline");
    }
    models
}

/// The allocations of 10 steady-state training steps: a fit of 12 steps less one of 2, both after fits that start
/// the thread pool's workers and size their buffers. Setup (loss curves, window index, shard gradients)
/// allocates the same in both.
fn allocations_of_10_steps(model: &str) -> i64 {
    let panel = panel();
    let mut e = engine(model);
    let fit = |e: &mut Engine, steps| {
        let options = FitOptions { max_steps: Some(steps), ..FitOptions::default() };
        allocations_during(|| {
            e.fit(&panel, &options, &mut |_| Control::Continue).unwrap();
        }) as i64
    };
    // Warm-up: thread-local buffers (the packed weights of the small-input kernels) are sized on the first part a
    // thread runs, so both threads must have run parts before the counting starts.
    fit(&mut e, 12);
    fit(&mut e, 12);
    // A pool thread that the warm-up left without a part (scheduling decides) sizes those buffers once, in whichever
    // fit it first runs one. An allocation per step would show in every measurement, so up to three are taken and
    // the one nearest zero counts.
    let mut least = i64::MAX;
    for _ in 0..3 {
        let extra = fit(&mut e, 12) - fit(&mut e, 2);
        if extra.abs() < least.abs() {
            least = extra;
        }
        if least.abs() <= 1 {
            break;
        }
    }
    least
}

/// Models whose training step still allocates (their window forecasts are checked below): PatchTST's products are
/// large enough for matrixmultiply's packing buffers, which it allocates per call; an open item of issue 18.
const TRAINING_STEPS_ALLOCATE: &[&str] = &["PatchTST"];

#[test]
fn steady_state_training_steps_do_not_allocate() {
    let _serial = COUNTING.lock().unwrap_or_else(|p| p.into_inner());
    let mut failures = Vec::new();
    for model in models().into_iter().filter(|m| !TRAINING_STEPS_ALLOCATE.contains(&m.split('@').next().unwrap())) {
        // Every step's parallel work enters the thread pool through rayon's global injector, which allocates one block
        // of job slots per 63 jobs: a block may fall in either fit. An allocation per step would show as 10 or more.
        let extra = allocations_of_10_steps(model);
        if extra.abs() > 1 {
            failures.push(format!("{model}: 10 more training steps allocated {extra} times"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn window_forecasts_do_not_allocate() {
    let _serial = COUNTING.lock().unwrap_or_else(|p| p.into_inner());
    for model in models() {
        let mut e = engine(model);
        e.fit(&panel(), &FitOptions { max_steps: Some(5), ..FitOptions::default() }, &mut |_| Control::Continue).unwrap();
        // 24 values, of each of the three series for the multivariate TSMixer and iTransformer.
        let window = vec![10.0; e.window_input_len(0).unwrap()];
        let mut out = vec![0.0; e.window_output_len(0).unwrap()];
        e.forecast_window(0, &window, &mut out).unwrap();
        let during = thread_allocations_during(|| {
            for _ in 0..1000 {
                e.forecast_window(0, &window, &mut out).unwrap();
            }
        });
        assert_eq!(during, 0, "{model}: 1000 window forecasts allocated {during} times");
    }
}
