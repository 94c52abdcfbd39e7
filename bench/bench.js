#!/usr/bin/env node
// JS-level benchmark at the configuration of ../shared/reference/baselines.md (AirPassengers, inputSize 24,
// h 12, 2×64 encoder, 64×2 decoder, standard window scaling, batch 32, lr 1e-3, MAE), printed beside the
// NeuralForecast figures measured on this machine kind, then `ops` from JS without and with an `out` array.
// Usage: `npm run bench` (`-- --quick` for fewer repeats, `-- --ops` for the ops only).
// The measuring code is lib/bench.js, shared with `neuro-divergent bench`.
'use strict'

const { ops, models } = require('..')
const { NEURALFORECAST, benchType, benchBar, benchOps, BENCH_HEADER, benchRow } = require('../lib/bench.js')
const { formatTable } = require('../lib/table.js')

const quick = process.argv.includes('--quick')
const opsOnly = process.argv.includes('--ops')

/** `ops` from JS (µs per call, median), beside the kernel's criterion figure (BENCHMARKS.md, "ops from JS"). */
function opsTable() {
  const rows = benchOps(quick ? { rounds: 40 } : {}).map((r) => [r.op, r.allocating.toFixed(2), r.withOut.toFixed(2)])
  console.log('\nops from JS, f64 (criterion: cargo bench --bench simd_benchmarks -- "zscore_normalize/|rolling_mean/")')
  console.log(formatTable(['op', 'µs allocating', 'µs with out'], rows))
}

async function main() {
  if (opsOnly) return opsTable()
  const options = quick ? { fits: 1, windowCalls: 2000, batchCalls: 20 } : { fits: 3, windowCalls: 20000, batchCalls: 200 }
  console.log(`neuro-divergent JS benchmark (${quick ? 'quick' : 'full'}), SIMD: ${ops.simdInfo().active}, 2 threads`)
  const rows = []
  for (const type of Object.keys(models).filter((t) => t !== 'Transformer' && !t.startsWith('Auto'))) {
    rows.push(benchRow(type, 'neuro-divergent', await benchType(type, options)))
    if (NEURALFORECAST[type]) rows.push(benchRow(type, 'NeuralForecast', NEURALFORECAST[type]))
  }
  console.log(formatTable(BENCH_HEADER, rows))
  const barCalls = quick ? 2000 : 20000
  const bars = []
  for (const type of ['LSTM', 'GRU', 'TCN', 'NHITS']) bars.push([type, (await benchBar(type, { barCalls })).toFixed(1)])
  console.log('\nPer bar from JS: update() of one observation + forecastSeries() of that series (NeuralForecast predict: ~4 ms)')
  console.log(formatTable(['model', 'µs per bar (median)'], bars))
  console.log('step ms: fit wall time inside the engine / steps; b32: forecastWindows over 32 windows, end to end from JS; Prophet: fit s per series, no steps.')
  opsTable()
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
