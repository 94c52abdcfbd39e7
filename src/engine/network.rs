//! The trainable model behind a `ModelSpec`, whatever its architecture.

use super::error::EngineError;
use super::spec::{ModelKind, ModelSpec};
use crate::models::{ForecasterCache, Gru, Lstm};
use crate::nn::{NnError, ParamStore};

#[derive(Debug, Clone)]
pub enum Network {
    Lstm(Lstm),
    Gru(Gru),
}

impl Network {
    pub fn new(spec: &ModelSpec) -> Result<Network, EngineError> {
        let config = spec.recurrent_config();
        Ok(match spec.kind {
            ModelKind::Lstm => Network::Lstm(Lstm::new(config)?),
            ModelKind::Gru => Network::Gru(Gru::new(config)?),
        })
    }

    pub fn params(&self) -> &ParamStore {
        match self {
            Network::Lstm(m) => m.params(),
            Network::Gru(m) => m.params(),
        }
    }

    pub fn params_mut(&mut self) -> &mut ParamStore {
        match self {
            Network::Lstm(m) => m.params_mut(),
            Network::Gru(m) => m.params_mut(),
        }
    }

    /// `[batch, h]` forecasts (normalised space) of `windows` `[batch, input_size]`.
    pub fn forward<'c>(&self, windows: &[f32], batch: usize, cache: &'c mut ForecasterCache) -> Result<&'c [f32], NnError> {
        match self {
            Network::Lstm(m) => m.forward(windows, batch, cache),
            Network::Gru(m) => m.forward(windows, batch, cache),
        }
    }

    pub fn backward(&self, cache: &mut ForecasterCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        match self {
            Network::Lstm(m) => m.backward(cache, d_output, grads),
            Network::Gru(m) => m.backward(cache, d_output, grads),
        }
    }
}
