//! The one place that decides which instruction set runs: detection ([`detected`], probed once), the switches that
//! turn SIMD off (the process-wide [`set_enabled`] of the `ops` kernels and the per-thread [`scoped_simd`] /
//! [`set_thread_simd`] of forecasters with `simdEnabled: false`; see `switch`), and the vector abstractions every
//! kernel is written against: the element trait [`Float`] with the vector trait `SimdVec` over `wide` and the
//! AVX types (crate-private), and `f32s`, the masked f32 lanes of the hand-written `nn` kernels. The `nn` kernels
//! ask [`thread_isa`] which level runs on their thread.
//!
//! `wide` fixes its instruction set at compile time (SSE2 for a baseline x86-64 build), so the
//! wider paths are chosen at run time instead: every kernel body is written once, generic over
//! `SimdVec`, and instantiated inside `#[target_feature]` wrappers (see `simd_dispatch!`)
//! that are entered only after [`detected`] has confirmed the CPU supports them. Asking for an
//! [`Isa`] the CPU lacks silently falls back to the best one it has, so no call can fault with
//! an illegal instruction.

use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
pub(crate) mod f32s;
mod float;
mod switch;
mod vector;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use float::Float;
pub use switch::{active, is_enabled, scoped_simd, set_enabled, set_thread_simd, thread_isa, SimdScope};
pub(crate) use float::Lanes;
// Crate-private: the AVX vector types run their instructions from safe methods, so code
// outside the dispatch wrappers must not be able to call them (see `x86`).
pub(crate) use vector::{SimdVec, MAX_LANES};

/// An instruction-set level, ordered from least to most capable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Plain scalar loops: the reference implementations.
    Scalar,
    /// `wide` vectors at the compile-time instruction set (SSE2 on x86-64, NEON on aarch64).
    Portable,
    /// 256-bit AVX2 vectors with fused multiply-add.
    Avx2,
    /// 512-bit AVX-512F vectors.
    Avx512,
}

impl Isa {
    /// Short human-readable name: "scalar", "sse2"/"neon", "avx2+fma", "avx512f".
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Portable if cfg!(target_arch = "aarch64") => "neon",
            Isa::Portable if cfg!(target_arch = "x86_64") => "sse2",
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2+fma",
            Isa::Avx512 => "avx512f",
        }
    }

    /// The level that will actually run when `self` is requested: `self`, capped at what this
    /// CPU supports.
    pub fn available(self) -> Isa {
        self.min(detected())
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The best instruction set this CPU supports (probed once, then cached).
pub fn detected() -> Isa {
    static DETECTED: OnceLock<Isa> = OnceLock::new();
    *DETECTED.get_or_init(probe)
}

#[cfg(target_arch = "x86_64")]
fn probe() -> Isa {
    let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    // Every level includes the ones below it (the kernels run AVX2+FMA code at Avx512 too).
    if avx2 && is_x86_feature_detected!("avx512f") {
        Isa::Avx512
    } else if avx2 {
        Isa::Avx2
    } else {
        Isa::Portable
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn probe() -> Isa {
    Isa::Portable
}

/// Defines `fn $name<T: Float>(isa: Isa, args...) -> R` that runs the scalar twin for
/// [`Isa::Scalar`] and otherwise the generic body `$body::<V>` with the vector type of the best
/// available level not above `isa`.
macro_rules! simd_dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        = $body:ident | $scalar:path;) => {
        $(#[$meta])*
        $vis fn $name<T: $crate::simd::Float>(isa: $crate::simd::Isa, $($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2<T: $crate::simd::Float>($($arg: $ty),*) $(-> $ret)? {
                $body::<<T as $crate::simd::Lanes>::Avx2>($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            unsafe fn avx512<T: $crate::simd::Float>($($arg: $ty),*) $(-> $ret)? {
                $body::<<T as $crate::simd::Lanes>::Avx512>($($arg),*)
            }
            match isa.available() {
                $crate::simd::Isa::Scalar => $scalar($($arg),*),
                // SAFETY: `available()` never exceeds `detected()`, which returned Avx512 only
                // after `is_x86_feature_detected!("avx512f")` confirmed the CPU has it.
                #[cfg(target_arch = "x86_64")]
                $crate::simd::Isa::Avx512 => unsafe { avx512::<T>($($arg),*) },
                // SAFETY: as above, with "avx2" and "fma" both detected.
                #[cfg(target_arch = "x86_64")]
                $crate::simd::Isa::Avx2 => unsafe { avx2::<T>($($arg),*) },
                _ => $body::<<T as $crate::simd::Lanes>::Portable>($($arg),*),
            }
        }
    };
}
pub(crate) use simd_dispatch;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_detection_is_consistent() {
        let d = detected();
        assert!(d >= Isa::Portable);
        assert_eq!(Isa::Avx512.available(), d);
        assert_eq!(Isa::Scalar.available(), Isa::Scalar);
        assert!(!d.name().is_empty());
    }

    #[test]
    fn simd_enable_flag_switches_active() {
        set_enabled(false);
        assert_eq!(active(), Isa::Scalar);
        assert!(!is_enabled());
        set_enabled(true);
        assert_eq!(active(), detected());
    }
}
