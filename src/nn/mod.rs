//! The f32 training core: small modules with explicit forward and backward passes, no autograd.
//!
//! Parameters live in a [`ParamStore`] under torch-compatible dotted names; a module holds only ids
//! into it. Forward passes take the store by shared reference and write what backward needs into a
//! caller-owned cache, and backward passes accumulate into a separate gradient store, so one set of
//! weights can serve several threads at once.

pub mod activation;
pub mod adam;
pub mod attention;
pub mod batch_norm;
pub mod conv1d;
pub mod dropout;
pub mod elu;
pub mod embedding;
pub mod error;
pub mod gelu;
pub mod glu_gate;
#[cfg(test)]
pub(crate) mod gradcheck;
pub mod grn;
pub mod gru;
pub mod heap_bytes;
pub mod interpolate;
pub mod interpretable_attention;
pub mod kan_linear;
pub mod layer_norm;
pub mod linear;
pub mod loss;
pub mod lstm;
pub mod matmul;
pub mod mlp_residual;
pub mod params;
pub mod patching;
pub mod pooling;
pub mod recurrent;
pub mod relu_mlp;
pub mod revin;
pub mod revin_multivariate;
pub mod rnn;
pub mod series_decomp;
pub mod static_covariate_encoder;
pub mod tcn_cell;
pub mod tensor;
pub mod ts_mixing;
pub mod tft_embedding;
pub mod tsmixerx_mixing;
pub mod variable_selection;

pub use error::NnError;
pub use linear::Linear;
pub use params::{ParamId, ParamInit, ParamStore, TensorKind};
pub use tensor::Tensor;
