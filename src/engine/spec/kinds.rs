//! The model kinds: every neural model's [`ModelConfig`] behind one [`ModelKind`] and [`Architecture`], and Prophet.

use serde_json::{Map, Value};

use crate::engine::network::Network;
use crate::models::deepar::DeepArConfig;
use crate::models::dlinear::DlinearConfig;
use crate::models::bitcn::BitcnConfig;
use crate::models::gru::GruConfig;
use crate::models::itransformer::ITransformerConfig;
use crate::models::kan::KanConfig;
use crate::models::lstm::LstmConfig;
use crate::models::mlp::MlpConfig;
use crate::models::model::{ModelConfig, ModelShape, TrainingDefaults};
use crate::models::nbeats::NbeatsConfig;
use crate::models::nbeatsx::NbeatsxConfig;
use crate::models::nhits::NhitsConfig;
use crate::models::nlinear::NlinearConfig;
use crate::models::options::OptionError;
use crate::models::patchtst::PatchTstConfig;
use crate::models::prophet::ProphetConfig;
use crate::models::rnn::RnnConfig;
use crate::models::tcn::TcnConfig;
use crate::models::tft::TftConfig;
use crate::models::tide::TideConfig;
use crate::models::transformer::TransformerConfig;
use crate::models::tsmixer::TsMixerConfig;
use crate::models::tsmixerx::TsMixerxConfig;
use crate::models::ModelOptions;
use crate::nn::NnError;

/// Declares the neural model kinds: each a [`ModelConfig`], its variant of [`ModelKind`] and [`Architecture`].
macro_rules! architectures {
    ($($kind:ident => $config:ty),* $(,)?) => {
        /// Every model type: the neural ones, each a [`ModelConfig`], and Prophet.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ModelKind {
            $($kind,)*
            Prophet,
        }

        /// A model's architecture: its configuration, shape included.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Architecture {
            $($kind($config)),*
        }

        impl ModelKind {
            pub const ALL: &'static [ModelKind] = &[$(ModelKind::$kind,)* ModelKind::Prophet];

            /// NeuralForecast's class name (Prophet's own for Prophet), also the default alias.
            pub fn name(self) -> &'static str {
                match self {
                    $(ModelKind::$kind => <$config as ModelConfig>::NAME,)*
                    ModelKind::Prophet => ProphetConfig::NAME,
                }
            }

            /// The model's own options (architecture, or Prophet's).
            pub(super) fn option_keys(self) -> &'static [&'static str] {
                match self {
                    $(ModelKind::$kind => <$config as ModelConfig>::OPTION_KEYS,)*
                    ModelKind::Prophet => ProphetConfig::OPTION_KEYS,
                }
            }

            /// A neural model's loss when none is given (see [`ModelConfig::default_loss`]).
            pub(super) fn default_loss(self) -> Result<crate::nn::loss::Loss, NnError> {
                match self {
                    $(ModelKind::$kind => <$config as ModelConfig>::default_loss(),)*
                    ModelKind::Prophet => Ok(crate::nn::loss::Loss::Mae),
                }
            }

            /// NeuralForecast's `RECURRENT` models (see [`ModelConfig::RECURRENT`]).
            pub(super) fn recurrent(self) -> bool {
                match self {
                    $(ModelKind::$kind => <$config as ModelConfig>::RECURRENT,)*
                    ModelKind::Prophet => false,
                }
            }

            /// The shared training defaults of a neural model; `None` for Prophet.
            pub(super) fn training_defaults(self) -> Option<TrainingDefaults> {
                match self {
                    $(ModelKind::$kind => Some(<$config as ModelConfig>::TRAINING_DEFAULTS),)*
                    ModelKind::Prophet => None,
                }
            }

            /// A neural model's default architecture for `shape`, overridden by `options`.
            pub(super) fn architecture(self, shape: ModelShape, options: &ModelOptions<'_>) -> Result<Architecture, OptionError> {
                match self {
                    $(ModelKind::$kind => {
                        let mut config = <$config as ModelConfig>::new(shape);
                        config.read_options(options)?;
                        Ok(Architecture::$kind(config))
                    })*
                    ModelKind::Prophet => Err(OptionError::Type("Prophet is not a neural network".into())),
                }
            }
        }

        impl Architecture {
            pub fn kind(&self) -> ModelKind {
                match self {
                    $(Architecture::$kind(_) => ModelKind::$kind),*
                }
            }

            pub fn shape(&self) -> &ModelShape {
                match self {
                    $(Architecture::$kind(c) => c.shape()),*
                }
            }

            pub(super) fn write_options(&self, out: &mut Map<String, Value>) {
                match self {
                    $(Architecture::$kind(c) => c.write_options(out)),*
                }
            }

            /// `Some(n_series)` for a multivariate model (see [`ModelConfig::n_series`]).
            pub fn n_series(&self) -> Option<usize> {
                match self {
                    $(Architecture::$kind(c) => c.n_series()),*
                }
            }

            /// See [`ModelConfig::adopt_loss`].
            pub(super) fn adopt_loss(&mut self, loss: &mut crate::nn::loss::Loss) -> Result<(), NnError> {
                match self {
                    $(Architecture::$kind(c) => c.adopt_loss(loss)),*
                }
            }

            /// A recurrent model's targets per training window (see [`ModelConfig::training_horizon`]).
            pub fn training_horizon(&self) -> Option<usize> {
                match self {
                    $(Architecture::$kind(c) => c.training_horizon()),*
                }
            }

            /// Values of the buffers (not parameters: BatchNorm's running statistics), by arithmetic.
            pub fn buffer_values(&self) -> u128 {
                match self {
                    $(Architecture::$kind(c) => c.buffer_values()),*
                }
            }

            /// Exact parameter count and activations per window, by arithmetic.
            pub fn memory_estimate(&self) -> (u128, u128) {
                match self {
                    $(Architecture::$kind(c) => c.memory_estimate()),*
                }
            }

            /// The network with freshly initialised weights, and the trainable head `loss` has (IQLoss's).
            pub(crate) fn build(&self, loss: &crate::nn::loss::Loss) -> Result<Network, NnError> {
                match self {
                    $(Architecture::$kind(c) => Network::new(c.build()?, loss, c.shape().random_seed)),*
                }
            }
        }
    };
}

architectures! {
    Lstm => LstmConfig,
    Gru => GruConfig,
    Mlp => MlpConfig,
    Tcn => TcnConfig,
    Nbeats => NbeatsConfig,
    Nbeatsx => NbeatsxConfig,
    Nhits => NhitsConfig,
    VanillaTransformer => TransformerConfig,
    Dlinear => DlinearConfig,
    Nlinear => NlinearConfig,
    Rnn => RnnConfig,
    Tide => TideConfig,
    Kan => KanConfig,
    PatchTst => PatchTstConfig,
    TsMixer => TsMixerConfig,
    ITransformer => ITransformerConfig,
    Bitcn => BitcnConfig,
    TsMixerx => TsMixerxConfig,
    DeepAr => DeepArConfig,
    Tft => TftConfig,
}

impl ModelKind {
    /// A kind by its class name (any case) or one of NeuralForecast's other names for it (`Transformer`).
    pub fn parse(name: &str) -> Option<ModelKind> {
        if name.eq_ignore_ascii_case("Transformer") {
            return Some(ModelKind::VanillaTransformer);
        }
        ModelKind::ALL.iter().copied().find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// The class names of this build, for messages and `models.*`.
    pub fn names() -> Vec<&'static str> {
        ModelKind::ALL.iter().map(|k| k.name()).collect()
    }
}
