'use strict'
// Data shipped inside the package (nothing is downloaded or read from outside it at run time).

const fs = require('node:fs')
const path = require('node:path')
const { readLongFormat } = require('./csv.js')

const AIR_PASSENGERS = path.join(__dirname, '..', 'data', 'air_passengers.csv')

/**
 * AirPassengers (Box & Jenkins): monthly airline passengers in thousands, 1949-01 to 1960-12, 144 rows, one
 * series 'AirPassengers' with ds on the first of each month (frequency 'MS').
 */
function airPassengers() {
  const { unique_id, ds, y } = readLongFormat(fs.readFileSync(AIR_PASSENGERS, 'utf8'), { source: 'air_passengers.csv' })
  return { unique_id, ds, y }
}

module.exports = { airPassengers, AIR_PASSENGERS }
