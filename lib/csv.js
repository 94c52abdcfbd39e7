'use strict'
// CSV for the command-line tool: text read by the addon's one CSV reader (src/data/csv: strict RFC 4180, CRLF, LF
// or lone CR line ends, line numbers in every error), its records and long-format columns brought to the shapes
// the tool uses, its errors worded for the command line; and a writer for the tool's results.

const { load } = require('./load.js') // the addon, loaded at the first read (the CLI's --help and --version run without it)
const { DEFAULT_ID } = require('./long_format.js')
const { errorInThisRealm, inThisRealm } = require('./realm.js')

class CsvError extends Error {
  constructor(message, line) {
    super(message)
    this.name = 'CsvError'
    if (line !== undefined) this.line = line
  }
}

/**
 * The reader's error (which carries `kind`, `line`, `column`, `value`, `columns`) as a CsvError worded for the
 * command line; other errors (a wrong argument) as they are, in this realm.
 * @param {{ idCol?: string, timeCol?: string, source?: string }} options the options of the read
 */
function commandLineError(err, options) {
  if (typeof err?.kind !== 'string') return errorInThisRealm(err)
  const { kind, line, column, value } = err
  const at = `${options.source ?? 'data'} line ${line}: `
  let message = err.message
  if (kind === 'missingColumn') {
    const role = column === options.idCol ? 'id' : column === (options.timeCol ?? 'ds') ? 'time' : 'target'
    const columns = err.columns.map((c) => JSON.stringify(c)).join(', ')
    message = `${options.source ?? 'data'} has no column ${JSON.stringify(column)} (columns: ${columns}); name the ${role} column with --${role}-col`
  } else if (kind === 'badTime' && value.trim() === '') {
    message = `${at}empty value in time column ${JSON.stringify(column)}`
  } else if (kind === 'badNumber') {
    const target = `target column ${JSON.stringify(column)}`
    if (value === '') message = `${at}${target} has an empty value`
    else if (Math.abs(Number(value)) === Infinity) message = `${at}${target} is ${value}; values must be finite`
    else message = `${at}${target} has ${JSON.stringify(value)}, not a number`
  }
  return new CsvError(message, line)
}

/**
 * Parses CSV text into records (arrays of strings). Each record carries its 1-based starting line in
 * `lines[i]`, for error messages about the data it holds.
 * @param {string} text
 * @param {{ delimiter?: string, source?: string }} [options]
 * @returns {{ records: string[][], lines: number[] }}
 */
function parseCsv(text, options = {}) {
  try {
    return inThisRealm(load().parseCsvRecords(text, { delimiter: options.delimiter, source: options.source }))
  } catch (err) {
    throw commandLineError(err, options)
  }
}

function quoteField(value, delimiter) {
  const s = value === null || value === undefined ? '' : String(value)
  if (s.includes(delimiter) || s.includes('"') || s.includes('\n') || s.includes('\r') || /^\s|\s$/.test(s)) {
    return `"${s.replace(/"/g, '""')}"`
  }
  return s
}

/**
 * Writes records (arrays of values) as CSV text, quoting only the fields that need it.
 * @param {Array<ArrayLike<unknown>>} records
 * @param {{ delimiter?: string, eol?: string }} [options]
 */
function stringifyCsv(records, options = {}) {
  const delimiter = options.delimiter ?? ','
  const eol = options.eol ?? '\n'
  let out = ''
  for (const record of records) {
    const line = Array.from(record, (v) => quoteField(v, delimiter)).join(delimiter)
    // A lone empty field is quoted: written bare it would be a blank line, which readers skip.
    out += (line === '' && record.length === 1 ? '""' : line) + eol
  }
  return out
}

/**
 * Reads long-format data from CSV text: one row per observation with an id column (optional for a single
 * series), a time column and a numeric target column; other columns are ignored.
 * @param {string} text
 * @param {{ idCol?: string, timeCol?: string, targetCol?: string, defaultId?: string, source?: string, delimiter?: string, sort?: boolean }} [options]
 *   `sort`: rows in order of series (first appearance) and time, as NeuralForecast sorts its input.
 * @returns {{ unique_id: string[], ds: Array<string|number>, y: Float64Array, lines: number[] }}
 *   integer ds as numbers, dates as strings; `lines[r]` is the file line of data row r.
 */
function readLongFormat(text, options = {}) {
  let columns
  try {
    columns = load().parseCsvColumns(text, {
      idCol: options.idCol,
      timeCol: options.timeCol,
      targetCol: options.targetCol,
      delimiter: options.delimiter,
      // Without a named id column, a file without `unique_id` is one series.
      defaultId: options.idCol === undefined ? (options.defaultId ?? DEFAULT_ID) : undefined,
      exogenous: false,
      sort: options.sort,
      source: options.source,
    })
  } catch (err) {
    throw commandLineError(err, options)
  }
  const { codes, labels } = columns.unique_id
  const rows = codes.length
  const uniqueId = new Array(rows)
  const lines = new Array(rows)
  for (let r = 0; r < rows; r++) {
    uniqueId[r] = labels[codes[r]]
    lines[r] = columns.lines[r]
  }
  return { unique_id: uniqueId, ds: Array.from(columns.ds), y: inThisRealm(columns.y), lines }
}

/**
 * Long-format columns (a forecast, a cross-validation result) as CSV text: `unique_id`, `ds`, then every other
 * column in order. Numbers are written in full precision.
 * @param {Record<string, ArrayLike<unknown>>} columns
 */
function columnsToCsv(columns, options = {}) {
  const names = Object.keys(columns)
  const rows = names.length ? columns[names[0]].length : 0
  for (const name of names) {
    if (columns[name].length !== rows) throw new RangeError(`columnsToCsv: column ${name} has ${columns[name].length} values, expected ${rows}`)
  }
  const records = [names]
  for (let r = 0; r < rows; r++) records.push(names.map((name) => columns[name][r]))
  return stringifyCsv(records, options)
}

module.exports = { CsvError, parseCsv, stringifyCsv, readLongFormat, columnsToCsv }
