#!/usr/bin/env node
// JS-level benchmark at the configuration of ../shared/reference/baselines.md (AirPassengers, inputSize 24,
// h 12, 2×64 encoder, 64×2 decoder, standard window scaling, batch 32, lr 1e-3, MAE), printed beside the
// NeuralForecast figures measured on this machine kind. Usage: `npm run bench` (`-- --quick` for fewer repeats).
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { NeuralForecaster, models, ops } = require('..')

const quick = process.argv.includes('--quick')
const FITS = quick ? 1 : 3
const WINDOW_CALLS = quick ? 2000 : 20000
const BATCH_CALLS = quick ? 20 : 200

/** NeuralForecast 3.3 on torch, 2 threads (baselines.md). */
const NEURALFORECAST = {
  LSTM: { fit: 0.7, step: 3.05, predict: 4.0, window: 0.18, b32: 72100, mae: 12.76 },
  GRU: { fit: 1.81, step: 8.43, predict: 4.2, window: 0.38, b32: 21600, mae: 21.06 },
}

function airPassengers() {
  const candidates = [
    path.join(__dirname, '..', 'data', 'air_passengers.csv'),
    path.join(__dirname, '..', '..', 'shared', 'data', 'air_passengers.csv'),
  ]
  const file = candidates.find((f) => fs.existsSync(f))
  if (!file) throw new Error(`air_passengers.csv not found (looked in ${candidates.join(', ')})`)
  const rows = fs.readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => l.trim().split(','))
  return { unique_id: rows.map((r) => r[0]), ds: rows.map((r) => r[1]), y: rows.map((r) => Number(r[2])) }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

function model(type) {
  return new models[type]({
    h: 12,
    inputSize: 24,
    encoderHiddenSize: 64,
    decoderHiddenSize: 64,
    scalerType: 'standard',
    maxSteps: 200,
    batchSize: 32,
    learningRate: 1e-3,
    randomSeed: 1,
  })
}

/** 32 series: AirPassengers' training part scaled, so the batch forecast sees 32 distinct windows. */
function panelOf32(train) {
  const data = { unique_id: [], ds: [], y: [] }
  for (let s = 0; s < 32; s++) {
    data.unique_id.push(...train.unique_id.map(() => `s${s}`))
    data.ds.push(...train.ds)
    data.y.push(...train.y.map((v) => v * (1 + s / 100)))
  }
  return data
}

async function benchModel(type, air) {
  const train = { unique_id: air.unique_id.slice(0, 132), ds: air.ds.slice(0, 132), y: air.y.slice(0, 132) }
  const actual = air.y.slice(132)
  const fitSeconds = []
  let nf
  let stepMs
  for (let i = 0; i < FITS; i++) {
    nf = new NeuralForecaster({ models: [model(type)], frequency: 'MS', numThreads: 2 })
    const started = process.hrtime.bigint()
    const report = await nf.fit(train)
    fitSeconds.push(Number(process.hrtime.bigint() - started) / 1e9)
    stepMs = report.elapsedMs / report.models[0].steps
  }
  const forecast = await nf.predict()
  const mae = ops.mean(Array.from(forecast[type], (f, i) => Math.abs(f - actual[i])))

  const predictMs = []
  for (let i = 0; i < BATCH_CALLS; i++) {
    const started = process.hrtime.bigint()
    await nf.predict()
    predictMs.push(Number(process.hrtime.bigint() - started) / 1e6)
  }

  const window = new Float64Array(train.y.slice(-24))
  for (let i = 0; i < 1000; i++) nf.forecastWindow(window)
  const windowUs = []
  for (let i = 0; i < WINDOW_CALLS; i++) {
    const started = process.hrtime.bigint()
    nf.forecastWindow(window)
    windowUs.push(Number(process.hrtime.bigint() - started) / 1e3)
  }

  const batch = panelOf32(train)
  const batchMs = []
  for (let i = 0; i < BATCH_CALLS; i++) {
    const started = process.hrtime.bigint()
    await nf.predict({ data: batch })
    batchMs.push(Number(process.hrtime.bigint() - started) / 1e6)
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

function row(cells, widths) {
  return cells.map((c, i) => String(c).padStart(widths[i])).join('  ')
}

async function main() {
  const air = airPassengers()
  console.log(`neuro-divergent JS benchmark (${quick ? 'quick' : 'full'}), SIMD: ${ops.simdInfo().active}, 2 threads`)
  const widths = [6, 16, 10, 10, 12, 12, 14, 8]
  console.log(row(['model', 'impl', 'fit s', 'step ms', 'predict ms', '1-window ms', 'b32 windows/s', 'MAE'], widths))
  for (const type of ['LSTM', 'GRU']) {
    const ours = await benchModel(type, air)
    const theirs = NEURALFORECAST[type]
    for (const [name, r] of [['neuro-divergent', ours], ['NeuralForecast', theirs]]) {
      console.log(
        row(
          [type, name, r.fit.toFixed(3), r.step.toFixed(3), r.predict.toFixed(3), r.window.toFixed(4), Math.round(r.b32), r.mae.toFixed(2)],
          widths,
        ),
      )
    }
  }
  console.log('step ms: fit wall time inside the engine / steps; b32: predict({ data }) over 32 series, end to end from JS.')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
