//! Tensor names and the tensors NeuralForecast stores beside the weights: our parameter names are its state-dict
//! names except TCN's convolutions (NeuralForecast keeps `…tcn.N.causalconv.0.*`, tied to `…tcn.N.conv.*`),
//! and NeuralForecast also stores buffers we compute (the transformer's sinusoids, KAN's grids, the quantiles of a
//! multi-quantile loss, IQLoss's cosine integers) and `valid_loss.*`, tied to `loss.*` when no `valid_loss` is set.

use std::collections::BTreeMap;

use crate::engine::spec::{ModelKind, NeuralSpec};
use crate::nn::loss::Loss;

/// NeuralForecast's `PositionalEmbedding(max_len=5000)`: the rows of sinusoids it keeps.
const POSITIONS: usize = 5000;

/// The name NeuralForecast stores our parameter `ours` under.
pub(super) fn stored_name(kind: ModelKind, ours: &str) -> String {
    match tcn_convolution(kind, ours) {
        Some((block, field)) => format!("hist_encoder.tcn.{block}.causalconv.0.{field}"),
        None => ours.to_string(),
    }
}

/// The alias NeuralForecast's `shared` metadata lists for a stored name (TCN's `conv`, tied to `causalconv.0`).
fn tied_alias(kind: ModelKind, ours: &str) -> Option<String> {
    tcn_convolution(kind, ours).map(|(block, field)| format!("hist_encoder.tcn.{block}.conv.{field}"))
}

/// `(block, weight|bias)` of a TCN convolution parameter `hist_encoder.tcn.N.conv.<field>`.
fn tcn_convolution(kind: ModelKind, ours: &str) -> Option<(&str, &str)> {
    if kind != ModelKind::Tcn {
        return None;
    }
    let rest = ours.strip_prefix("hist_encoder.tcn.")?;
    let (block, field) = rest.split_once(".conv.")?;
    Some((block, field))
}

/// The values of a tensor NeuralForecast keeps and we compute.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum BufferValues {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

/// A buffer NeuralForecast stores in the state dict, with the value it must hold.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Buffer {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: BufferValues,
    /// Compared within this absolute tolerance when read (the sinusoids depend on torch's `sin`/`exp`).
    pub tolerance: f32,
}

/// The buffers NeuralForecast's module of `spec` holds besides our parameters, under `prefix`-free names.
pub(super) fn buffers(spec: &NeuralSpec) -> Vec<Buffer> {
    let mut out = Vec::new();
    if let crate::engine::spec::Architecture::VanillaTransformer(config) = &spec.architecture {
        for module in ["enc_embedding", "dec_embedding"] {
            out.push(Buffer {
                name: format!("{module}.position_embedding.pe"),
                shape: vec![1, POSITIONS, config.hidden_size],
                values: BufferValues::F32(crate::nn::embedding::sinusoids(POSITIONS, config.hidden_size)),
                // torch's f32 `exp` and `sin` differ from ours by an ulp, which grows with the position.
                tolerance: 1e-3,
            });
        }
    }
    if let crate::engine::spec::Architecture::Kan(config) = &spec.architecture {
        out.extend(config.grid_buffers().into_iter().map(|(name, shape, values)| Buffer {
            name,
            shape,
            values: BufferValues::F32(values),
            // torch's `arange * step + low` in f32 against ours in f64 rounded once.
            tolerance: 1e-6,
        }));
    }
    out.extend(loss_buffers(&spec.loss, "loss"));
    out
}

/// The buffers of a loss module stored under `prefix` (`loss` or `valid_loss`).
pub(super) fn loss_buffers(loss: &Loss, prefix: &str) -> Vec<Buffer> {
    match loss {
        Loss::MultiQuantile { quantiles, .. } | Loss::HuberMultiQuantile { quantiles, .. } => vec![Buffer {
            name: format!("{prefix}.quantiles"),
            shape: vec![quantiles.len()],
            values: BufferValues::F32(quantiles.clone()),
            tolerance: 1e-7,
        }],
        Loss::ImplicitQuantile { cos_embedding_dim, .. } => vec![Buffer {
            name: format!("{prefix}.quantile_layer.integers"),
            shape: vec![*cos_embedding_dim],
            values: BufferValues::I64((0..*cos_embedding_dim as i64).collect()),
            tolerance: 0.0,
        }],
        _ => Vec::new(),
    }
}

/// NeuralForecast's `shared` metadata for `names` (stored name → our name) of one model: TCN's convolution
/// aliases, and, with no `valid_loss`, each `loss.*` tensor tied to its `valid_loss.*` twin.
pub(super) fn shared(kind: ModelKind, ours: &[&str], loss_tensors: &[String], valid_loss_tied: bool) -> BTreeMap<String, Vec<String>> {
    let mut shared = BTreeMap::new();
    for name in ours {
        if let Some(alias) = tied_alias(kind, name) {
            shared.insert(stored_name(kind, name), vec![alias]);
        }
    }
    if valid_loss_tied {
        for name in loss_tensors {
            if let Some(rest) = name.strip_prefix("loss.") {
                shared.insert(name.clone(), vec![format!("valid_loss.{rest}")]);
            }
        }
    }
    shared
}
