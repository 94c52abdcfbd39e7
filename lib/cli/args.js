'use strict'
// Argument parsing of the command line: the option tables every command shares, the checks of numeric and list
// options (a bad value is a UsageError naming the option), and the NeuralForecaster options they make.

const { parseArgs } = require('node:util')

const { UsageError } = require('./errors.js')

// Defaults of the command line. They differ from the library's model defaults (NeuralForecast's: 128/200
// units, robust scaling, 1000 steps) so that the built-in example gives a good forecast in well under a second
// of training: AirPassengers, h 12 → LSTM MAE about 15 on the 1960 hold-out in ~0.6 s on 2 cores.
const DEFAULTS = {
  model: 'lstm',
  horizon: 12,
  maxSteps: 300,
  hiddenSize: 64,
  windowsBatchSize: 32,
  scaler: 'standard',
  seed: 1,
  nWindows: 3,
}

const SCALERS = ['identity', 'standard', 'robust', 'minmax', 'minmax1']

const DATA_OPTIONS = {
  'id-col': { type: 'string' },
  'time-col': { type: 'string' },
  'target-col': { type: 'string' },
  delimiter: { type: 'string' },
}
const MODEL_OPTIONS = {
  model: { type: 'string', short: 'm', multiple: true },
  horizon: { type: 'string', short: 'H' },
  'input-size': { type: 'string' },
  freq: { type: 'string' },
  'max-steps': { type: 'string' },
  'hidden-size': { type: 'string' },
  scaler: { type: 'string' },
  'learning-rate': { type: 'string' },
  'batch-size': { type: 'string' },
  seed: { type: 'string' },
  threads: { type: 'string' },
  level: { type: 'string' },
  loss: { type: 'string' },
  samples: { type: 'string' },
  'time-budget': { type: 'string' },
}
const COMMON = { help: { type: 'boolean', short: 'h' }, quiet: { type: 'boolean', short: 'q' } }
/** The options of the commands that fit models on a data file (forecast, cv). */
const FIT_OPTIONS = { ...COMMON, ...MODEL_OPTIONS, ...DATA_OPTIONS }

function integerOption(values, name, { min = 1, command } = {}) {
  const raw = values[name]
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (!/^\s*[+-]?\d+\s*$/.test(raw) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer ${min === 1 ? '>= 1' : `>= ${min}`}, got ${JSON.stringify(raw)}`, command)
  }
  return n
}

function numberOption(values, name, { command, positive = true } = {}) {
  const raw = values[name]
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(n) || (positive && n <= 0)) {
    throw new UsageError(`--${name} must be a ${positive ? 'positive ' : ''}number, got ${JSON.stringify(raw)}`, command)
  }
  return n
}

/** `node:util` parseArgs with its errors as one-line UsageErrors. */
function parse(command, argv, options, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true })
  } catch (err) {
    const opt = /option '([^']+)'/i.exec(err.message)
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && opt) throw new UsageError(`unknown option ${opt[1].split(' ')[0]}`, command)
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && opt) {
      const name = opt[1].split(' ').find((s) => s.startsWith('--')) ?? opt[1]
      throw new UsageError(`option ${name} ${/argument missing/.test(err.message) ? 'needs a value' : 'takes no value'}`, command)
    }
    if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`unexpected argument ${JSON.stringify(/'([^']*)'/.exec(err.message)?.[1] ?? '')}`, command)
    throw new UsageError(err.message.split('\n')[0], command)
  }
}

/** The data file of a command that takes at most one. */
function dataFileArgument(positionals, command) {
  if (positionals.length > 1) throw new UsageError(`one data file at most, got ${positionals.length}`, command)
  return positionals[0]
}

/**
 * The model types of this build, read from the library (so new models appear by themselves), without aliases and
 * without the Auto models (searches, which the CLI's per-model options do not describe).
 */
function modelTypes(lib) {
  return Object.keys(lib.models).filter((type) => lib.models[type].name === type && !type.startsWith('Auto'))
}

/** The Auto model types (`autonhits`, …: a search over that model's NeuralForecast default space). */
function autoModelTypes(lib) {
  return Object.keys(lib.models).filter((type) => lib.models[type].name === type && type.startsWith('Auto'))
}

/** --time-budget: seconds, as `30`, `30s`, `2m` or `1h`. */
function timeBudgetOption(values, command) {
  const raw = values['time-budget']
  if (raw === undefined) return undefined
  const match = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$/.exec(raw)
  const seconds = match ? Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] ?? 's'] : NaN
  if (!(seconds > 0)) throw new UsageError(`--time-budget must be a duration such as 30s, 2m or 1h, got ${JSON.stringify(raw)}`, command)
  return seconds
}

function resolveModelNames(lib, values, command) {
  const types = [...modelTypes(lib), ...autoModelTypes(lib)]
  const names = (values.model ?? [DEFAULTS.model]).flatMap((m) => m.split(',')).map((m) => m.trim()).filter(Boolean)
  if (names.length === 0) throw new UsageError('--model needs a model name', command)
  const seen = new Set()
  if (names.some((name) => name.toLowerCase() === 'auto')) {
    if (names.length > 1) throw new UsageError('--model auto (an ensemble across model families) is the only model', command)
    return ['AutoEnsemble']
  }
  return names.map((name) => {
    const type = name.toLowerCase() === 'transformer' ? 'VanillaTransformer' : types.find((t) => t.toLowerCase() === name.toLowerCase())
    if (!type) throw new UsageError(`unknown model ${JSON.stringify(name)}; available models: ${types.map((t) => t.toLowerCase()).join(', ')}, auto`, command)
    if (seen.has(type)) throw new UsageError(`--model ${name} is given twice`, command)
    seen.add(type)
    return type
  })
}

/** The --level list: percentages strictly between 0 and 100 (undefined without --level). */
function levelOption(values, command) {
  if (values.level === undefined) return undefined
  const levels = values.level.split(',').map((part) => part.trim())
  return levels.map((text) => {
    const level = Number(text)
    if (text === '' || !Number.isFinite(level) || level <= 0 || level >= 100) {
      throw new UsageError(`--level needs percentages between 0 and 100 separated by commas, got ${JSON.stringify(values.level)}`, command)
    }
    return level
  })
}

/** --loss names: the point losses, MQLoss, and NeuralForecast's distributions (trained by likelihood). */
const POINT_LOSSES = { mae: 'MAE', mse: 'MSE', huber: 'HuberLoss', tukey: 'TukeyLoss', mqloss: 'MQLoss' }
const DISTRIBUTIONS = { normal: 'Normal', studentt: 'StudentT', poisson: 'Poisson', negativebinomial: 'NegativeBinomial', bernoulli: 'Bernoulli', isqf: 'ISQF' }
const MIXTURES = { gmm: 'GMM', pmm: 'PMM', nbmm: 'NBMM' }
const LOSS_NAMES = [...Object.keys(POINT_LOSSES), ...Object.keys(DISTRIBUTIONS), ...Object.keys(MIXTURES)]

/** The --loss of the neural models (undefined without --loss: the library's MAE); its quantiles are --level's. */
function lossOption(values, levels, command) {
  if (values.loss === undefined) return undefined
  const name = values.loss.trim().toLowerCase()
  const level = levels ? { level: levels } : {}
  if (name === 'mqloss') return { type: 'MQLoss', ...level }
  if (POINT_LOSSES[name]) return POINT_LOSSES[name]
  if (DISTRIBUTIONS[name]) return { type: 'DistributionLoss', distribution: DISTRIBUTIONS[name], ...level }
  if (MIXTURES[name]) return { type: MIXTURES[name], ...level }
  throw new UsageError(`unknown --loss ${JSON.stringify(values.loss)}; losses: ${LOSS_NAMES.join(', ')}`, command)
}

/** Whether a --loss forecasts its own quantiles (MQLoss, a distribution), which then give the --level columns. */
function quantileLoss(loss) {
  return typeof loss === 'object'
}

/** The fit options that prediction intervals at `levels` need: conformal calibration for the neural models
 * (not for a quantile or distribution --loss, whose intervals are its own). */
function intervalFitOptions(levels, types, loss) {
  return levels && !quantileLoss(loss) && types.some((type) => type !== 'Prophet') ? { predictionIntervals: { nWindows: 2 } } : {}
}

/** What --hidden-size sets for each model type: the width of its layers, NeuralForecast's option names. */
function hiddenSizeOptions(type, n) {
  switch (type) {
    case 'MLP':
    case 'VanillaTransformer':
    case 'TiDE':
    case 'KAN':
    case 'PatchTST':
    case 'BiTCN':
    case 'TFT':
      return { hiddenSize: n }
    case 'NBEATS':
    case 'NBEATSx':
    case 'NHITS':
      return { mlpUnits: [[n, n], [n, n], [n, n]] }
    case 'DLinear':
    case 'NLinear':
      return {}
    case 'TSMixer':
    case 'TSMixerx':
      return { ffDim: n }
    case 'iTransformer':
      return { hiddenSize: n }
    case 'DeepAR':
      return { lstmHiddenSize: n }
    default:
      return { encoderHiddenSize: n, decoderHiddenSize: n }
  }
}

/**
 * What a multivariate model (or its Auto model, `AutoTSMixer`, …) needs from the data: the number of series it
 * forecasts jointly (all of them).
 */
function seriesOptions(type, nSeries) {
  return ['TSMixer', 'TSMixerx', 'iTransformer'].includes(type.replace(/^Auto/, '')) ? { nSeries } : {}
}

/** The NeuralForecaster options of a fitting command (forecast, cv) from its arguments and the data's `nSeries`. */
function forecasterOptions(lib, values, command, nSeries) {
  const levels = levelOption(values, command)
  const loss = lossOption(values, levels, command)
  const types = resolveModelNames(lib, values, command)
  const horizon = integerOption(values, 'horizon', { command }) ?? DEFAULTS.horizon
  const inputSize = integerOption(values, 'input-size', { command }) ?? 2 * horizon
  const maxSteps = integerOption(values, 'max-steps', { command }) ?? DEFAULTS.maxSteps
  const hidden = integerOption(values, 'hidden-size', { command }) ?? DEFAULTS.hiddenSize
  const windowsBatchSize = integerOption(values, 'batch-size', { command }) ?? DEFAULTS.windowsBatchSize
  const learningRate = numberOption(values, 'learning-rate', { command })
  const seed = integerOption(values, 'seed', { min: 0, command }) ?? DEFAULTS.seed
  const numThreads = integerOption(values, 'threads', { command })
  const scaler = values.scaler ?? DEFAULTS.scaler
  if (!SCALERS.includes(scaler)) throw new UsageError(`--scaler must be one of ${SCALERS.join(', ')}, got ${JSON.stringify(scaler)}`, command)
  const numSamples = integerOption(values, 'samples', { command })
  const timeBudget = timeBudgetOption(values, command)
  const autoTypes = [...autoModelTypes(lib), 'AutoEnsemble']
  if ((numSamples !== undefined || timeBudget !== undefined) && !types.some((type) => autoTypes.includes(type))) {
    throw new UsageError(`--samples and --time-budget are for Auto models (--model ${autoTypes[0]?.toLowerCase()}, …)`, command)
  }
  const lossless = types.filter((type) => type === 'Prophet' || autoTypes.includes(type))
  if (loss !== undefined && lossless.length) {
    throw new UsageError(`--loss is for the neural models; ${lossless.map((t) => t.toLowerCase()).join(', ')} take none`, command)
  }
  if (types[0] === 'AutoEnsemble') {
    // --model auto: the AutoEnsemble over its default families, each searching its NeuralForecast default space.
    const auto = { seed, ...(numSamples ? { numSamples } : {}), ...(timeBudget ? { timeBudget } : {}) }
    const options = { models: 'auto', h: horizon, auto }
    if (values.freq !== undefined) options.frequency = values.freq
    if (numThreads !== undefined) options.numThreads = numThreads
    return { options, horizon, inputSize, maxSteps, types, levels, fitOptions: intervalFitOptions(levels, types, loss) }
  }
  const models = types.map((type) => {
    // An Auto model searches its NeuralForecast default space: the per-model options do not apply.
    if (autoTypes.includes(type)) return new lib.models[type]({ h: horizon, numSamples: numSamples ?? 10, seed, ...seriesOptions(type, nSeries), ...(timeBudget ? { timeBudget } : {}) })
    // Prophet, a local statistical model, has no window, steps or layers.
    if (type === 'Prophet') return new lib.models.Prophet({ h: horizon, randomSeed: seed })
    const options = { h: horizon, inputSize, maxSteps, ...hiddenSizeOptions(type, hidden), ...seriesOptions(type, nSeries), scalerType: scaler, randomSeed: seed, windowsBatchSize }
    if (learningRate !== undefined) options.learningRate = learningRate
    if (loss !== undefined) options.loss = loss
    return new lib.models[type](options)
  })
  const options = { models, seed }
  if (values.freq !== undefined) options.frequency = values.freq
  if (numThreads !== undefined) options.numThreads = numThreads
  return { options, horizon, inputSize, maxSteps, types, levels, fitOptions: intervalFitOptions(levels, types, loss) }
}

module.exports = {
  DEFAULTS,
  DATA_OPTIONS,
  MODEL_OPTIONS,
  COMMON,
  FIT_OPTIONS,
  integerOption,
  parse,
  autoModelTypes,
  dataFileArgument,
  modelTypes,
  resolveModelNames,
  forecasterOptions,
}
