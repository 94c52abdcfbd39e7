'use strict'
// `neuro-divergent convert <in> <out>`: between NeuralForecast's model directories (written by `nf.save`) and this
// library's safetensors checkpoints. The direction follows what <in> is: a directory is read as NeuralForecast's
// and written as a checkpoint file; a file is read as a checkpoint and written as a NeuralForecast directory.

const fs = require('node:fs')
const path = require('node:path')

const { COMMON, parse, modelTypes } = require('./args.js')
const { UsageError, InputError, firstLine } = require('./errors.js')
const { help } = require('./help.js')

async function commandConvert(lib, argv, io) {
  const command = 'convert'
  const { values, positionals } = parse(command, argv, { ...COMMON, overwrite: { type: 'boolean' } })
  if (values.help) return io.stdout.write(help(command, modelTypes(lib)))
  if (positionals.length !== 2) {
    throw new UsageError(`convert needs an input and an output path, got ${positionals.length} argument(s)`, command)
  }
  io.quiet = values.quiet
  const [input, output] = positionals
  let inputStat
  try {
    inputStat = fs.statSync(input)
  } catch {
    throw new InputError(`file not found: ${input}`)
  }
  const fromNeuralForecast = inputStat.isDirectory()
  checkOutput(output, values.overwrite, fromNeuralForecast)

  let forecaster
  try {
    forecaster = await lib.NeuralForecaster.load(input)
  } catch (err) {
    throw new InputError(`cannot load ${input}: ${firstLine(err)}`)
  }
  try {
    if (fromNeuralForecast) await forecaster.save(output)
    else await forecaster.save(output, { format: 'neuralforecast', overwrite: values.overwrite === true })
  } catch (err) {
    throw new InputError(`cannot write ${output}: ${firstLine(err)}`)
  }
  io.note(`wrote ${output} (${fromNeuralForecast ? 'a neuro-divergent checkpoint' : 'a NeuralForecast model directory'})`)
  return 0
}

/** Fails before loading anything when `output` cannot be written: its directory is missing, or it exists without --overwrite. */
function checkOutput(output, overwrite, toCheckpoint) {
  const parent = path.dirname(path.resolve(output))
  if (!fs.existsSync(parent)) throw new InputError(`cannot write ${output}: directory ${parent} does not exist`)
  let stat
  try {
    stat = fs.statSync(output)
  } catch {
    return
  }
  if (toCheckpoint && stat.isDirectory()) throw new InputError(`cannot write ${output}: it is a directory; the checkpoint is one file`)
  if (!toCheckpoint && !stat.isDirectory()) throw new InputError(`cannot write ${output}: it is a file; a NeuralForecast model is a directory`)
  if (!overwrite) throw new InputError(`${output} exists; pass --overwrite to replace it`)
}

module.exports = { commandConvert }
