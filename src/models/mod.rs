//! Forecasting models built from [`crate::nn`] modules, matching NeuralForecast's architectures.

pub mod bitcn;
pub mod deepar;
pub mod dlinear;
pub mod gru;
pub mod itransformer;
pub mod kan;
pub mod lstm;
pub mod mlp;
pub mod nbeats;
pub mod nbeats_basis;
pub mod nbeats_stack;
pub mod nbeatsx;
pub mod model;
pub mod nhits;
pub mod nlinear;
pub mod options;
pub mod patchtst;
pub mod prophet;
pub mod recurrent_forecaster;
pub mod rnn;
pub mod tcn;
pub mod tft;
pub mod tide;
#[cfg(test)]
pub(crate) mod timing;
pub mod transformer;
pub mod tsmixer;
pub mod tsmixerx;

pub use gru::{Gru, GruConfig};
pub use model::{ExogSizes, InputSizeDefault, Model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
pub use options::{ModelOptions, OptionError};
pub use lstm::{Lstm, LstmConfig};
pub use mlp::{MlpConfig, MlpModel};
pub use recurrent_forecaster::{ForecasterCache, RecurrentConfig, RecurrentForecaster};
