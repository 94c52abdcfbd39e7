// Reads the long-format example files (unique_id,ds,y; no quoted fields) into columns.
const fs = require('node:fs')
const path = require('node:path')

function readLongCsv(name) {
  const [, ...lines] = fs.readFileSync(path.join(__dirname, 'data', name), 'utf8').trim().split('\n')
  const rows = lines.map((line) => line.trim().split(','))
  return { unique_id: rows.map((r) => r[0]), ds: rows.map((r) => Number(r[1]) || r[1]), y: rows.map((r) => Number(r[2])) }
}

module.exports = { readLongCsv }
