'use strict'
// `neuro-divergent info` and `--version`: the package version, the native addon's SIMD path, the threads, the
// models of this build and the built-in example data.

const os = require('node:os')

const { COMMON, parse, modelTypes } = require('./args.js')
const { help } = require('./help.js')
const { AIR_PASSENGERS } = require('../datasets.js')

/** The package version. */
function version() {
  return require('../../package.json').version
}

async function commandInfo(lib, argv, io) {
  const command = 'info'
  const { values } = parse(command, argv, { help: COMMON.help }, false)
  if (values.help) return io.stdout.write(help(command, modelTypes(lib)))
  const simd = lib.ops.simdInfo()
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length
  const rows = [
    ['version', version()],
    ['node', `${process.version} (${process.platform}-${process.arch})`],
    ['SIMD in use', `${simd.active}${simd.enabled ? '' : ' (SIMD disabled)'}`],
    ['SIMD detected', simd.detected],
    ['threads', `${cores} available; training and batch prediction use all of them unless --threads is given`],
    ['CPU', os.cpus()[0]?.model ?? 'unknown'],
    ['models', modelTypes(lib).join(', ')],
    ['example data', `${AIR_PASSENGERS} (AirPassengers, 144 months)`],
  ]
  io.stdout.write(rows.map(([k, v]) => `${k.padEnd(14)} ${v}`).join('\n') + '\n')
  return 0
}

module.exports = { commandInfo, version }
