'use strict'
// The `neuro-divergent` command: forecast, cv, predict, convert, bench, info, worker. `main(argv)` runs one command and
// resolves to its exit status; bin/neuro-divergent.js is the executable around it.
//
// Output conventions: results (forecast tables, metric tables, bench tables, info) go to stdout; progress, notes
// and errors go to stderr. An error is one line, `neuro-divergent: <what is wrong>`, and a non-zero status:
// 2 for a bad command line, 1 for anything else (bad data, failed fit, unwritable file). Set
// NEURO_DIVERGENT_DEBUG=1 to see stack traces.

const { modelTypes } = require('./args.js')
const { commandBench } = require('./bench.js')
const { commandConvert } = require('./convert.js')
const { commandCv } = require('./cv.js')
const { UsageError, InputError, firstLine } = require('./errors.js')
const { commandForecast } = require('./forecast.js')
const { PROGRAM, help } = require('./help.js')
const { commandInfo, version } = require('./info.js')
const { commandPredict } = require('./predict.js')
const { commandWorker } = require('./worker.js')

const COMMANDS = { forecast: commandForecast, cv: commandCv, predict: commandPredict, convert: commandConvert, bench: commandBench, info: commandInfo, worker: commandWorker }

/**
 * Runs one command line.
 * @param {string[]} argv the arguments after the program name
 * @param {{ stdout?: NodeJS.WritableStream, stderr?: NodeJS.WritableStream }} [streams]
 * @returns {Promise<number>} exit status
 */
async function main(argv, streams = {}) {
  const io = {
    stdout: streams.stdout ?? process.stdout,
    stderr: streams.stderr ?? process.stderr,
    quiet: false,
    note(message) {
      if (!this.quiet) this.stderr.write(`${message}\n`)
    },
  }
  const [command, ...rest] = argv
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      const lib = require('../../main.js')
      const topic = command === 'help' ? rest[0] : undefined
      if (topic !== undefined && !COMMANDS[topic]) throw new UsageError(`unknown command ${JSON.stringify(topic)}`)
      io.stdout.write(help(topic, modelTypes(lib)))
      return command === undefined ? 2 : 0
    }
    if (command === '--version' || command === '-v' || command === 'version') {
      io.stdout.write(`${version()}\n`)
      return 0
    }
    const run = COMMANDS[command]
    if (!run) throw new UsageError(`unknown command ${JSON.stringify(command)}; commands: ${Object.keys(COMMANDS).join(', ')}`)
    let lib
    try {
      lib = require('../../main.js')
    } catch (err) {
      throw new InputError(`cannot load the native addon: ${firstLine(err)}`)
    }
    return (await run(lib, rest, io)) === 2 ? 2 : 0
  } catch (err) {
    if (process.env.NEURO_DIVERGENT_DEBUG && err && err.stack) io.stderr.write(`${err.stack}\n`)
    if (err instanceof UsageError) {
      if (err.command === undefined && COMMANDS[command]) err.command = command
      const hint = err.command ? ` (see ${PROGRAM} ${err.command} --help)` : ` (see ${PROGRAM} --help)`
      io.stderr.write(`${PROGRAM}: ${firstLine(err)}${hint}\n`)
      return 2
    }
    io.stderr.write(`${PROGRAM}: ${firstLine(err)}\n`)
    return err && Number.isInteger(err.exitCode) ? err.exitCode : 1
  }
}

module.exports = { main }
