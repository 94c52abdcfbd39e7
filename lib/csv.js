'use strict'
// RFC 4180 CSV: a parser and a writer, plus the mapping between CSV files and the library's long format
// (`unique_id`, `ds`, `y` columns) used by the command-line tool.
//
// Parser: fields separated by a delimiter (',' by default), records by CRLF, LF or a lone CR; a field may be
// quoted with '"', and then holds delimiters, line breaks and doubled quotes ("" for "). A UTF-8 byte-order mark
// is dropped, blank lines are skipped, a final line break is optional. Malformed input (an unterminated quoted
// field, a quote inside an unquoted field, text after a closing quote) is an error naming the line.

class CsvError extends Error {
  constructor(message, line) {
    super(message)
    this.name = 'CsvError'
    if (line !== undefined) this.line = line
  }
}

/**
 * Parses CSV text into records (arrays of strings). Each record carries its 1-based starting line in
 * `lines[i]`, for error messages about the data it holds.
 * @param {string} text
 * @param {{ delimiter?: string, source?: string }} [options]
 * @returns {{ records: string[][], lines: number[] }}
 */
function parseCsv(text, options = {}) {
  if (typeof text !== 'string') throw new TypeError(`parseCsv: text must be a string, got ${typeof text}`)
  const delimiter = options.delimiter ?? ','
  if (typeof delimiter !== 'string' || delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new TypeError(`parseCsv: delimiter must be one character other than a quote or line break, got ${JSON.stringify(delimiter)}`)
  }
  const where = options.source ? `${options.source} ` : ''
  const records = []
  const lines = []
  const n = text.length
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0
  let line = 1

  while (i < n) {
    // One record per iteration.
    const startLine = line
    const record = []
    let blank = true
    for (;;) {
      // One field.
      let field = ''
      if (text[i] === '"') {
        blank = false
        const quoteLine = line
        i++
        for (;;) {
          if (i >= n) throw new CsvError(`${where}line ${quoteLine}: unterminated quoted field`, quoteLine)
          const c = text[i]
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"'
              i += 2
              continue
            }
            i++
            break
          }
          if (c === '\r') {
            if (text[i + 1] === '\n') {
              field += '\r\n'
              i += 2
            } else {
              field += '\r'
              i++
            }
            line++
            continue
          }
          if (c === '\n') line++
          field += c
          i++
        }
        if (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') {
          throw new CsvError(`${where}line ${line}: unexpected ${JSON.stringify(text[i])} after a closing quote`, line)
        }
      } else {
        const start = i
        while (i < n) {
          const c = text[i]
          if (c === delimiter || c === '\n' || c === '\r') break
          if (c === '"') throw new CsvError(`${where}line ${line}: quote inside an unquoted field (quote the whole field and double its quotes)`, line)
          i++
        }
        field = text.slice(start, i)
        if (field.length > 0) blank = false
      }
      record.push(field)
      if (i < n && text[i] === delimiter) {
        blank = false
        i++
        continue
      }
      // End of record: a line break or the end of the text.
      if (i < n) {
        if (text[i] === '\r' && text[i + 1] === '\n') i += 2
        else i++
        line++
      }
      break
    }
    if (!blank) {
      records.push(record)
      lines.push(startLine)
    }
  }
  return { records, lines }
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

/** `ds` values as the library takes them: integers as numbers, anything else as the string it is. */
function dsValue(s) {
  return /^[+-]?\d+$/.test(s) ? Number(s) : s
}

/**
 * Reads long-format data from CSV text: one row per observation with an id column (optional for a single
 * series), a time column and a numeric target column.
 * @param {string} text
 * @param {{ idCol?: string, timeCol?: string, targetCol?: string, defaultId?: string, source?: string, delimiter?: string }} [options]
 * @returns {{ unique_id: string[], ds: Array<string|number>, y: Float64Array, lines: number[] }}
 *   `lines[r]` is the file line of data row r.
 */
function readLongFormat(text, options = {}) {
  const source = options.source ?? 'data'
  const { records, lines } = parseCsv(text, { delimiter: options.delimiter, source })
  if (records.length === 0) throw new CsvError(`${source} is empty: expected a header line and data rows`)
  const header = records[0].map((h) => h.trim())
  const columns = `columns: ${header.map((h) => JSON.stringify(h)).join(', ')}`
  const find = (name, flag, required) => {
    const index = header.indexOf(name)
    if (index < 0 && required) {
      throw new CsvError(`${source} has no column ${JSON.stringify(name)} (${columns}); name the ${flag.slice(2, -4)} column with ${flag}`)
    }
    return index
  }
  const idIndex = find(options.idCol ?? 'unique_id', '--id-col', options.idCol !== undefined)
  const timeIndex = find(options.timeCol ?? 'ds', '--time-col', true)
  const targetIndex = find(options.targetCol ?? 'y', '--target-col', true)
  if (records.length === 1) throw new CsvError(`${source} has a header but no data rows`)

  const rows = records.length - 1
  const uniqueId = new Array(rows)
  const ds = new Array(rows)
  const y = new Float64Array(rows)
  const rowLines = new Array(rows)
  const defaultId = options.defaultId ?? 'series'
  for (let r = 0; r < rows; r++) {
    const record = records[r + 1]
    const line = lines[r + 1]
    if (record.length !== header.length) {
      throw new CsvError(`${source} line ${line}: expected ${header.length} fields as in the header, found ${record.length}`, line)
    }
    uniqueId[r] = idIndex >= 0 ? record[idIndex] : defaultId
    const t = record[timeIndex].trim()
    if (t === '') throw new CsvError(`${source} line ${line}: empty value in time column ${JSON.stringify(header[timeIndex])}`, line)
    ds[r] = dsValue(t)
    const raw = record[targetIndex].trim()
    const value = raw === '' ? NaN : Number(raw)
    if (raw === '' || Number.isNaN(value)) {
      const what = raw === '' ? 'an empty value' : `${JSON.stringify(raw)}, not a number`
      throw new CsvError(`${source} line ${line}: target column ${JSON.stringify(header[targetIndex])} has ${what}`, line)
    }
    if (!Number.isFinite(value)) {
      throw new CsvError(`${source} line ${line}: target column ${JSON.stringify(header[targetIndex])} is ${raw}; values must be finite`, line)
    }
    y[r] = value
    rowLines[r] = line
  }
  return { unique_id: uniqueId, ds, y, lines: rowLines }
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
