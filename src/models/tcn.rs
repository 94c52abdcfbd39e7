//! NeuralForecast's `TCN` model (neuralforecast/models/tcn.py, with `TemporalConvolutionEncoder`,
//! `CausalConv1d` and `MLP` from common/_modules.py):
//!
//! 1. `hist_encoder`: the encoder input `[y | hist exog | stat exog repeated over time | futr exog of the
//!    past]` (`1 + X + S + F` channels over the `L` past steps) through one causal, dilated convolution per
//!    entry of `dilations` (`hidden` channels each, kernel `kernel_size`, then `encoder_activation`).
//! 2. `context_adapter`: `nn.Linear(L, h)` over the time axis of the encoder output, `[B, hidden, h]`.
//! 3. The future exogenous values of the `h` forecast steps are appended to each step's context.
//! 4. `mlp_decoder`: NeuralForecast's MLP (ReLU, `decoder_layers` layers of `decoder_hidden_size`, no
//!    dropout) on each forecast step, `outputs_per_point` values each.
//!
//! Activations are kept time-major (`[L, B, C]`, forecast steps `[h, B, C]`): each convolution tap is then
//! one gemm over the whole batch ([`crate::nn::conv1d`]), and the context adapter one gemm over all windows
//! and channels ([`Linear::forward_columns`]), with no transpose in between. `context_size` is accepted at
//! NeuralForecast's default 10 only: its TCN stores it and never uses it, so another value is an error.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::model::{impl_model, ModelConfig, ModelShape, TrainingDefaults, WindowBatch};
use super::options::{write_entries, ModelOptions, OptionError, OptionResult};
use crate::nn::activation::{Activation, ActivationKind};
use crate::nn::conv1d::{Conv1d, Conv1dSpec, Padding};
use crate::nn::error::{expect_len, nonzero};
use crate::nn::relu_mlp::{ReluMlp, ReluMlpCache};
use crate::nn::recurrent::swap_leading_axes;
use crate::nn::{Linear, NnError, ParamInit, ParamStore};

/// NeuralForecast `TCN`'s architecture options.
#[derive(Debug, Clone, PartialEq)]
pub struct TcnConfig {
    pub shape: ModelShape,
    pub kernel_size: usize,
    pub dilations: Vec<usize>,
    pub encoder_hidden_size: usize,
    /// `encoder_activation`: any of [`ActivationKind::ALL`], under torch's names.
    pub encoder_activation: ActivationKind,
    /// Unused by NeuralForecast's TCN (its context adapter maps `L` steps to `h`): only its default is accepted.
    pub context_size: usize,
    pub decoder_hidden_size: usize,
    pub decoder_layers: usize,
}

impl TcnConfig {
    /// `1 + hist + stat + futr`: tcn.py's `input_encoder`.
    fn encoder_in_channels(&self) -> usize {
        let exog = self.shape.exog;
        1 + exog.hist + exog.stat + exog.futr
    }

    /// `encoder_hidden_size + futr`: the MLP decoder's input.
    fn decoder_in_features(&self) -> usize {
        self.encoder_hidden_size + self.shape.exog.futr
    }

    /// Refuses what NeuralForecast cannot run: `kernel_size = 1` makes `Chomp1d(0)` cut the whole sequence
    /// (`x[:, :, :-0]`), and without dilations the encoder has no layer producing `encoder_hidden_size` channels.
    fn check(&self) -> Result<(), NnError> {
        nonzero("h", self.shape.h)?;
        nonzero("inputSize", self.shape.input_size)?;
        nonzero("outputs_per_point", self.shape.outputs_per_point)?;
        if self.kernel_size < 2 {
            return Err(NnError::InvalidValue {
                what: "kernel_size",
                reason: format!("must be at least 2 (NeuralForecast's Chomp1d(0) empties the sequence), got {}", self.kernel_size),
            });
        }
        if self.dilations.is_empty() {
            return Err(NnError::InvalidValue { what: "dilations", reason: "must list at least one dilation".into() });
        }
        Ok(())
    }
}

impl ModelConfig for TcnConfig {
    type Network = Tcn;

    const NAME: &'static str = "TCN";
    const OPTION_KEYS: &'static [&'static str] =
        &["kernelSize", "dilations", "encoderHiddenSize", "encoderActivation", "contextSize", "decoderHiddenSize", "decoderLayers"];
    /// tcn.py: `input_size=-1` (3 h), `scaler_type='robust'`, `learning_rate=1e-3`, `max_steps=1000`,
    /// `batch_size=32`, `windows_batch_size=128`, `inference_windows_batch_size=1024`, `num_lr_decays=-1`.
    const TRAINING_DEFAULTS: TrainingDefaults = TrainingDefaults::SEQUENCE_ENCODERS;

    /// tcn.py: `kernel_size=2`, `dilations=[1, 2, 4, 8, 16]`, `encoder_hidden_size=128`,
    /// `encoder_activation='ReLU'`, `context_size=10`, `decoder_hidden_size=128`, `decoder_layers=2`.
    fn new(shape: ModelShape) -> Self {
        TcnConfig {
            shape,
            kernel_size: 2,
            dilations: vec![1, 2, 4, 8, 16],
            encoder_hidden_size: 128,
            encoder_activation: ActivationKind::Relu,
            context_size: 10,
            decoder_hidden_size: 128,
            decoder_layers: 2,
        }
    }

    fn shape(&self) -> &ModelShape {
        &self.shape
    }

    fn read_options(&mut self, options: &ModelOptions<'_>) -> OptionResult<()> {
        use super::options::MAX_SIZE;
        self.kernel_size = options.integer("kernelSize", 2, MAX_SIZE)?.unwrap_or(self.kernel_size);
        if let Some(dilations) = options.integers("dilations", 1, MAX_SIZE)? {
            if dilations.is_empty() {
                return Err(OptionError::Range(format!("{} must list at least one dilation", options.field("dilations"))));
            }
            self.dilations = dilations;
        }
        options.read_sizes([("encoderHiddenSize", &mut self.encoder_hidden_size)])?;
        let activation = options.choice("encoderActivation", &ActivationKind::ALL.map(ActivationKind::name))?;
        if let Some(activation) = activation.and_then(ActivationKind::from_name) {
            self.encoder_activation = activation;
        }
        // NeuralForecast's TCN stores context_size and never reads it: any other value would be silently ignored.
        if let Some(context_size) = options.size("contextSize")?.filter(|&c| c != self.context_size) {
            return Err(OptionError::Range(format!(
                "{} is {context_size}, but NeuralForecast's TCN never uses context_size (nor does this one): leave it out or give its default {}",
                options.field("contextSize"),
                self.context_size
            )));
        }
        options.read_sizes([("decoderHiddenSize", &mut self.decoder_hidden_size), ("decoderLayers", &mut self.decoder_layers)])?;
        Ok(())
    }

    fn write_options(&self, out: &mut Map<String, Value>) {
        write_entries(out, [
            ("kernelSize", self.kernel_size.into()), ("dilations", self.dilations.clone().into()),
            ("encoderHiddenSize", self.encoder_hidden_size.into()),
            ("encoderActivation", self.encoder_activation.name().into()), ("contextSize", self.context_size.into()),
            ("decoderHiddenSize", self.decoder_hidden_size.into()), ("decoderLayers", self.decoder_layers.into()),
        ]);
    }

    fn memory_estimate(&self) -> (u128, u128) {
        let [h, l, k, hidden, decoder_in, decoder_hidden, layers, outputs, channels] = [
            self.shape.h, self.shape.input_size, self.kernel_size, self.encoder_hidden_size,
            self.decoder_in_features(), self.decoder_hidden_size, self.decoder_layers, self.shape.outputs_per_point,
            self.encoder_in_channels(),
        ]
        .map(|v| v as u128);
        let convolutions = self.dilations.len() as u128;
        // A PReLU per convolution has one slope and keeps its input for the backward pass.
        let prelu = u128::from(self.encoder_activation == ActivationKind::Prelu);
        let encoder = (channels * k + 1) * hidden + convolutions.saturating_sub(1) * (hidden * k + 1) * hidden + prelu * convolutions;
        let decoder = if layers <= 1 {
            (decoder_in + 1) * outputs
        } else {
            (decoder_in + 1) * decoder_hidden + (layers - 2) * (decoder_hidden + 1) * decoder_hidden + (decoder_hidden + 1) * outputs
        };
        let parameters = encoder + (l + 1) * h + decoder;
        // Per window: the encoder input and every layer's output, their two gradient buffers, the context and
        // decoder input with their gradients, the decoder's outputs and its two scratch rows, the forecast and
        // its reordered gradient.
        let widest = decoder_in.max(decoder_hidden).max(outputs);
        let activations = l * channels
            + ((1 + prelu) * convolutions + 2) * l * hidden
            + 2 * h * (hidden + decoder_in)
            + h * (layers.saturating_sub(1) * decoder_hidden + outputs + 2 * widest)
            + 2 * h * outputs;
        (parameters, activations)
    }

    fn build(&self) -> Result<Tcn, NnError> {
        self.check()?;
        let ModelShape { h, input_size, outputs_per_point, random_seed, .. } = self.shape;
        let mut params = ParamStore::new();
        let mut rng = ChaCha8Rng::seed_from_u64(random_seed);
        let mut init = ParamInit::new(&mut params, &mut rng);
        let encoder = self
            .dilations
            .iter()
            .enumerate()
            .map(|(i, &dilation)| {
                let spec = Conv1dSpec {
                    in_channels: if i == 0 { self.encoder_in_channels() } else { self.encoder_hidden_size },
                    out_channels: self.encoder_hidden_size,
                    kernel_size: self.kernel_size,
                    dilation,
                    padding: Padding::Causal,
                    bias: true,
                };
                let conv = Conv1d::new(&mut init.pp(format!("hist_encoder.tcn.{i}.conv")), spec)?;
                // CausalConv1d registers its own activation module after the convolution.
                Ok((conv, Activation::new(&mut init.pp(format!("hist_encoder.tcn.{i}.activation")), self.encoder_activation)?))
            })
            .collect::<Result<Vec<_>, NnError>>()?;
        let (encoder, activations) = encoder.into_iter().unzip();
        let context_adapter = Linear::new(&mut init.pp("context_adapter"), input_size, h)?;
        let decoder = ReluMlp::new(&mut init.pp("mlp_decoder"), self.decoder_in_features(), outputs_per_point,
            self.decoder_hidden_size, self.decoder_layers)?;
        Ok(Tcn { config: self.clone(), params, encoder, activations, context_adapter, decoder })
    }
}

#[derive(Debug, Clone)]
pub struct Tcn {
    config: TcnConfig,
    params: ParamStore,
    /// `hist_encoder.tcn.{i}.conv`, one per dilation.
    encoder: Vec<Conv1d>,
    /// `hist_encoder.tcn.{i}.activation`, after each convolution.
    activations: Vec<Activation>,
    context_adapter: Linear,
    decoder: ReluMlp,
}

/// The activations of one pass (time-major) and the backward pass's scratch, resized, never shrunk.
#[derive(Debug, Clone, Default)]
pub struct TcnCache {
    batch: usize,
    /// `[L, B, 1 + X + S + F]`.
    encoder_input: Vec<f32>,
    /// Each convolution's output after the activation, `[L, B, hidden]`.
    encoded: Vec<Vec<f32>>,
    /// PReLU only: each convolution's output before the activation.
    pre_activations: Vec<Vec<f32>>,
    /// The context adapter's output, `[h, B, hidden]`: the decoder's input when there are no future exogenous
    /// variables.
    context: Vec<f32>,
    /// `[h, B, hidden + F]`, with future exogenous variables only.
    decoder_input: Vec<f32>,
    decoder: ReluMlpCache,
    /// `[B, h, outputs_per_point]`.
    forecast: Vec<f32>,
    /// `[h, B, outputs_per_point]`.
    d_decoder_output: Vec<f32>,
    d_decoder_input: Vec<f32>,
    /// `[h, B, hidden]`, with future exogenous variables only.
    d_context: Vec<f32>,
    d_encoded: Vec<f32>,
    d_below: Vec<f32>,
}
crate::nn::heap_bytes::heap_bytes!(TcnCache { batch, encoder_input, encoded, pre_activations, context, decoder_input, decoder, forecast, d_decoder_output, d_decoder_input, d_context, d_encoded, d_below });

impl_model!(Tcn, TcnConfig, TcnCache);

/// tcn.py's encoder input (bitcn.py's too), time-major: row `(t, b)` is `[y_t | hist_t | stat | futr_t]` of window `b`.
pub(crate) fn gather_encoder_input(batch: &WindowBatch<'_>, shape: &ModelShape, out: &mut Vec<f32>) {
    let ModelShape { h, input_size: l, exog, .. } = *shape;
    out.clear();
    for t in 0..l {
        for b in 0..batch.batch {
            out.push(batch.insample_y[b * l + t]);
            out.extend_from_slice(&batch.hist_exog[(b * l + t) * exog.hist..][..exog.hist]);
            out.extend_from_slice(&batch.stat_exog[b * exog.stat..][..exog.stat]);
            out.extend_from_slice(&batch.futr_exog[(b * (l + h) + t) * exog.futr..][..exog.futr]);
        }
    }
}

/// Row `(j, b)` is `[context_j | futr_{L+j}]` of window `b`: tcn.py's concatenation of the future exogenous
/// values to the context.
fn gather_decoder_input(batch: &WindowBatch<'_>, shape: &ModelShape, context: &[f32], hidden: usize, out: &mut Vec<f32>) {
    let ModelShape { h, input_size: l, exog, .. } = *shape;
    out.clear();
    for (row, context_row) in context.chunks_exact(hidden).enumerate() {
        let (j, b) = (row / batch.batch, row % batch.batch);
        out.extend_from_slice(context_row);
        out.extend_from_slice(&batch.futr_exog[(b * (l + h) + l + j) * exog.futr..][..exog.futr]);
    }
}

impl Tcn {
    fn forward_pass<'c>(&self, batch: &WindowBatch<'_>, cache: &'c mut TcnCache) -> Result<&'c [f32], NnError> {
        let shape = &self.config.shape;
        let (l, h, hidden, futr) = (shape.input_size, shape.h, self.config.encoder_hidden_size, shape.exog.futr);
        let b = batch.batch;
        cache.batch = b;
        gather_encoder_input(batch, shape, &mut cache.encoder_input);
        cache.encoded.resize_with(self.encoder.len(), Vec::new);
        cache.pre_activations.resize_with(self.encoder.len(), Vec::new);
        for (i, (conv, activation)) in self.encoder.iter().zip(&self.activations).enumerate() {
            let (done, rest) = cache.encoded.split_at_mut(i);
            let input = done.last().map_or(cache.encoder_input.as_slice(), Vec::as_slice);
            let output = &mut rest[0];
            output.resize(l * b * hidden, 0.0);
            conv.forward(&self.params, input, l, b, output)?;
            if activation.needs_input() {
                cache.pre_activations[i].clone_from(output);
            }
            activation.forward_in_place(&self.params, output);
        }
        let encoded = cache.encoded.last().expect("at least one convolution");
        cache.context.resize(h * b * hidden, 0.0);
        self.context_adapter.forward_columns(&self.params, encoded, b * hidden, &mut cache.context)?;
        let decoder_input = if futr > 0 {
            gather_decoder_input(batch, shape, &cache.context, hidden, &mut cache.decoder_input);
            &cache.decoder_input
        } else {
            &cache.context
        };
        let output = self.decoder.forward(&self.params, decoder_input, h * b, &mut cache.decoder)?;
        swap_leading_axes(output, h, b, shape.outputs_per_point, &mut cache.forecast);
        Ok(&cache.forecast)
    }

    fn backward_pass(&self, cache: &mut TcnCache, d_output: &[f32], grads: &mut ParamStore) -> Result<(), NnError> {
        let shape = &self.config.shape;
        let (l, h, hidden, futr) = (shape.input_size, shape.h, self.config.encoder_hidden_size, shape.exog.futr);
        let b = nonzero("batch size of the cached forward pass", cache.batch)?;
        expect_len("forecast gradient", b * h * shape.outputs_per_point, d_output.len())?;
        let TcnCache {
            encoder_input,
            encoded,
            pre_activations,
            context,
            decoder_input,
            decoder,
            d_decoder_output,
            d_decoder_input,
            d_context,
            d_encoded,
            d_below,
            ..
        } = cache;
        expect_len("cached encoder layers", self.encoder.len(), encoded.len())?;
        swap_leading_axes(d_output, b, h, shape.outputs_per_point, d_decoder_output);
        let decoder_input = if futr > 0 { &*decoder_input } else { &*context };
        d_decoder_input.resize(decoder_input.len(), 0.0);
        self.decoder.backward(&self.params, decoder_input, decoder, d_decoder_output, grads, Some(d_decoder_input))?;
        let d_context = if futr > 0 {
            d_context.clear();
            d_decoder_input.chunks_exact(hidden + futr).for_each(|row| d_context.extend_from_slice(&row[..hidden]));
            &*d_context
        } else {
            &*d_decoder_input
        };
        d_encoded.resize(l * b * hidden, 0.0);
        let top = encoded.last().expect("at least one convolution");
        self.context_adapter.backward_columns(&self.params, top, d_context, b * hidden, grads, Some(d_encoded))?;
        for (i, (conv, activation)) in self.encoder.iter().zip(&self.activations).enumerate().rev() {
            let pre_activation = pre_activations.get(i).map_or(&[][..], Vec::as_slice);
            activation.backward_in_place(&self.params, d_encoded, &encoded[i], pre_activation, grads)?;
            if i == 0 {
                conv.backward(&self.params, encoder_input, d_encoded, l, b, grads, None)?;
            } else {
                d_below.resize(l * b * hidden, 0.0);
                conv.backward(&self.params, &encoded[i - 1], d_encoded, l, b, grads, Some(d_below))?;
                std::mem::swap(d_encoded, d_below);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::models::Model;
    use crate::models::model::tests::{assert_count_matches_estimate, assert_fits_sine, check_model_gradients, shape, RandomBatch};
    use crate::models::ExogSizes;

    /// The baseline of baselines.md: h 12, input_size 24, encoder and decoder of 64.
    pub(crate) fn baseline() -> TcnConfig {
        TcnConfig { encoder_hidden_size: 64, decoder_hidden_size: 64, ..TcnConfig::new(shape(12, 24, ExogSizes::none())) }
    }

    /// A small configuration, seeded 1 (NeuralForecast's default). Central differences are meaningless where
    /// a ReLU input lies within the step of 0 (the decoder is always ReLU); with seed 9 one of them does.
    fn small(exog: ExogSizes, outputs_per_point: usize) -> TcnConfig {
        TcnConfig {
            kernel_size: 3,
            dilations: vec![1, 2],
            encoder_hidden_size: 4,
            decoder_hidden_size: 5,
            ..TcnConfig::new(ModelShape { outputs_per_point, random_seed: 1, ..shape(3, 5, exog) })
        }
    }

    /// tcn.py's forward written out per window in torch's `[C, T]` layout, from the parameters by name.
    fn reference_forward(model: &Tcn, inputs: &RandomBatch) -> Vec<f32> {
        let config = model.config();
        let ModelShape { h, input_size: l, exog, outputs_per_point, .. } = config.shape;
        let param = |name: String| model.params().find(&name).unwrap_or_else(|| panic!("{name}")).data.clone();
        let k = config.kernel_size;
        let mut forecast = Vec::new();
        for b in 0..inputs.batch {
            // torch.cat((insample_y, hist_exog, stat_exog repeated, futr_exog[:, :L]), dim=2), as [C, L].
            let mut x: Vec<Vec<f32>> = vec![inputs.insample_y[b * l..(b + 1) * l].to_vec()];
            x.extend((0..exog.hist).map(|c| (0..l).map(|t| inputs.hist_exog[(b * l + t) * exog.hist + c]).collect()));
            x.extend((0..exog.stat).map(|c| vec![inputs.stat_exog[b * exog.stat + c]; l]));
            x.extend((0..exog.futr).map(|c| (0..l).map(|t| inputs.futr_exog[(b * (l + h) + t) * exog.futr + c]).collect()));
            for (i, &d) in config.dilations.iter().enumerate() {
                let (w, bias) = (param(format!("hist_encoder.tcn.{i}.conv.weight")), param(format!("hist_encoder.tcn.{i}.conv.bias")));
                let mut y: Vec<Vec<f32>> = (0..config.encoder_hidden_size)
                    .map(|o| {
                        (0..l)
                            .map(|t| {
                                let mut sum = bias[o];
                                for (c, xc) in x.iter().enumerate() {
                                    for j in 0..k {
                                        if let Some(src) = (t + j * d).checked_sub((k - 1) * d) {
                                            sum += w[(o * x.len() + c) * k + j] * xc[src];
                                        }
                                    }
                                }
                                sum
                            })
                            .collect()
                    })
                    .collect();
                y.iter_mut().for_each(|row| model.activations[i].forward_in_place(model.params(), row));
                x = y;
            }
            let (wc, bc) = (param("context_adapter.weight".into()), param("context_adapter.bias".into()));
            let layers = (0..).take_while(|i| model.params().find(&format!("mlp_decoder.layers.{}.weight", 3 * i)).is_some()).count();
            for j in 0..h {
                let mut features: Vec<f32> = x.iter().map(|xc| bc[j] + (0..l).map(|t| wc[j * l + t] * xc[t]).sum::<f32>()).collect();
                features.extend((0..exog.futr).map(|c| inputs.futr_exog[(b * (l + h) + l + j) * exog.futr + c]));
                for i in 0..layers {
                    let w = param(format!("mlp_decoder.layers.{}.weight", 3 * i));
                    let bias = param(format!("mlp_decoder.layers.{}.bias", 3 * i));
                    let dot = |o: usize| features.iter().enumerate().map(|(c, v)| w[o * features.len() + c] * v).sum::<f32>();
                    let next = bias.iter().enumerate().map(|(o, b0)| b0 + dot(o));
                    features = next.map(|v| if i + 1 < layers { v.max(0.0) } else { v }).collect();
                }
                assert_eq!(features.len(), outputs_per_point);
                forecast.extend(features);
            }
        }
        forecast
    }

    #[test]
    fn parameter_count_equals_torch_at_the_baseline() {
        // baselines.md: TCN(h=12, input_size=24, kernel_size=2, dilations=[1,2,4,8,16], encoder_hidden_size=64,
        // decoder_hidden_size=64) has 37,741 parameters.
        let config = baseline();
        assert_eq!(assert_count_matches_estimate(&config), 37_741);
    }

    #[test]
    fn size_estimate_counts_every_parameter() {
        let exog = ExogSizes { futr: 2, hist: 3, stat: 1 };
        let configs = [
            baseline(),
            TcnConfig::new(shape(7, 30, exog)),
            TcnConfig { decoder_layers: 1, ..small(exog, 3) },
            TcnConfig { decoder_layers: 4, kernel_size: 4, dilations: vec![3], ..small(ExogSizes { futr: 1, hist: 0, stat: 0 }, 1) },
            TcnConfig { dilations: vec![1, 1, 5, 40], ..small(ExogSizes { futr: 0, hist: 2, stat: 2 }, 2) },
            TcnConfig { encoder_activation: ActivationKind::Prelu, ..small(exog, 2) },
        ];
        for config in configs {
            let (parameters, activations) = config.memory_estimate();
            assert_eq!(parameters, config.build().unwrap().params().num_parameters() as u128, "{config:?}");
            assert!(activations > 0);
        }
    }

    #[test]
    fn parameter_names_and_shapes_follow_torch() {
        let model = baseline().build().unwrap();
        let names: Vec<&str> = model.params().iter().map(|(n, _)| n).collect();
        let mut expected: Vec<String> =
            (0..5).flat_map(|i| [format!("hist_encoder.tcn.{i}.conv.weight"), format!("hist_encoder.tcn.{i}.conv.bias")]).collect();
        expected.extend(["context_adapter.weight", "context_adapter.bias"].map(String::from));
        expected.extend(["layers.0.weight", "layers.0.bias", "layers.3.weight", "layers.3.bias"].map(|n| format!("mlp_decoder.{n}")));
        assert_eq!(names, expected);
        let shape_of = |model: &Tcn, name: &str| model.params().find(name).unwrap().shape.clone();
        assert_eq!(shape_of(&model, "hist_encoder.tcn.0.conv.weight"), [64, 1, 2]);
        assert_eq!(shape_of(&model, "hist_encoder.tcn.4.conv.weight"), [64, 64, 2]);
        assert_eq!(shape_of(&model, "context_adapter.weight"), [12, 24]);
        assert_eq!(shape_of(&model, "mlp_decoder.layers.3.weight"), [1, 64]);
        let exog = ExogSizes { futr: 2, hist: 3, stat: 1 };
        let with_exog = TcnConfig { encoder_hidden_size: 8, ..TcnConfig::new(ModelShape { outputs_per_point: 3, ..shape(4, 6, exog) }) };
        let with_exog = with_exog.build().unwrap();
        assert_eq!(shape_of(&with_exog, "hist_encoder.tcn.0.conv.weight"), [8, 1 + 3 + 1 + 2, 2]);
        assert_eq!(shape_of(&with_exog, "mlp_decoder.layers.0.weight"), [128, 8 + 2]);
        assert_eq!(shape_of(&with_exog, "mlp_decoder.layers.3.weight"), [3, 128]);
        // A PReLU per CausalConv1d, registered after its convolution: torch's `tcn.{i}.activation.weight`.
        let prelu = TcnConfig { encoder_activation: ActivationKind::Prelu, ..baseline() }.build().unwrap();
        let names: Vec<&str> = prelu.params().iter().map(|(n, _)| n).take(6).collect();
        let layer = |i: usize| ["conv.weight", "conv.bias", "activation.weight"].map(|n| format!("hist_encoder.tcn.{i}.{n}"));
        assert_eq!(names, [layer(0), layer(1)].concat());
        assert_eq!(prelu.params().find("hist_encoder.tcn.4.activation.weight").unwrap().data, [0.25]);
        assert_eq!(prelu.params().num_parameters(), 37_741 + 5);
    }

    #[test]
    fn defaults_and_options_follow_neuralforecast() {
        let config = TcnConfig::new(shape(12, 36, ExogSizes::none()));
        assert_eq!((config.kernel_size, config.dilations.as_slice(), config.encoder_hidden_size), (2, &[1, 2, 4, 8, 16][..], 128));
        assert_eq!((config.encoder_activation, config.context_size), (ActivationKind::Relu, 10));
        assert_eq!((config.decoder_hidden_size, config.decoder_layers), (128, 2));
        assert_eq!(TcnConfig::TRAINING_DEFAULTS.input_size, crate::models::InputSizeDefault::TimesHorizon(3));
        assert_eq!((TcnConfig::TRAINING_DEFAULTS.scaler_type, TcnConfig::TRAINING_DEFAULTS.windows_batch_size), ("robust", 128));

        let options = json!({ "kernelSize": 3, "dilations": [1, 3], "encoderHiddenSize": 16, "encoderActivation": "Tanh",
            "contextSize": 10, "decoderHiddenSize": 8, "decoderLayers": 3 });
        let mut read = config.clone();
        read.read_options(&ModelOptions::new("TCN", options.as_object().unwrap())).unwrap();
        assert_eq!((read.kernel_size, read.dilations.as_slice(), read.encoder_activation), (3, &[1, 3][..], ActivationKind::Tanh));
        let mut written = Map::new();
        read.write_options(&mut written);
        assert_eq!(Value::Object(written.clone()), options);
        assert_eq!(written.len(), TcnConfig::OPTION_KEYS.len());
        assert!(TcnConfig::OPTION_KEYS.iter().all(|k| written.contains_key(*k)));
        let unused = json!({ "contextSize": 4 });
        let error = config.clone().read_options(&ModelOptions::new("TCN", unused.as_object().unwrap())).unwrap_err();
        assert!(error.to_string().contains("contextSize is 4") && error.to_string().contains("never uses"), "{error}");

        for kind in ActivationKind::ALL {
            let options = json!({ "encoderActivation": kind.name() });
            let mut read = config.clone();
            read.read_options(&ModelOptions::new("TCN", options.as_object().unwrap())).unwrap();
            assert_eq!(read.encoder_activation, kind);
        }

        let invalid = [
            json!({ "kernelSize": 1 }),
            json!({ "dilations": [] }),
            json!({ "dilations": [2, 0] }),
            json!({ "encoderActivation": "Swish" }),
            json!({ "decoderLayers": 0 }),
        ];
        for bad in invalid {
            let result = config.clone().read_options(&ModelOptions::new("TCN", bad.as_object().unwrap()));
            assert!(matches!(result, Err(OptionError::Range(_))), "{bad}: {result:?}");
        }
    }

    #[test]
    fn forward_matches_neuralforecast_with_every_exogenous_kind() {
        let exog = ExogSizes { futr: 2, hist: 1, stat: 2 };
        for activation in ActivationKind::ALL {
            let config = TcnConfig { encoder_activation: activation, dilations: vec![1, 2, 7], ..small(exog, 2) };
            let model = config.build().unwrap();
            let inputs = RandomBatch::new(&config.shape, 3, 11);
            let forecast = model.forward(&inputs.view(None), &mut TcnCache::default()).unwrap().to_vec();
            let expected = reference_forward(&model, &inputs);
            assert_eq!(forecast.len(), expected.len());
            assert!(forecast.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-5), "{activation:?}: {forecast:?} vs {expected:?}");
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_model_gradients(&small(ExogSizes::none(), 1));
        check_model_gradients(&TcnConfig { kernel_size: 2, dilations: vec![1, 2, 4, 8], ..small(ExogSizes::none(), 1) });
    }

    #[test]
    fn gradients_match_finite_differences_with_exogenous_inputs_and_quantiles() {
        let exog = ExogSizes { futr: 2, hist: 1, stat: 1 };
        check_model_gradients(&small(exog, 3));
        check_model_gradients(&TcnConfig { encoder_activation: ActivationKind::Tanh, decoder_layers: 3, ..small(exog, 3) });
        check_model_gradients(&TcnConfig { encoder_activation: ActivationKind::Sigmoid, decoder_layers: 1, ..small(exog, 2) });
        check_model_gradients(&TcnConfig { encoder_activation: ActivationKind::Identity, ..small(exog, 2) });
        for encoder_activation in [ActivationKind::Softplus, ActivationKind::Selu, ActivationKind::LeakyRelu, ActivationKind::Prelu] {
            check_model_gradients(&TcnConfig { encoder_activation, ..small(exog, 2) });
        }
    }

    #[test]
    fn one_window_equals_its_row_of_a_batch() {
        let exog = ExogSizes { futr: 1, hist: 2, stat: 1 };
        let config = TcnConfig { encoder_hidden_size: 16, decoder_hidden_size: 8, ..TcnConfig::new(shape(4, 10, exog)) };
        let model = config.build().unwrap();
        let inputs = RandomBatch::new(&config.shape, 5, 3);
        let all = model.forward(&inputs.view(None), &mut TcnCache::default()).unwrap().to_vec();
        let (l, h) = (10, 4);
        let k = 3;
        let one = RandomBatch {
            batch: 1,
            insample_y: inputs.insample_y[k * l..(k + 1) * l].to_vec(),
            hist_exog: inputs.hist_exog[k * l * 2..(k + 1) * l * 2].to_vec(),
            futr_exog: inputs.futr_exog[k * (l + h)..(k + 1) * (l + h)].to_vec(),
            stat_exog: inputs.stat_exog[k..k + 1].to_vec(),
        };
        let mut cache = TcnCache::default();
        let single = model.forward(&one.view(None), &mut cache).unwrap();
        assert_eq!(single, &all[k * h..(k + 1) * h]);
    }

    #[test]
    fn same_seed_gives_identical_weights() {
        let config = baseline();
        assert_eq!(config.build().unwrap().params(), config.build().unwrap().params());
        let reseeded = TcnConfig { shape: ModelShape { random_seed: 2, ..config.shape }, ..config.clone() };
        assert_ne!(config.build().unwrap().params(), reseeded.build().unwrap().params());
    }

    #[test]
    fn rejects_invalid_sizes_and_inputs() {
        let base = small(ExogSizes::none(), 1);
        let invalid = [
            TcnConfig { kernel_size: 1, ..base.clone() },
            TcnConfig { dilations: vec![], ..base.clone() },
            TcnConfig { dilations: vec![1, 0], ..base.clone() },
            TcnConfig { encoder_hidden_size: 0, ..base.clone() },
            TcnConfig { decoder_layers: 0, ..base.clone() },
            TcnConfig { shape: ModelShape { h: 0, ..base.shape }, ..base.clone() },
            TcnConfig { shape: ModelShape { input_size: 0, ..base.shape }, ..base.clone() },
            TcnConfig { shape: ModelShape { outputs_per_point: 0, ..base.shape }, ..base.clone() },
            TcnConfig { dilations: vec![usize::MAX], ..base.clone() },
        ];
        for config in invalid {
            assert!(config.build().is_err(), "{config:?}");
        }
        let model = base.build().unwrap();
        let mut cache = TcnCache::default();
        let mut grads = model.params().zeros_like();
        assert!(matches!(model.backward(&mut cache, &[0.0; 3], &mut grads), Err(NnError::ZeroSize { .. })));
        let err = model.forward(&WindowBatch::univariate(&[0.0; 9], 2), &mut cache).unwrap_err();
        assert_eq!(err, NnError::LengthMismatch { what: "input windows", expected: 10, actual: 9 });
        let exog = WindowBatch { hist_exog: &[1.0; 5], ..WindowBatch::univariate(&[0.0; 5], 1) };
        assert!(model.forward(&exog, &mut cache).is_err());
        model.forward(&WindowBatch::univariate(&[0.0; 10], 2), &mut cache).unwrap();
        assert!(matches!(model.backward(&mut cache, &[0.0; 5], &mut grads), Err(NnError::LengthMismatch { .. })));
        assert!(model.backward(&mut cache, &[0.0; 6], &mut ParamStore::new()).is_err());
        model.backward(&mut cache, &[0.0; 6], &mut grads).unwrap();
    }

    #[test]
    fn adam_fits_a_sine_wave() {
        let config = TcnConfig { encoder_hidden_size: 16, decoder_hidden_size: 16, ..TcnConfig::new(shape(12, 24, ExogSizes::none())) };
        assert_fits_sine(&config, 150, 1e-2, 0.2);
    }
}
