'use strict'
// `neuro-divergent bench`: the quick self-benchmark of ../bench.js on AirPassengers, one table row per model
// (and NeuralForecast's reference figures with --compare).

const os = require('node:os')

const { COMMON, MODEL_OPTIONS, integerOption, parse, modelTypes, resolveModelNames } = require('./args.js')
const { help } = require('./help.js')
const { version } = require('./info.js')
const { formatTable } = require('../table.js')

async function commandBench(lib, argv, io) {
  const command = 'bench'
  const { values } = parse(command, argv, {
    help: COMMON.help,
    model: MODEL_OPTIONS.model,
    threads: MODEL_OPTIONS.threads,
    full: { type: 'boolean' },
    compare: { type: 'boolean' },
  }, false)
  if (values.help) return io.stdout.write(help(command, modelTypes(lib)))
  const { NEURALFORECAST, benchType, BENCH_HEADER, benchRow } = require('../bench.js')
  const types = values.model ? resolveModelNames(lib, values, command) : modelTypes(lib)
  const numThreads = integerOption(values, 'threads', { command }) ?? 2
  const options = values.full ? { fits: 3, windowCalls: 20000, batchCalls: 200, numThreads } : { fits: 1, windowCalls: 2000, batchCalls: 20, numThreads }
  const simd = lib.ops.simdInfo()
  io.stdout.write(`neuro-divergent ${version()} self-benchmark (${values.full ? 'full' : 'quick'}), SIMD ${simd.active}, ${numThreads} threads, ${os.cpus()[0]?.model ?? 'unknown CPU'}\n`)
  const rows = []
  for (const type of types) {
    io.note(`benchmarking ${type}…`)
    rows.push(benchRow(type, 'neuro-divergent', await benchType(type, options)))
    if (values.compare && NEURALFORECAST[type]) rows.push(benchRow(type, 'NeuralForecast*', NEURALFORECAST[type]))
  }
  io.stdout.write(formatTable(BENCH_HEADER, rows) + '\n')
  io.stdout.write('fit: 200 steps on 132 months; step: engine time per step; b32: predict({ data }) over 32 series; MAE: 1960 hold-out.\n')
  if (values.compare) io.stdout.write('* NeuralForecast 3.3 (torch, 2 threads) measured on a 2-vCPU Zen 5 reference machine, not here.\n')
  return 0
}

module.exports = { commandBench }
