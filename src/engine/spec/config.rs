//! The scaler choices and the forecaster-wide configuration ([`EngineConfig`]): its models, frequency, threads
//! and switches.

use super::ModelSpec;
use crate::data::Frequency;
use crate::engine::error::EngineError;

/// Scaling of a window (`scalerType`) or of a whole series (`localScalerType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalerType {
    Identity,
    Standard,
    Robust,
    MinMax,
    /// NeuralForecast's 'minmax1': the range mapped to [-1, 1].
    MinMax1,
}

impl ScalerType {
    pub const NAMES: &'static [&'static str] = &["identity", "standard", "robust", "minmax", "minmax1"];

    pub fn parse(s: &str) -> Result<ScalerType, EngineError> {
        match s {
            "identity" => Ok(ScalerType::Identity),
            "standard" => Ok(ScalerType::Standard),
            "robust" => Ok(ScalerType::Robust),
            "minmax" => Ok(ScalerType::MinMax),
            "minmax1" => Ok(ScalerType::MinMax1),
            other => Err(EngineError::Range(format!("unknown scaler '{other}'; scalers: {}", Self::NAMES.join(", ")))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ScalerType::Identity => "identity",
            ScalerType::Standard => "standard",
            ScalerType::Robust => "robust",
            ScalerType::MinMax => "minmax",
            ScalerType::MinMax1 => "minmax1",
        }
    }
}

/// A forecaster's configuration: its models and how it runs them (NeuralForecaster's options).
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// The models, each fitted and forecast on its own.
    pub models: Vec<ModelSpec>,
    /// None: inferred from the data at fit.
    pub freq: Option<Frequency>,
    /// The scaling of each whole series before the models see it (`localScalerType`).
    pub local_scaler_type: ScalerType,
    /// 0: one thread per core.
    pub num_threads: usize,
    /// false runs the scalar twins of the SIMD kernels (`simdEnabled`).
    pub simd_enabled: bool,
    /// Reuse buffers across steps (`memoryPool`).
    pub memory_pool: bool,
    /// Train in half-size shards, keeping the gradients of few at a time (`lowMemory`).
    pub low_memory: bool,
}

impl EngineConfig {
    pub fn new(models: Vec<ModelSpec>) -> EngineConfig {
        EngineConfig {
            models,
            freq: None,
            local_scaler_type: ScalerType::Identity,
            num_threads: 0,
            simd_enabled: true,
            memory_pool: true,
            low_memory: false,
        }
    }
}
