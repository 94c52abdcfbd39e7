//! The switches that turn SIMD off: the process-wide one (`simdEnabled` of the `ops` kernels) and the per-thread
//! one (forecasters created with `simdEnabled: false`, and tests), and the level each lets run.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{detected, Isa};

static ENABLED: AtomicBool = AtomicBool::new(true);

/// The level the convenience kernels use: [`Isa::Scalar`] while SIMD is disabled, else [`detected`].
pub fn active() -> Isa {
    if is_enabled() {
        detected()
    } else {
        Isa::Scalar
    }
}

/// Globally enables or disables the SIMD paths (for every thread).
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether the SIMD paths are globally enabled (the default).
pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

thread_local! {
    /// Set on the threads of a forecaster created with `simdEnabled: false`.
    static SCALAR_ONLY: Cell<bool> = const { Cell::new(false) };
}

/// The level the training and forecasting kernels (`nn`) run at on this thread: [`Isa::Scalar`] while this thread
/// has SIMD disabled, else [`detected`]. The `nn` kernels run their AVX2+FMA code at [`Isa::Avx2`], their AVX-512F
/// code (where they have one) at [`Isa::Avx512`], and their scalar twins below [`Isa::Avx2`].
pub fn thread_isa() -> Isa {
    if SCALAR_ONLY.get() {
        Isa::Scalar
    } else {
        detected()
    }
}

/// Forces (or stops forcing) the scalar kernels on the calling thread; for the start of a worker thread.
pub fn set_thread_simd(enabled: bool) {
    SCALAR_ONLY.set(!enabled);
}

/// Enables or disables the SIMD kernels on this thread until the guard is dropped (also on a panic),
/// then restores the previous setting.
#[must_use = "the setting lasts only while the guard lives"]
pub fn scoped_simd(enabled: bool) -> SimdScope {
    SimdScope(SCALAR_ONLY.replace(!enabled))
}

/// Restores the thread's previous SIMD setting on drop.
pub struct SimdScope(bool);

impl Drop for SimdScope {
    fn drop(&mut self) {
        SCALAR_ONLY.set(self.0);
    }
}
