//! NeuralForecast's `TFT` (neuralforecast/models/tft.py), the Temporal Fusion Transformer:
//! - per-variable embeddings (`embedding`) of the static, future, historic and target inputs; without future
//!   variables the window's last value, repeated over the `L + h` steps, stands in for one (as tft.py);
//! - the static covariate encoder (with static variables; zero contexts and states without) gives the selection
//!   context `cs`, the enrichment context `ce` and the LSTM's initial states;
//! - `temporal_encoder`: the historic variable selection (historic, future and target embeddings of the `L`
//!   input steps) into the `history_encoder` LSTM, the future selection (future embeddings of the `h` steps) into
//!   the `future_encoder` LSTM started from the encoder's last state, then a gated skip (`input_gate`, a GLU, plus
//!   the selected inputs) and `input_gate_ln`;
//! - `temporal_fusion_decoder`: static enrichment (a GRN with context `ce`), interpretable multi-head attention
//!   over all `L + h` steps (causal), of which the `h` future steps go on through the gated skip
//!   `attention_gate` + `attention_ln`, the position-wise GRN, and the final gated skip over the temporal
//!   features (`decoder_gate` + `decoder_ln`);
//! - `output_adapter`: `Linear(hidden, outputs_per_point)` per horizon step.
//!
//! The selection weights and attention probabilities of a pass are NeuralForecast's interpretability outputs
//! ([`Tft::interpretability`]).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{impl_model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{write_entries, ModelOptions, OptionError, OptionResult};
use crate::nn::activation::ActivationKind;
use crate::nn::grn::{DropoutStreams, Glu, GluCache, Grn, GrnCache, GrnSizes, TFT_LAYER_NORM_EPS};
use crate::nn::interpretable_attention::{InterpretableAttention, InterpretableAttentionCache};
use crate::nn::layer_norm::{LayerNorm, LayerNormCache};
use crate::nn::lstm::Lstm;
use crate::nn::recurrent::{RecurrentCache, RecurrentState, RecurrentStateGrad};
use crate::nn::static_covariate_encoder::{StaticContextGrads, StaticCovariateCache, StaticCovariateEncoder};
use crate::nn::tft_embedding::ContinuousEmbedding;
use crate::nn::variable_selection::{VariableSelection, VariableSelectionCache};
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

#[derive(Debug, Clone, PartialEq)]
pub struct TftConfig {
    pub shape: ModelShape,
    pub hidden_size: usize,
    pub n_head: usize,
    pub attn_dropout: f64,
    pub grn_activation: ActivationKind,
    pub n_rnn_layers: usize,
    /// tft.py's `one_rnn_initial_state`: one pair of static initial states for every LSTM layer.
    pub one_rnn_initial_state: bool,
    pub dropout: f64,
}

impl TftConfig {
    /// tft.py's `futr_exog_size = max(futr_exog_size, 1)`: the repeated last value stands in for none.
    fn futr_vars(&self) -> usize {
        self.shape.exog.futr.max(1)
    }

    /// The historic selection's variables: historic, future, target.
    fn hist_vars(&self) -> usize {
        self.shape.exog.hist + self.futr_vars() + 1
    }

    fn n_states(&self) -> usize {
        if self.one_rnn_initial_state { 1 } else { self.n_rnn_layers }
    }
}

/// Parameters of a GRN of these sizes (see [`GrnSizes`]).
fn grn_parameters(input: u128, hidden: u128, output: Option<u128>, context: bool) -> u128 {
    let out = output.unwrap_or(hidden);
    let norm = if out == 1 { 0 } else { 2 * out };
    norm + input * hidden + hidden + if context { hidden * hidden } else { 0 } + hidden * hidden + hidden + hidden * 2 * out + 2 * out
        + output.map_or(0, |o| input * o + o)
}

/// Parameters of a variable selection network of `n` variables.
fn vsn_parameters(n: u128, hidden: u128) -> u128 {
    grn_parameters(n * hidden, hidden, Some(n), true) + n * grn_parameters(hidden, hidden, None, false)
}

impl ModelConfig for TftConfig {
    type Network = Tft;

    const NAME: &'static str = "TFT";
    const OPTION_KEYS: &'static [&'static str] =
        &["hiddenSize", "nHead", "attnDropout", "grnActivation", "nRnnLayers", "rnnType", "oneRnnInitialState", "dropout"];
    /// tft.py: `input_size` required, `scaler_type='robust'`, `windows_batch_size=1024`,
    /// `inference_windows_batch_size=1024`.
    const TRAINING_DEFAULTS: TrainingDefaults =
        TrainingDefaults { scaler_type: "robust", inference_windows_batch_size: Some(1024), ..TrainingDefaults::WINDOWS };

    /// tft.py: `hidden_size=128`, `n_head=4`, `attn_dropout=0`, `grn_activation='ELU'`, `n_rnn_layers=1`,
    /// `rnn_type='lstm'`, `one_rnn_initial_state=False`, `dropout=0.1`.
    fn new(shape: ModelShape) -> Self {
        TftConfig {
            shape,
            hidden_size: 128,
            n_head: 4,
            attn_dropout: 0.0,
            grn_activation: ActivationKind::Elu,
            n_rnn_layers: 1,
            one_rnn_initial_state: false,
            dropout: 0.1,
        }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        options.read_sizes([("hiddenSize", &mut self.hidden_size), ("nHead", &mut self.n_head), ("nRnnLayers", &mut self.n_rnn_layers)])?;
        if self.hidden_size % self.n_head != 0 {
            return Err(OptionError::Range(format!(
                "{} ({}) must be a multiple of {} ({})",
                options.field("hiddenSize"), self.hidden_size, options.field("nHead"), self.n_head
            )));
        }
        self.attn_dropout = options.dropout_probability("attnDropout")?.unwrap_or(self.attn_dropout);
        self.dropout = options.dropout_probability("dropout")?.unwrap_or(self.dropout);
        if let Some(name) = options.choice("grnActivation", &ActivationKind::GRN.map(ActivationKind::name))? {
            self.grn_activation = ActivationKind::from_name(name).unwrap_or(self.grn_activation);
        }
        // tft.py's GRU variant is not implemented: refused rather than ignored.
        options.choice("rnnType", &["lstm"])?;
        self.one_rnn_initial_state = options.boolean("oneRnnInitialState")?.unwrap_or(self.one_rnn_initial_state);
        Ok(())
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        write_entries(out, [
            ("hiddenSize", self.hidden_size.into()), ("nHead", self.n_head.into()), ("attnDropout", self.attn_dropout.into()),
            ("grnActivation", self.grn_activation.name().into()), ("nRnnLayers", self.n_rnn_layers.into()), ("rnnType", "lstm".into()),
            ("oneRnnInitialState", self.one_rnn_initial_state.into()), ("dropout", self.dropout.into()),
        ]);
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let ModelShape { h, input_size: l, outputs_per_point: outputs, exog, .. } = self.shape;
        let [h, l, outputs, hidden, stat, futr, hist_vars, layers, heads] =
            [h, l, outputs, self.hidden_size, exog.stat, self.futr_vars(), self.hist_vars(), self.n_rnn_layers, self.n_head].map(|v| v as u128);
        let dh = hidden / heads;
        let grn = |context| grn_parameters(hidden, hidden, None, context);
        let glu = hidden * 2 * hidden + 2 * hidden;
        let lstm = layers * (4 * hidden * 2 * hidden + 8 * hidden);
        let mut parameters = 2 * hidden * (stat + futr + exog.hist as u128 + 1);
        if stat > 0 {
            parameters += vsn_parameters(stat, hidden) + (2 + 2 * self.n_states() as u128) * grn(false);
        }
        parameters += vsn_parameters(hist_vars, hidden) + 2 * lstm + vsn_parameters(futr, hidden) + glu + 2 * hidden;
        parameters += grn(true) + hidden * (2 * heads + 1) * dh + dh * hidden + glu + 2 * hidden + grn(false) + glu + 2 * hidden;
        parameters += hidden * outputs + outputs;
        // Per window: each selected variable's embedding and GRN pass (about 14 hidden-wide rows per step), the
        // joint GRNs, the LSTMs (gates, states, inputs), the gated skips, enrichment and decoder GRNs (about 60
        // rows per step), the attention's scores twice over.
        let t = l + h;
        let activations = hidden * (16 * (l * hist_vars + h * futr + stat) + 24 * (l + h) * layers + 64 * t + 20 * (2 + 2 * layers))
            + 3 * heads * t * t + t * (2 * heads + 1) * dh + 4 * h * outputs;
        (parameters, activations)
    }

    fn build(&self) -> Result<Tft, NnError> {
        crate::nn::error::nonzero("nRnnLayers", self.n_rnn_layers)?;
        let ModelShape { outputs_per_point, exog, random_seed, .. } = self.shape;
        let hidden = self.hidden_size;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let mut dropouts = DropoutStreams::new(self.dropout as f32);
        let activation = self.grn_activation;
        let embedding = {
            let mut init = init.pp("embedding");
            let optional = |init: &mut ParamInit<'_>, name: &str, n: usize| (n > 0).then(|| ContinuousEmbedding::new(init, name, n, hidden)).transpose();
            Embeddings {
                stat: optional(&mut init, "stat_exog_embedding", exog.stat)?,
                futr: ContinuousEmbedding::new(&mut init, "futr_exog_embedding", self.futr_vars(), hidden)?,
                hist: optional(&mut init, "hist_exog_embedding", exog.hist)?,
                tgt: ContinuousEmbedding::new(&mut init, "tgt_embedding", 1, hidden)?,
            }
        };
        let static_encoder = match exog.stat {
            0 => None,
            n => Some(StaticCovariateEncoder::new(
                &mut init.pp("static_encoder"), hidden, n, activation, self.n_rnn_layers, self.one_rnn_initial_state, &mut dropouts,
            )?),
        };
        let mut temporal = init.pp("temporal_encoder");
        let history_vsn = VariableSelection::new(&mut temporal.pp("history_vsn"), hidden, self.hist_vars(), activation, &mut dropouts)?;
        let history_encoder = Lstm::new(&mut temporal.pp("history_encoder"), Default::default(), hidden, hidden, self.n_rnn_layers)?;
        let future_encoder = Lstm::new(&mut temporal.pp("future_encoder"), Default::default(), hidden, hidden, self.n_rnn_layers)?;
        let future_vsn = VariableSelection::new(&mut temporal.pp("future_vsn"), hidden, self.futr_vars(), activation, &mut dropouts)?;
        let input_gate = Glu::new(&mut temporal.pp("input_gate"), hidden, hidden)?;
        let input_gate_ln = LayerNorm::with_eps(&mut temporal.pp("input_gate_ln"), hidden, TFT_LAYER_NORM_EPS)?;
        let mut fusion = init.pp("temporal_fusion_decoder");
        let grn_sizes = |context| GrnSizes { input: hidden, hidden, output: None, context };
        let enrichment_grn = Grn::new(&mut fusion.pp("enrichment_grn"), grn_sizes(true), activation, dropouts.next()?)?;
        let attn_dropout = dropouts.with_p(self.attn_dropout as f32)?;
        let attention = InterpretableAttention::new(&mut fusion.pp("attention"), hidden, self.n_head, attn_dropout, dropouts.next()?)?;
        let attention_gate = Glu::new(&mut fusion.pp("attention_gate"), hidden, hidden)?;
        let attention_ln = LayerNorm::with_eps(&mut fusion.pp("attention_ln"), hidden, TFT_LAYER_NORM_EPS)?;
        let positionwise_grn = Grn::new(&mut fusion.pp("positionwise_grn"), grn_sizes(false), activation, dropouts.next()?)?;
        let decoder_gate = Glu::new(&mut fusion.pp("decoder_gate"), hidden, hidden)?;
        let decoder_ln = LayerNorm::with_eps(&mut fusion.pp("decoder_ln"), hidden, TFT_LAYER_NORM_EPS)?;
        let output_adapter = Linear::new(&mut init.pp("output_adapter"), hidden, outputs_per_point)?;
        Ok(Tft {
            config: self.clone(),
            params,
            embedding,
            static_encoder,
            history_vsn,
            history_encoder,
            future_encoder,
            future_vsn,
            input_gate,
            input_gate_ln,
            enrichment_grn,
            attention,
            attention_gate,
            attention_ln,
            positionwise_grn,
            decoder_gate,
            decoder_ln,
            output_adapter,
        })
    }
}

/// tft.py's `TFTEmbedding`: the future embedding always exists (the repeated last value without future
/// variables), as does the target's.
#[derive(Debug, Clone)]
struct Embeddings {
    stat: Option<ContinuousEmbedding>,
    futr: ContinuousEmbedding,
    hist: Option<ContinuousEmbedding>,
    tgt: ContinuousEmbedding,
}

#[derive(Debug, Clone)]
pub struct Tft {
    config: TftConfig,
    params: ParamStore,
    embedding: Embeddings,
    static_encoder: Option<StaticCovariateEncoder>,
    history_vsn: VariableSelection,
    history_encoder: Lstm,
    future_encoder: Lstm,
    future_vsn: VariableSelection,
    input_gate: Glu,
    input_gate_ln: LayerNorm,
    enrichment_grn: Grn,
    attention: InterpretableAttention,
    attention_gate: Glu,
    attention_ln: LayerNorm,
    positionwise_grn: Grn,
    decoder_gate: Glu,
    decoder_ln: LayerNorm,
    output_adapter: Linear,
}

#[derive(Debug, Clone, Default)]
pub struct TftCache {
    batch: usize,
    /// The window's inputs the embeddings saw: future values `[B, L + h, F]`, targets `[B, L]`, historic
    /// `[B, L, hist]`, static `[B, stat]`.
    futr_values: Vec<f32>,
    targets: Vec<f32>,
    hist_values: Vec<f32>,
    stat_values: Vec<f32>,
    /// Embeddings: static `[B, stat, H]`, the historic selection's `[B L, hist vars, H]`, the future's `[B h, F, H]`.
    stat_embedded: Vec<f32>,
    hist_embedded: Vec<f32>,
    futr_embedded: Vec<f32>,
    static_encoder: StaticCovariateCache,
    /// Zero contexts `[B, H]` and states without static variables.
    zeros: Vec<f32>,
    history_vsn: VariableSelectionCache,
    future_vsn: VariableSelectionCache,
    hist_features: Vec<f32>,
    futr_features: Vec<f32>,
    encoder: RecurrentCache,
    decoder: RecurrentCache,
    /// The encoder's last states `[layers, B, H]`, the decoder's initial ones.
    decoder_h0: Vec<f32>,
    decoder_c0: Vec<f32>,
    /// `[B, L + h, H]`: the LSTM outputs, the selected inputs, and the gated skip's sum and output.
    temporal: Vec<f32>,
    input_embedding: Vec<f32>,
    input_gate: GluCache,
    input_sum: Vec<f32>,
    input_ln: LayerNormCache,
    temporal_features: Vec<f32>,
    enrichment: GrnCache,
    enriched: Vec<f32>,
    attention: InterpretableAttentionCache,
    /// The horizon steps `[B h, H]` of the attention output, enrichment and temporal features.
    attended: Vec<f32>,
    enriched_future: Vec<f32>,
    temporal_future: Vec<f32>,
    attention_gate: GluCache,
    attention_sum: Vec<f32>,
    attention_ln: LayerNormCache,
    attention_out: Vec<f32>,
    positionwise: GrnCache,
    positionwise_out: Vec<f32>,
    decoder_gate: GluCache,
    decoder_sum: Vec<f32>,
    decoder_ln: LayerNormCache,
    decoded: Vec<f32>,
    output: Vec<f32>,
    grad: TftGradients,
}
crate::nn::heap_bytes::heap_bytes!(TftCache {
    batch, futr_values, targets, hist_values, stat_values, stat_embedded, hist_embedded, futr_embedded, static_encoder, zeros,
    history_vsn, future_vsn, hist_features, futr_features, encoder, decoder, decoder_h0, decoder_c0, temporal, input_embedding,
    input_gate, input_sum, input_ln, temporal_features, enrichment, enriched, attention, attended, enriched_future, temporal_future,
    attention_gate, attention_sum, attention_ln, attention_out, positionwise, positionwise_out, decoder_gate, decoder_sum, decoder_ln,
    decoded, output, grad
});

/// Scratch gradients of the backward pass.
#[derive(Debug, Clone, Default)]
struct TftGradients {
    decoded: Vec<f32>,
    decoder_sum: Vec<f32>,
    positionwise_out: Vec<f32>,
    attention_out: Vec<f32>,
    attention_sum: Vec<f32>,
    attended: Vec<f32>,
    attention_full: Vec<f32>,
    enriched: Vec<f32>,
    temporal_features: Vec<f32>,
    input_sum: Vec<f32>,
    temporal: Vec<f32>,
    history: Vec<f32>,
    future: Vec<f32>,
    hist_features: Vec<f32>,
    futr_features: Vec<f32>,
    lstm_input: Vec<f32>,
    encoder_final_h: Vec<f32>,
    encoder_final_c: Vec<f32>,
    initial_h: Vec<f32>,
    initial_c: Vec<f32>,
    selection: Vec<f32>,
    selection_part: Vec<f32>,
    enrichment: Vec<f32>,
    hist_embedded: Vec<f32>,
    futr_embedded: Vec<f32>,
    stat_embedded: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(TftGradients {
    decoded, decoder_sum, positionwise_out, attention_out, attention_sum, attended, attention_full, enriched, temporal_features,
    input_sum, temporal, history, future, hist_features, futr_features, lstm_input, encoder_final_h, encoder_final_c, initial_h,
    initial_c, selection, selection_part, enrichment, hist_embedded, futr_embedded, stat_embedded
});

impl_model!(Tft, TftConfig, TftCache);

/// NeuralForecast's interpretability outputs of one forward pass (`interpretability_params`), per window.
#[derive(Debug, Clone, Copy)]
pub struct Interpretability<'c> {
    /// `[B, L, hist vars]`: historic, future, then target (the `observed_target`; without future variables the
    /// repeated last value, `repeated_target`, before it).
    pub history: &'c [f32],
    /// `[B, h, F]`.
    pub future: &'c [f32],
    /// `[B, stat]`, empty without static variables.
    pub stat: &'c [f32],
    /// `[B, n_head, L + h, L + h]`.
    pub attention: &'c [f32],
}

/// Appends `rows` of `from` (row width `width`, rows `start..start + count` of each `period`-row block) to `to`.
fn gather_steps(from: &[f32], to: &mut Vec<f32>, width: usize, period: usize, start: usize, count: usize) {
    for block in from.chunks_exact(period * width) {
        to.extend_from_slice(&block[start * width..(start + count) * width]);
    }
}

/// Adds `from` `[B, count, width]` into rows `start..start + count` of each `period`-row block of `to`.
fn scatter_steps(from: &[f32], to: &mut [f32], width: usize, period: usize, start: usize, count: usize) {
    for (block, part) in to.chunks_exact_mut(period * width).zip(from.chunks_exact(count * width)) {
        block[start * width..(start + count) * width].iter_mut().zip(part).for_each(|(a, b)| *a += b);
    }
}

impl Tft {
    /// The selection weights and attention probabilities of the last forward pass in `cache`.
    pub fn interpretability<'c>(&self, cache: &'c TftCache) -> Interpretability<'c> {
        Interpretability {
            history: self.history_vsn.weights(&cache.history_vsn),
            future: self.future_vsn.weights(&cache.future_vsn),
            stat: self.static_encoder.as_ref().map_or(&[], |e| e.variable_weights(&cache.static_encoder)),
            attention: self.attention.probabilities(&cache.attention),
        }
    }

    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut TftCache) -> Result<&'c [f32], NnError> {
        let ModelShape { h, input_size: l, exog, .. } = self.config.shape;
        let (b, t, hidden, seed) = (batch.batch, l + h, self.config.hidden_size, batch.train_seed);
        let (futr, layers, params) = (self.config.futr_vars(), self.config.n_rnn_layers, &self.params);
        cache.batch = b;
        // tft.py: without future variables, the last input value repeated over every step.
        cache.futr_values.clear();
        if exog.futr > 0 {
            cache.futr_values.extend_from_slice(batch.futr_exog);
        } else {
            batch.insample_y.chunks_exact(l).for_each(|y| cache.futr_values.extend(std::iter::repeat_n(y[l - 1], t)));
        }
        cache.targets.clear();
        cache.targets.extend_from_slice(batch.insample_y);
        cache.hist_values.clear();
        cache.hist_values.extend_from_slice(batch.hist_exog);
        cache.stat_values.clear();
        cache.stat_values.extend_from_slice(batch.stat_exog);
        let emb = &self.embedding;
        cache.hist_embedded.clear();
        cache.futr_embedded.clear();
        for w in 0..b {
            for s in 0..t {
                let futr_row = &cache.futr_values[(w * t + s) * futr..(w * t + s + 1) * futr];
                if s >= l {
                    emb.futr.embed_row(params, futr_row, &mut cache.futr_embedded)?;
                    continue;
                }
                if let Some(hist) = &emb.hist {
                    hist.embed_row(params, &batch.hist_exog[(w * l + s) * exog.hist..(w * l + s + 1) * exog.hist], &mut cache.hist_embedded)?;
                }
                emb.futr.embed_row(params, futr_row, &mut cache.hist_embedded)?;
                emb.tgt.embed_row(params, &batch.insample_y[w * l + s..w * l + s + 1], &mut cache.hist_embedded)?;
            }
        }
        cache.zeros.clear();
        cache.zeros.resize(layers.max(1) * b * hidden, 0.0);
        let (cs, ce, initial) = match (&self.static_encoder, &emb.stat) {
            (Some(encoder), Some(stat)) => {
                cache.stat_embedded.clear();
                for row in batch.stat_exog.chunks_exact(exog.stat) {
                    stat.embed_row(params, row, &mut cache.stat_embedded)?;
                }
                encoder.forward(params, &cache.stat_embedded, b, seed, &mut cache.static_encoder)?;
                let (h0, c0) = encoder.initial_states(&cache.static_encoder);
                (encoder.selection_context(&cache.static_encoder), encoder.enrichment_context(&cache.static_encoder), Some(RecurrentState { h: h0, aux: c0 }))
            }
            _ => (&cache.zeros[..b * hidden], &cache.zeros[..b * hidden], None),
        };
        let selected = self.history_vsn.forward(params, &cache.hist_embedded, b * l, Some(cs), seed, &mut cache.history_vsn)?;
        cache.hist_features.clear();
        cache.hist_features.extend_from_slice(selected);
        let history = self.history_encoder.forward_from(params, &cache.hist_features, b, l, initial, &mut cache.encoder)?;
        cache.temporal.clear();
        cache.temporal.resize(b * t * hidden, 0.0);
        scatter_steps(history, &mut cache.temporal, hidden, t, 0, l);
        cache.decoder_h0.clear();
        cache.decoder_c0.clear();
        for k in 0..layers {
            let last = self.history_encoder.final_state(&cache.encoder, k);
            cache.decoder_h0.extend_from_slice(last.h);
            cache.decoder_c0.extend_from_slice(last.aux);
        }
        let selected = self.future_vsn.forward(params, &cache.futr_embedded, b * h, Some(cs), seed, &mut cache.future_vsn)?;
        cache.futr_features.clear();
        cache.futr_features.extend_from_slice(selected);
        let state = RecurrentState { h: &cache.decoder_h0, aux: &cache.decoder_c0 };
        let future = self.future_encoder.forward_from(params, &cache.futr_features, b, h, Some(state), &mut cache.decoder)?;
        scatter_steps(future, &mut cache.temporal, hidden, t, l, h);
        cache.input_embedding.clear();
        cache.input_embedding.resize(b * t * hidden, 0.0);
        scatter_steps(&cache.hist_features, &mut cache.input_embedding, hidden, t, 0, l);
        scatter_steps(&cache.futr_features, &mut cache.input_embedding, hidden, t, l, h);
        let gated = self.input_gate.forward(params, &cache.temporal, b * t, &mut cache.input_gate)?;
        cache.input_sum.clear();
        cache.input_sum.extend(gated.iter().zip(&cache.input_embedding).map(|(g, e)| g + e));
        cache.temporal_features.resize(b * t * hidden, 0.0);
        self.input_gate_ln.forward(params, &cache.input_sum, b * t, &mut cache.temporal_features, &mut cache.input_ln)?;

        let enriched = self.enrichment_grn.forward(params, &cache.temporal_features, b * t, Some(ce), seed, &mut cache.enrichment)?;
        cache.enriched.clear();
        cache.enriched.extend_from_slice(enriched);
        let attended = self.attention.forward(params, &cache.enriched, b, t, seed, &mut cache.attention)?;
        cache.attended.clear();
        gather_steps(attended, &mut cache.attended, hidden, t, l, h);
        cache.enriched_future.clear();
        gather_steps(&cache.enriched, &mut cache.enriched_future, hidden, t, l, h);
        cache.temporal_future.clear();
        gather_steps(&cache.temporal_features, &mut cache.temporal_future, hidden, t, l, h);
        let rows = b * h;
        let gated = self.attention_gate.forward(params, &cache.attended, rows, &mut cache.attention_gate)?;
        cache.attention_sum.clear();
        cache.attention_sum.extend(gated.iter().zip(&cache.enriched_future).map(|(g, e)| g + e));
        cache.attention_out.resize(rows * hidden, 0.0);
        self.attention_ln.forward(params, &cache.attention_sum, rows, &mut cache.attention_out, &mut cache.attention_ln)?;
        let positionwise = self.positionwise_grn.forward(params, &cache.attention_out, rows, None, seed, &mut cache.positionwise)?;
        cache.positionwise_out.clear();
        cache.positionwise_out.extend_from_slice(positionwise);
        let gated = self.decoder_gate.forward(params, &cache.positionwise_out, rows, &mut cache.decoder_gate)?;
        cache.decoder_sum.clear();
        cache.decoder_sum.extend(gated.iter().zip(&cache.temporal_future).map(|(g, e)| g + e));
        cache.decoded.resize(rows * hidden, 0.0);
        self.decoder_ln.forward(params, &cache.decoder_sum, rows, &mut cache.decoded, &mut cache.decoder_ln)?;
        cache.output.resize(rows * self.output_adapter.out_features(), 0.0);
        self.output_adapter.forward(params, &cache.decoded, rows, &mut cache.output)?;
        Ok(&cache.output)
    }

    fn backward_pass(&self, cache: &mut TftCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        let ModelShape { h, input_size: l, exog, .. } = self.config.shape;
        let (b, hidden, layers, futr) = (cache.batch, self.config.hidden_size, self.config.n_rnn_layers, self.config.futr_vars());
        let (t, rows, params) = (l + h, cache.batch * h, &self.params);
        crate::nn::error::expect_len("TFT output gradient", cache.output.len(), d_output.len())?;
        let g = &mut cache.grad;
        let resize = |v: &mut Vec<f32>, n: usize| {
            v.clear();
            v.resize(n, 0.0);
        };
        resize(&mut g.decoded, rows * hidden);
        self.output_adapter.backward(params, &cache.decoded, d_output, rows, grads, Some(&mut g.decoded))?;
        resize(&mut g.decoder_sum, rows * hidden);
        self.decoder_ln.backward(params, &cache.decoder_ln, &g.decoded, grads, &mut g.decoder_sum)?;
        resize(&mut g.positionwise_out, rows * hidden);
        self.decoder_gate.backward(params, &cache.positionwise_out, &mut cache.decoder_gate, &g.decoder_sum, grads, Some(&mut g.positionwise_out))?;
        resize(&mut g.attention_out, rows * hidden);
        self.positionwise_grn.backward(params, &cache.attention_out, None, &mut cache.positionwise, &g.positionwise_out, grads, Some(&mut g.attention_out), None)?;
        resize(&mut g.attention_sum, rows * hidden);
        self.attention_ln.backward(params, &cache.attention_ln, &g.attention_out, grads, &mut g.attention_sum)?;
        resize(&mut g.attended, rows * hidden);
        self.attention_gate.backward(params, &cache.attended, &mut cache.attention_gate, &g.attention_sum, grads, Some(&mut g.attended))?;
        resize(&mut g.attention_full, b * t * hidden);
        scatter_steps(&g.attended, &mut g.attention_full, hidden, t, l, h);
        resize(&mut g.enriched, b * t * hidden);
        self.attention.backward(params, &cache.enriched, &mut cache.attention, &g.attention_full, grads, Some(&mut g.enriched))?;
        // The enrichment reaches the output through the attention and the attention gate's skip.
        scatter_steps(&g.attention_sum, &mut g.enriched, hidden, t, l, h);
        resize(&mut g.temporal_features, b * t * hidden);
        resize(&mut g.enrichment, b * hidden);
        let ce = match &self.static_encoder {
            Some(encoder) => encoder.enrichment_context(&cache.static_encoder),
            None => &cache.zeros[..b * hidden],
        };
        let d_ce = self.static_encoder.is_some().then_some(g.enrichment.as_mut_slice());
        self.enrichment_grn.backward(params, &cache.temporal_features, Some(ce), &mut cache.enrichment, &g.enriched, grads, Some(&mut g.temporal_features), d_ce)?;
        // The temporal features' horizon steps are also the decoder's final skip.
        scatter_steps(&g.decoder_sum, &mut g.temporal_features, hidden, t, l, h);
        resize(&mut g.input_sum, b * t * hidden);
        self.input_gate_ln.backward(params, &cache.input_ln, &g.temporal_features, grads, &mut g.input_sum)?;
        resize(&mut g.temporal, b * t * hidden);
        self.input_gate.backward(params, &cache.temporal, &mut cache.input_gate, &g.input_sum, grads, Some(&mut g.temporal))?;
        // Split [B, L + h, H] into the encoder's and the decoder's parts, of the LSTM outputs (d temporal) and of
        // the selected inputs (d input_sum, the gate's skip).
        g.history.clear();
        gather_steps(&g.temporal, &mut g.history, hidden, t, 0, l);
        g.future.clear();
        gather_steps(&g.temporal, &mut g.future, hidden, t, l, h);
        g.hist_features.clear();
        gather_steps(&g.input_sum, &mut g.hist_features, hidden, t, 0, l);
        g.futr_features.clear();
        gather_steps(&g.input_sum, &mut g.futr_features, hidden, t, l, h);
        let state_len = layers * b * hidden;
        resize(&mut g.encoder_final_h, state_len);
        resize(&mut g.encoder_final_c, state_len);
        resize(&mut g.lstm_input, rows * hidden);
        let d_state = RecurrentStateGrad { h: &mut g.encoder_final_h, aux: &mut g.encoder_final_c };
        self.future_encoder.backward_through_state(params, &mut cache.decoder, &g.future, None, grads, Some(&mut g.lstm_input), Some(d_state))?;
        g.futr_features.iter_mut().zip(&g.lstm_input).for_each(|(a, b)| *a += b);
        let cs = match &self.static_encoder {
            Some(encoder) => encoder.selection_context(&cache.static_encoder),
            None => &cache.zeros[..b * hidden],
        };
        let has_static = self.static_encoder.is_some();
        resize(&mut g.selection, b * hidden);
        resize(&mut g.selection_part, b * hidden);
        resize(&mut g.futr_embedded, rows * futr * hidden);
        let d_cs = has_static.then_some(g.selection.as_mut_slice());
        self.future_vsn.backward(params, &cache.futr_embedded, Some(cs), &mut cache.future_vsn, &g.futr_features, grads, Some(&mut g.futr_embedded), d_cs)?;
        resize(&mut g.lstm_input, b * l * hidden);
        resize(&mut g.initial_h, state_len);
        resize(&mut g.initial_c, state_len);
        let d_final = Some(RecurrentState { h: &g.encoder_final_h, aux: &g.encoder_final_c });
        let d_initial = has_static.then_some(RecurrentStateGrad { h: &mut g.initial_h, aux: &mut g.initial_c });
        self.history_encoder.backward_through_state(params, &mut cache.encoder, &g.history, d_final, grads, Some(&mut g.lstm_input), d_initial)?;
        g.hist_features.iter_mut().zip(&g.lstm_input).for_each(|(a, b)| *a += b);
        resize(&mut g.hist_embedded, b * l * self.config.hist_vars() * hidden);
        let d_cs = has_static.then_some(g.selection_part.as_mut_slice());
        self.history_vsn.backward(params, &cache.hist_embedded, Some(cs), &mut cache.history_vsn, &g.hist_features, grads, Some(&mut g.hist_embedded), d_cs)?;
        g.selection.iter_mut().zip(&g.selection_part).for_each(|(a, b)| *a += b);
        let emb = &self.embedding;
        if let (Some(encoder), Some(stat)) = (&self.static_encoder, &emb.stat) {
            resize(&mut g.stat_embedded, b * exog.stat * hidden);
            let d = StaticContextGrads { selection: &g.selection, enrichment: &g.enrichment, state_h: &g.initial_h, state_c: &g.initial_c };
            encoder.backward(params, &cache.stat_embedded, &mut cache.static_encoder, d, grads, Some(&mut g.stat_embedded))?;
            for (values, d) in cache.stat_values.chunks_exact(exog.stat).zip(g.stat_embedded.chunks_exact(exog.stat * hidden)) {
                stat.backward_row(values, d, grads)?;
            }
        }
        // The embeddings of each step, in the order the forward pass laid them out.
        let hist_width = exog.hist * hidden;
        let (mut hist_rows, mut futr_rows) = (g.hist_embedded.chunks_exact(self.config.hist_vars() * hidden), g.futr_embedded.chunks_exact(futr * hidden));
        for w in 0..b {
            for s in 0..t {
                let futr_row = &cache.futr_values[(w * t + s) * futr..(w * t + s + 1) * futr];
                if s >= l {
                    emb.futr.backward_row(futr_row, futr_rows.next().unwrap_or_default(), grads)?;
                    continue;
                }
                let d = hist_rows.next().unwrap_or_default();
                if let Some(hist) = &emb.hist {
                    hist.backward_row(&cache.hist_values[(w * l + s) * exog.hist..(w * l + s + 1) * exog.hist], &d[..hist_width], grads)?;
                }
                emb.futr.backward_row(futr_row, &d[hist_width..hist_width + futr * hidden], grads)?;
                emb.tgt.backward_row(&cache.targets[w * l + s..w * l + s + 1], &d[hist_width + futr * hidden..], grads)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "tft_tests.rs"]
mod tests;
