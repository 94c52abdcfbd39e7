#!/usr/bin/env node
// Scale on one machine (issue #9): ingestion of a synthetic panel of 10,000 series × 500 points (5 M rows) from
// typed arrays and from a CSV file, batch prediction of all 10,000 series (LSTM at the baselines' configuration)
// on 1 and 2 threads, a stretch of a training epoch over that panel against the step benchmark, the training step
// at batch 32 and 256 on 1 and 2 threads, and peak memory (RSS high-water mark, each case in a fresh process) of
// training on elecdemand (inputSize 336, h 48, batch 256; with and without lowMemory) and of the 10,000-series
// prediction. Usage: `node bench/scale.js` (`--quick` for fewer repeats). Writes its CSV to the OS temp folder.
'use strict'

const { execFileSync } = require('node:child_process')
const { typedSinePanel } = require('./typed_sine_panel.js')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..')
const quick = process.argv.includes('--quick')
const SERIES = 10000
const LENGTH = 500

function panel() {
  return typedSinePanel(SERIES, LENGTH)
}

const seconds = (started) => Number(process.hrtime.bigint() - started) / 1e9
const time = async (work) => {
  const started = process.hrtime.bigint()
  await work()
  return seconds(started)
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** The baselines' LSTM (inputSize 24, h 12, 2×64 encoder, 64×2 decoder, standard window scaling). */
function lstm(models, extra) {
  return new models.LSTM({ h: 12, inputSize: 24, encoderHiddenSize: 64, decoderHiddenSize: 64, scalerType: 'standard', learningRate: 1e-3, ...extra })
}

/** Runs one memory case in a fresh process and returns its peak RSS in MB. */
function peakRss(scenario) {
  const out = execFileSync(process.execPath, [__filename, '--peak', scenario], { encoding: 'utf8', cwd: root })
  return Number(out.trim().split('\n').pop())
}

async function peakCase(scenario) {
  const { NeuralForecaster, models, readCsv } = require(root)
  if (scenario === 'elecdemand' || scenario === 'elecdemand-low') {
    const data = await readCsv(path.join(root, '..', 'shared', 'data', 'elecdemand_30min.csv'))
    const model = new models.LSTM({ h: 48, inputSize: 336, encoderHiddenSize: 64, decoderHiddenSize: 64, scalerType: 'standard', maxSteps: 20, batchSize: 256 })
    await new NeuralForecaster({ models: [model], lowMemory: scenario === 'elecdemand-low', numThreads: 2 }).fit(data)
  } else {
    const nf = new NeuralForecaster({ models: [lstm(models, { maxSteps: 1, batchSize: 32 })], numThreads: 2 })
    await nf.fit(panel())
    await nf.predict()
  }
  console.log((process.resourceUsage().maxRSS / 1024).toFixed(1))
}

async function main() {
  const { NeuralForecaster, models, Dataset, readCsv, ops } = require(root)
  console.log(`scale benchmark (${quick ? 'quick' : 'full'}): ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}, SIMD ${ops.simdInfo().active}`)
  // First, while this process is small: a child's RSS high-water mark starts from its parent's at fork.
  console.log(`peak RSS, elecdemand training (inputSize 336, h 48, batch 256): ${peakRss('elecdemand')} MB; with lowMemory: ${peakRss('elecdemand-low')} MB`)
  console.log(`peak RSS, ${SERIES}-series fit (1 step) and prediction: ${peakRss('predict')} MB`)
  const data = panel()
  const repeats = quick ? 1 : 3

  const ingest = []
  for (let r = 0; r < repeats; r++) ingest.push(await time(() => Dataset.fromColumns(data)))
  console.log(`ingestion of ${SERIES * LENGTH} rows from typed arrays (Dataset.fromColumns): ${median(ingest).toFixed(3)} s`)

  const csv = path.join(os.tmpdir(), `nd-scale-${SERIES}x${LENGTH}.csv`)
  if (!fs.existsSync(csv)) {
    const lines = ['unique_id,ds,y']
    for (let i = 0; i < data.y.length; i++) lines.push(`${data.labels[data.unique_id[i]]},${data.ds[i]},${data.y[i].toFixed(4)}`)
    fs.writeFileSync(csv, lines.join('\n') + '\n')
  }
  const reads = []
  for (let r = 0; r < repeats; r++) reads.push(await time(() => readCsv(csv)))
  console.log(`ingestion from a CSV file (readCsv, ${(fs.statSync(csv).size / 1e6).toFixed(0)} MB): ${median(reads).toFixed(3)} s`)

  // Thread scaling: the 1- and 2-thread runs alternate and each reports its median, so that a slow spell of a shared
  // machine does not land on one thread count only.
  const dataset = Dataset.fromColumns(data)
  const forecasters = []
  for (const numThreads of [1, 2]) {
    const nf = new NeuralForecaster({ models: [lstm(models, { maxSteps: 1, batchSize: 32 })], numThreads })
    await nf.fit(dataset)
    await nf.predict()
    forecasters.push(nf)
  }
  const predictRuns = [[], []]
  for (let r = 0; r < 2 * repeats + 1; r++) {
    for (const [t, nf] of forecasters.entries()) predictRuns[t].push(await time(() => nf.predict()))
  }
  const predictSeconds = predictRuns.map(median)
  for (const [t, secs] of predictSeconds.entries()) {
    console.log(`predict all ${SERIES} series, ${t + 1} thread(s): ${secs.toFixed(3)} s, ${Math.round(SERIES / secs).toLocaleString('en-US')} series/s`)
  }
  console.log(`prediction thread scaling: ${(predictSeconds[0] / predictSeconds[1]).toFixed(2)}×`)

  const steps = quick ? 100 : 300
  for (const batchSize of [32, 256]) {
    const runs = [[], []]
    for (let r = 0; r < repeats; r++) {
      for (const numThreads of [1, 2]) {
        const nf = new NeuralForecaster({ models: [lstm(models, { maxSteps: steps, batchSize })], numThreads })
        const report = await nf.fit(dataset)
        runs[numThreads - 1].push(report.elapsedMs / steps)
      }
    }
    const perStep = runs.map(median)
    const windows = (batchSize * 1000) / perStep[1]
    console.log(
      `training over the panel, batch ${batchSize}: ${perStep[0].toFixed(2)} ms/step on 1 thread, ${perStep[1].toFixed(2)} ms/step on 2 ` +
        `(${(perStep[0] / perStep[1]).toFixed(2)}×), ${Math.round(windows).toLocaleString('en-US')} windows/s: an epoch of ` +
        `${(SERIES * (LENGTH - 24)).toLocaleString('en-US')} windows in ${((SERIES * (LENGTH - 24)) / windows / 60).toFixed(1)} min`,
    )
  }
}

const peak = process.argv.indexOf('--peak')
;(peak >= 0 ? peakCase(process.argv[peak + 1]) : main()).catch((err) => {
  console.error(err)
  process.exit(1)
})
