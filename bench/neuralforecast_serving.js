#!/usr/bin/env node
// NeuralForecast models served from Node (issue #20): each model of __test__/fixtures/neuralforecast/ (saved by
// NeuralForecast 3.3's `nf.save`) loaded from its directory, beside the same architecture trained here, timed from
// JavaScript: the single-window forecast (`forecastWindow`, synchronous) and `predict({ data: train.csv })`. A loaded
// model must run as fast as a native one: the table gives the ratio. With --python it first runs
// bench/neuralforecast_predict.py (NeuralForecast's own `nf.predict(df)` and module forward, 2 torch threads) in
// the same session and adds its figures.
// Usage: node bench/neuralforecast_serving.js [--python /path/to/python] [--quick]
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const { NeuralForecaster, models, ops } = require('..')
const { benchModel } = require('../lib/bench.js')
const { readLongFormat } = require('../lib/csv.js')
const { formatTable } = require('../lib/table.js')

const FIXTURES = path.join(__dirname, '..', '__test__', 'fixtures', 'neuralforecast')
const quick = process.argv.includes('--quick')
const pythonAt = process.argv.indexOf('--python')
const python = pythonAt === -1 ? undefined : process.argv[pythonAt + 1]
if (pythonAt !== -1 && python === undefined) throw new Error('--python needs the path of a Python with neuralforecast')
// Calls are alternated between the loaded and the native forecaster in many short rounds, so that load from other
// processes on a shared machine falls on both alike; each figure is the median over all its calls.
const ROUNDS = quick ? 10 : 40
const WINDOW_CALLS = quick ? 100 : 250
const PREDICT_CALLS = quick ? 2 : 5

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}
const elapsedMs = (started) => Number(process.hrtime.bigint() - started) / 1e6

/** The architecture of each fixture in this library's options (the fixtures are the baselines' architectures). */
function nativeTwin(name) {
  if (name === 'LSTM-MQLoss') {
    return new models.LSTM({
      h: 12,
      inputSize: 24,
      encoderNLayers: 2,
      encoderHiddenSize: 32,
      decoderHiddenSize: 32,
      decoderLayers: 2,
      scalerType: 'standard',
      maxSteps: 20,
      loss: { type: 'MQLoss', level: [80] },
    })
  }
  return benchModel(models, name, 20)
}

function neuralForecastFigures() {
  if (python === undefined) return null
  const script = path.join(__dirname, 'neuralforecast_predict.py')
  const repeats = quick ? ['--repeats', '10', '--warmup', '2'] : []
  const out = execFileSync(python, [script, FIXTURES, '--json', ...repeats], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  return JSON.parse(out.trim().split('\n').pop())
}

async function benchModelPair(name, train, window) {
  const loaded = await NeuralForecaster.load(path.join(FIXTURES, name))
  const native = new NeuralForecaster({ models: [nativeTwin(name)], frequency: 'MS', numThreads: 2 })
  await native.fit(train)
  const sides = { loaded: { forecaster: loaded, window: [], predict: [] }, native: { forecaster: native, window: [], predict: [] } }
  for (const side of Object.values(sides)) {
    for (let i = 0; i < 200; i++) side.forecaster.forecastWindow(window)
    await side.forecaster.predict({ data: train })
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of Object.values(sides)) {
      for (let i = 0; i < WINDOW_CALLS; i++) {
        const started = process.hrtime.bigint()
        side.forecaster.forecastWindow(window)
        side.window.push(elapsedMs(started))
      }
      for (let i = 0; i < PREDICT_CALLS; i++) {
        const started = process.hrtime.bigint()
        await side.forecaster.predict({ data: train })
        side.predict.push(elapsedMs(started))
      }
    }
  }
  return {
    loaded: { window: median(sides.loaded.window), predict: median(sides.loaded.predict) },
    native: { window: median(sides.native.window), predict: median(sides.native.predict) },
  }
}

async function main() {
  const manifest = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8'))
  const { lines, ...train } = readLongFormat(fs.readFileSync(path.join(FIXTURES, 'train.csv'), 'utf8'), { source: 'train.csv' })
  const window = Float64Array.from(train.y.slice(-24))
  const reference = neuralForecastFigures()
  console.log(
    `NeuralForecast ${manifest.neuralforecast} models served from Node (${quick ? 'quick' : 'full'}), SIMD: ${ops.simdInfo().active}` +
      (reference ? `; NeuralForecast on torch ${reference.torch}, 2 threads` : ''),
  )
  const rows = []
  for (const name of Object.keys(manifest.models)) {
    const r = await benchModelPair(name, train, window)
    const nf = reference?.models[name]
    const cell = (v, digits) => (v === undefined ? '—' : v.toFixed(digits))
    rows.push([
      name,
      cell(r.loaded.window, 4),
      cell(r.native.window, 4),
      cell(r.loaded.window / r.native.window, 2),
      cell(nf?.window_ms, 3),
      cell(r.loaded.predict, 3),
      cell(r.native.predict, 3),
      cell(nf?.predict_ms, 1),
      nf ? `${Math.round(nf.predict_ms / r.loaded.predict).toLocaleString('en-US')}×` : '—',
    ])
  }
  console.log(
    formatTable(
      ['model', '1-window ms loaded', 'native', 'loaded/native', 'NF forward', 'predict ms loaded', 'native', 'NF predict', 'NF/loaded'],
      rows,
    ),
  )
  console.log('1-window: forecastWindow (scaling included) against the torch module forward on a scaled window; predict: predict({ data: train.csv }) against nf.predict(df=train); medians.')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
