'use strict'
// The self-benchmark behind `npm run bench` and `neuro-divergent bench`: the configuration of
// ../shared/reference/baselines.md (AirPassengers, train on the first 132 months, forecast the last 12;
// inputSize 24, h 12, standard window scaling, 32 windows a step, lr 1e-3, MAE loss, 200 steps, seed 1, and each
// model's architecture as listed there), timed from JavaScript.

const { airPassengers } = require('./datasets.js')

/** NeuralForecast 3.3 on torch, 2 threads, on the development machine kind (baselines.md). */
const NEURALFORECAST = {
  LSTM: { fit: 0.7, step: 3.05, predict: 4.0, window: 0.18, b32: 72100, mae: 12.76 },
  GRU: { fit: 1.81, step: 8.43, predict: 4.2, window: 0.38, b32: 21600, mae: 21.06 },
  TCN: { fit: 0.9, step: 4.03, predict: 4.7, window: 0.38, b32: 43300, mae: 11.93 },
  NBEATS: { fit: 2.32, step: 10.79, predict: 4.8, window: 0.28, b32: 24300, mae: 11.3 },
  NHITS: { fit: 2.25, step: 10.52, predict: 6.1, window: 0.29, b32: 21400, mae: 20.06 },
  VanillaTransformer: { fit: 3.74, step: 17.45, predict: 5.4, window: 0.62, b32: 9800, mae: 16.98 },
  /** Prophet 1.x with cmdstan, multiplicative seasonality (the additive default: 29 ms, MAE 33.78). */
  Prophet: { fit: 0.02, mae: 21.66 },
}

/** Each model's architecture in baselines.md (the shared training options are added by benchModel). */
const ARCHITECTURES = {
  LSTM: { encoderNLayers: 2, encoderHiddenSize: 64, decoderHiddenSize: 64, decoderLayers: 2 },
  GRU: { encoderNLayers: 2, encoderHiddenSize: 64, decoderHiddenSize: 64, decoderLayers: 2 },
  TCN: { kernelSize: 2, dilations: [1, 2, 4, 8, 16], encoderHiddenSize: 64, decoderHiddenSize: 64 },
  NBEATS: { stackTypes: ['identity', 'trend', 'seasonality'], mlpUnits: [[512, 512], [512, 512], [512, 512]] },
  NHITS: { mlpUnits: [[512, 512], [512, 512], [512, 512]] },
  VanillaTransformer: { hiddenSize: 64, nHead: 4, encoderLayers: 2, decoderLayers: 1 },
  MLP: { numLayers: 2, hiddenSize: 1024 },
  DLinear: { movingAvgWindow: 25 },
  NLinear: {},
  RNN: { encoderNLayers: 2, encoderHiddenSize: 64, decoderHiddenSize: 64, decoderLayers: 2 },
  TiDE: {},
  KAN: {},
  /** NeuralForecast's defaults (bench/neuralforecast_reference.py). */
  PatchTST: {},
  /** Multivariate, on AirPassengers' one series. */
  TSMixer: { nSeries: 1 },
  iTransformer: { nSeries: 1 },
  BiTCN: {},
  TFT: {},
  TSMixerx: { nSeries: 1 },
  /** NeuralForecast's defaults (bench/neuralforecast_reference.py). */
  DeepAR: {},
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const elapsedMs = (started) => Number(process.hrtime.bigint() - started) / 1e6

/** The baselines' configuration of `type` (Prophet: multiplicative seasonality, as its baseline row). */
function benchModel(models, type, maxSteps = 200, randomSeed = 1) {
  if (type === 'Prophet') return new models.Prophet({ h: 12, seasonalityMode: 'multiplicative', randomSeed })
  return new models[type]({
    h: 12,
    inputSize: 24,
    ...ARCHITECTURES[type],
    scalerType: 'standard',
    maxSteps,
    windowsBatchSize: 32,
    learningRate: 1e-3,
    randomSeed,
  })
}

/**
 * Benchmarks one model type.
 * @returns {Promise<{ fit: number, step?: number, predict: number, window?: number, b32?: number, mae: number }>}
 *   fit s (median of `fits` fresh fits), step ms, predict ms (median), 1-window ms (median), b32: windows/s of
 *   forecastWindows over 32 windows (NeuralForecast's figure is its module's forward on 32 windows), MAE; Prophet,
 *   a local model, has no steps and no window forecasts
 */
async function benchType(type, options = {}) {
  const { NeuralForecaster, models } = require('../main.js')
  const fits = options.fits ?? 3
  const windowCalls = options.windowCalls ?? 20000
  const batchCalls = options.batchCalls ?? 200
  const numThreads = options.numThreads ?? 2
  const air = options.data ?? airPassengers()
  const train = { unique_id: air.unique_id.slice(0, 132), ds: air.ds.slice(0, 132), y: Float64Array.from(air.y.slice(0, 132)) }
  const actual = Array.from(air.y.slice(132, 144))
  const fitSeconds = []
  let nf
  let stepMs
  for (let i = 0; i < fits; i++) {
    nf = new NeuralForecaster({ models: [benchModel(models, type, options.maxSteps)], frequency: 'MS', numThreads })
    const started = process.hrtime.bigint()
    const report = await nf.fit(train)
    fitSeconds.push(elapsedMs(started) / 1000)
    stepMs = report.elapsedMs / report.models[0].steps
  }
  const forecast = await nf.predict()
  const mae = actual.reduce((s, a, i) => s + Math.abs(forecast[type][i] - a), 0) / actual.length

  const predictMs = []
  for (let i = 0; i < batchCalls; i++) {
    const started = process.hrtime.bigint()
    await nf.predict()
    predictMs.push(elapsedMs(started))
  }

  if (type === 'Prophet') return { fit: median(fitSeconds), predict: median(predictMs), mae }

  // DeepAR (NeuralForecast's RECURRENT models) reads inputSize + 1 values a window.
  const windowLength = type === 'DeepAR' ? 25 : 24
  const window = Float64Array.from(train.y.slice(-windowLength))
  for (let i = 0; i < Math.min(1000, windowCalls); i++) nf.forecastWindow(window)
  const windowUs = []
  for (let i = 0; i < windowCalls; i++) {
    const started = process.hrtime.bigint()
    nf.forecastWindow(window)
    windowUs.push(elapsedMs(started) * 1000)
  }

  const windows32 = windowsOf32(train.y, windowLength)
  const batchMs = []
  for (let i = 0; i < batchCalls; i++) {
    const started = process.hrtime.bigint()
    await nf.forecastWindows(windows32)
    batchMs.push(elapsedMs(started))
  }

  return {
    fit: median(fitSeconds),
    step: stepMs,
    predict: median(predictMs),
    window: median(windowUs) / 1000,
    b32: 32 / (median(batchMs) / 1000),
    mae,
  }
}

/**
 * The live per-bar path at the baselines' configuration: after fitting on AirPassengers' first 132 months, each
 * call appends one observation with `update()` and forecasts the series with `forecastSeries()`.
 * @returns {Promise<number>} median µs per bar (update + forecast)
 */
async function benchBar(type, options = {}) {
  const { NeuralForecaster, models } = require('../main.js')
  const air = options.data ?? airPassengers()
  const train = { unique_id: air.unique_id.slice(0, 132), ds: air.ds.slice(0, 132), y: Float64Array.from(air.y.slice(0, 132)) }
  const nf = new NeuralForecaster({ models: [benchModel(models, type, 20)], frequency: 'MS', numThreads: options.numThreads ?? 2 })
  await nf.fit(train)
  const frame = nf.futureFrame(1)
  let ds = frame.ds[0]
  const calls = options.barCalls ?? 20000
  const micros = []
  for (let i = 0; i < calls; i++) {
    const started = process.hrtime.bigint()
    nf.update({ unique_id: ['AirPassengers'], ds: [ds], y: [400 + (i % 50)] })
    nf.forecastSeries('AirPassengers')
    micros.push(elapsedMs(started) * 1000)
    ds = nextMonth(ds)
  }
  return median(micros)
}

/**
 * `ops` from JS at the sizes of the criterion kernel benches (benches/simd_benchmarks.rs): z-score normalize of
 * 100k values and rolling mean (window 10) of 10k, each allocating its result and writing into an `out` array.
 * Each figure is the median over `rounds` rounds of `calls` back-to-back calls.
 * @returns {Array<{ op: string, allocating: number, withOut: number }>} µs per call
 */
function benchOps(options = {}) {
  const { ops } = require('../main.js')
  const rounds = options.rounds ?? 200
  const calls = options.calls ?? 50
  const series = (n) => Float64Array.from({ length: n }, (_, i) => 100 + Math.sin(i * 0.37) + ((i * 7919) % 101) / 101)
  const perCall = (call) => {
    for (let i = 0; i < calls * 10; i++) call()
    const micros = []
    for (let r = 0; r < rounds; r++) {
      const started = process.hrtime.bigint()
      for (let i = 0; i < calls; i++) call()
      micros.push((elapsedMs(started) * 1000) / calls)
    }
    return median(micros)
  }
  const x100k = series(100_000)
  const x10k = series(10_000)
  const normalized = new Float64Array(x100k.length)
  const rolled = new Float64Array(x10k.length - 10 + 1)
  return [
    { op: 'normalize, 100k', allocating: perCall(() => ops.normalize(x100k)), withOut: perCall(() => ops.normalize(x100k, normalized)) },
    { op: 'rollingMean w10, 10k', allocating: perCall(() => ops.rollingMean(x10k, 10)), withOut: perCall(() => ops.rollingMean(x10k, 10, rolled)) },
  ]
}

/** `YYYY-MM-01` one month later. */
function nextMonth(ds) {
  const [year, month] = ds.split('-').map(Number)
  return month === 12 ? `${year + 1}-01-01` : `${year}-${String(month + 1).padStart(2, '0')}-01`
}

/** 32 distinct input windows of `length` values from the training series, one after another. */
function windowsOf32(y, length) {
  const out = new Float64Array(32 * length)
  for (let w = 0; w < 32; w++) out.set(y.subarray(y.length - length - 3 * w, y.length - 3 * w), w * length)
  return out
}

/** Header and formatted cells of one result row. */
const BENCH_HEADER = ['model', 'impl', 'fit s', 'step ms', 'predict ms', '1-window ms', 'b32 windows/s', 'MAE']
function benchRow(type, impl, r) {
  const cell = (v, digits) => (v === undefined ? '—' : v.toFixed(digits))
  const rate = r.b32 === undefined ? '—' : Math.round(r.b32).toLocaleString('en-US')
  return [type, impl, cell(r.fit, 3), cell(r.step, 3), cell(r.predict, 3), cell(r.window, 4), rate, cell(r.mae, 2)]
}

module.exports = { NEURALFORECAST, benchType, benchBar, benchOps, benchModel, BENCH_HEADER, benchRow }
