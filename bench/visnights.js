'use strict'
// examples/data/visnights.csv (20 aligned quarterly series) as long-format columns, for the benchmarks.

const fs = require('node:fs')
const path = require('node:path')

function visnights() {
  const rows = fs.readFileSync(path.join(__dirname, '..', 'examples', 'data', 'visnights.csv'), 'utf8').trim().split('\n').slice(1)
  const data = { unique_id: [], ds: [], y: [] }
  for (const row of rows) {
    const [id, ds, y] = row.split(',')
    data.unique_id.push(id)
    data.ds.push(ds)
    data.y.push(Number(y))
  }
  return data
}

module.exports = { visnights }
