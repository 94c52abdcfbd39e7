'use strict'
// The data of a command: a long-format CSV file (or the built-in AirPassengers example) read into columns in
// time order by the addon's CSV reader, and the file lines of its rows, which library errors about a row are given.

const fs = require('node:fs')
const path = require('node:path')

const { readLongFormat } = require('../csv.js')
const { airPassengers, AIR_PASSENGERS } = require('../datasets.js')
const { UsageError, InputError } = require('./errors.js')

/** Reads the data file of a command, or the built-in example. */
function loadData(file, values) {
  if (file === undefined) {
    for (const flag of ['id-col', 'time-col', 'target-col', 'delimiter']) {
      if (values[flag] !== undefined) {
        throw new UsageError(`--${flag} applies to a data file; without one the built-in AirPassengers example (unique_id, ds, y) is used`)
      }
    }
    return { data: airPassengers(), name: 'AirPassengers', source: path.basename(AIR_PASSENGERS), lines: null }
  }
  let text
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    if (err.code === 'ENOENT') throw new InputError(`file not found: ${file}`)
    if (err.code === 'EISDIR') throw new InputError(`${file} is a directory, not a CSV file`)
    throw new InputError(`cannot read ${file}: ${err.message}`)
  }
  const source = path.basename(file)
  if (values.delimiter !== undefined && values.delimiter.length !== 1) {
    throw new UsageError(`--delimiter must be one character, got ${JSON.stringify(values.delimiter)}`)
  }
  let parsed
  try {
    parsed = readLongFormat(text, {
      idCol: values['id-col'],
      timeCol: values['time-col'],
      targetCol: values['target-col'],
      delimiter: values.delimiter,
      defaultId: source.replace(/\.[^.]*$/, '') || 'series',
      source,
      sort: true,
    })
  } catch (err) {
    if (err.name === 'CsvError') throw new InputError(err.message)
    throw err
  }
  const { lines, ...data } = parsed
  return { data, lines, name: source, source }
}

/** A library error about data row r, with the file line added. */
function withFileLine(err, loaded) {
  if (!loaded || !loaded.lines || !err || typeof err.message !== 'string') return err
  err.message = err.message.replace(/\brows? (\d+)(?: and (\d+))?\b/, (match, a, b) => {
    const la = loaded.lines[Number(a)]
    const lb = b === undefined ? undefined : loaded.lines[Number(b)]
    if (la === undefined || (b !== undefined && lb === undefined)) return match
    return `${match} (${loaded.source} ${b === undefined ? `line ${la}` : `lines ${la} and ${lb}`})`
  })
  return err
}

module.exports = { loadData, withFileLine }
