#!/usr/bin/env node
// Peak memory of an Auto search against its trials alone (issue 19's limit: a search's peak memory is at most that of
// its largest trial, times the number of trials running at once, plus 20 %). AutoNHITS over NeuralForecast's default
// space with few steps (memory does not grow with them), on a large and a small synthetic panel: each trial's
// configuration fitted alone as the search fits it (the same model options, validationSize h), and the whole search
// (its trials, then the winner's refit) on 1 and 2 threads, where 1 and 2 trials run at once.
//
// Each case runs in a fresh process and reads its peak RSS from /proc/self/status (VmHWM: per address space, so it
// starts afresh at exec, unlike getrusage's maxRSS, which keeps the parent's). Figures are that peak less the VmHWM
// right after loading the addon, before the data is built (the process's baseline), so they count the data the
// case holds (the typed-array columns and their Dataset) once per case; "above data" less the RSS after the Dataset
// is built instead, which leaves only what fitting adds.
//
// Run: node bench/auto_memory.js [--steps N] [--samples N] [--quick (the small panel only)]
'use strict'

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { typedSinePanel } = require('./typed_sine_panel.js')

const root = path.join(__dirname, '..')
const H = 12
const arg = (name, fallback) => {
  const at = process.argv.indexOf(name)
  return at < 0 ? fallback : Number(process.argv[at + 1])
}

/** VmHWM and VmRSS of this process, in MB. */
function memory() {
  const status = fs.readFileSync('/proc/self/status', 'utf8')
  const field = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))[1]) / 1024
  return { hwm: field('VmHWM'), rss: field('VmRSS') }
}

/** The Auto model's options: NeuralForecast's AutoNHITS space for h 12 with `steps` training steps. */
function autoOptions(models, steps, samples) {
  const { config } = new models.AutoNHITS({ h: H })
  return { h: H, numSamples: samples, seed: 1, config: { ...config, maxSteps: steps, valCheckSteps: Math.max(1, steps >> 1) } }
}

/** One case, in this (child) process: prints its memory figures as JSON. */
async function child(spec) {
  const { NeuralForecaster, models, Dataset, autoTrialConfigs } = require(root)
  const baseline = memory().hwm
  const columns = typedSinePanel(spec.series, spec.length)
  const data = Dataset.fromColumns(columns)
  const withData = memory().rss
  const options = autoOptions(models, spec.steps, spec.samples)
  let model, fitOptions
  if (spec.trial === undefined) {
    model = new models.AutoNHITS(options)
    fitOptions = {}
  } else {
    // As the search fits trial k: its sampled options over the fixed ones, scored on the last h points.
    model = new models.NHITS({ h: H, ...autoTrialConfigs('AutoNHITS', options)[spec.trial] })
    fitOptions = { validationSize: H }
  }
  const forecaster = new NeuralForecaster({ models: [model], numThreads: spec.threads })
  const started = process.hrtime.bigint()
  await forecaster.fit(data, fitOptions)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const peak = memory().hwm
  const rows = spec.trial === undefined ? model.results().length : 1
  console.log(JSON.stringify({ baseline, data: withData - baseline, peak: peak - baseline, aboveData: peak - withData, seconds, rows }))
}

function run(spec) {
  const out = execFileSync(process.execPath, [__filename, '--child', JSON.stringify(spec)], { encoding: 'utf8', cwd: root, maxBuffer: 1 << 24 })
  return JSON.parse(out.trim().split('\n').pop())
}

function main() {
  const steps = arg('--steps', 10)
  const samples = arg('--samples', 6)
  const panels = process.argv.includes('--quick') ? [[100, 300]] : [[10000, 300], [100, 300]]
  const load = () => os.loadavg()[0].toFixed(1)
  console.log(`auto memory: AutoNHITS (default space, maxSteps ${steps}), ${samples} trials, seed 1; ${os.cpus().length} cores, load ${load()}`)
  const mb = (x) => x.toFixed(1)
  for (const [series, length] of panels) {
    console.log(`\npanel ${series} series x ${length} points (MB above the baseline; above data in brackets)`)
    for (const threads of [1, 2]) {
      const base = { series, length, steps, samples, threads }
      const trials = Array.from({ length: samples }, (_, trial) => run({ ...base, trial }))
      trials.forEach((t, k) => console.log(`  ${threads} thread(s), trial ${k} alone: ${mb(t.peak)} (${mb(t.aboveData)}), ${t.seconds.toFixed(1)} s`))
      const search = run(base)
      const largest = Math.max(...trials.map((t) => t.peak))
      const largestAbove = Math.max(...trials.map((t) => t.aboveData))
      const bound = largest * threads * 1.2
      const boundAbove = largestAbove * threads * 1.2
      console.log(
        `  ${threads} thread(s), search (${search.rows} trials, with the refit): ${mb(search.peak)} (${mb(search.aboveData)}), ${search.seconds.toFixed(1)} s;` +
          ` bound ${mb(largest)} x ${threads} x 1.2 = ${mb(bound)} (${mb(boundAbove)}): ${search.peak <= bound ? 'within' : 'EXCEEDED'}` +
          ` (${search.aboveData <= boundAbove ? 'within' : 'exceeded'} above data); data ${mb(search.data)}, load ${load()}`,
      )
    }
  }
}

if (process.argv[2] === '--child') {
  child(JSON.parse(process.argv[3])).catch((error) => {
    console.error(error)
    process.exit(1)
  })
} else {
  main()
}
