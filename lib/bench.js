'use strict'
// The self-benchmark behind `npm run bench` and `neuro-divergent bench`: the configuration of
// ../shared/reference/baselines.md (AirPassengers, train on the first 132 months, forecast the last 12;
// inputSize 24, h 12, 2×64 encoder, 64×2 decoder, standard window scaling, batch 32, lr 1e-3, MAE loss,
// 200 steps, seed 1), timed from JavaScript.

const { airPassengers } = require('./datasets.js')

/** NeuralForecast 3.3 on torch, 2 threads, on the development machine kind (baselines.md). */
const NEURALFORECAST = {
  LSTM: { fit: 0.7, step: 3.05, predict: 4.0, window: 0.18, b32: 72100, mae: 12.76 },
  GRU: { fit: 1.81, step: 8.43, predict: 4.2, window: 0.38, b32: 21600, mae: 21.06 },
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const elapsedMs = (started) => Number(process.hrtime.bigint() - started) / 1e6

/** The baselines' model configuration. */
function benchModel(models, type, maxSteps = 200) {
  return new models[type]({
    h: 12,
    inputSize: 24,
    encoderHiddenSize: 64,
    decoderHiddenSize: 64,
    scalerType: 'standard',
    maxSteps,
    batchSize: 32,
    learningRate: 1e-3,
    randomSeed: 1,
  })
}

/** 32 series: the training part scaled, so a batch forecast sees 32 distinct windows. */
function panelOf32(train) {
  const data = { unique_id: [], ds: [], y: [] }
  for (let s = 0; s < 32; s++) {
    data.unique_id.push(...train.unique_id.map(() => `s${s}`))
    data.ds.push(...train.ds)
    data.y.push(...Array.from(train.y, (v) => v * (1 + s / 100)))
  }
  return data
}

/**
 * Benchmarks one model type.
 * @returns {Promise<{ fit: number, step: number, predict: number, window: number, b32: number, mae: number }>}
 *   fit s (median of `fits` fresh fits), step ms, predict ms (median), 1-window ms (median), b32 windows/s, MAE
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

  const window = Float64Array.from(train.y.slice(-24))
  for (let i = 0; i < Math.min(1000, windowCalls); i++) nf.forecastWindow(window)
  const windowUs = []
  for (let i = 0; i < windowCalls; i++) {
    const started = process.hrtime.bigint()
    nf.forecastWindow(window)
    windowUs.push(elapsedMs(started) * 1000)
  }

  const batch = panelOf32(train)
  const batchMs = []
  for (let i = 0; i < batchCalls; i++) {
    const started = process.hrtime.bigint()
    await nf.predict({ data: batch })
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

/** Header and formatted cells of one result row. */
const BENCH_HEADER = ['model', 'impl', 'fit s', 'step ms', 'predict ms', '1-window ms', 'b32 windows/s', 'MAE']
function benchRow(type, impl, r) {
  return [type, impl, r.fit.toFixed(3), r.step.toFixed(3), r.predict.toFixed(3), r.window.toFixed(4), Math.round(r.b32).toLocaleString('en-US'), r.mae.toFixed(2)]
}

module.exports = { NEURALFORECAST, benchType, benchModel, panelOf32, BENCH_HEADER, benchRow }
