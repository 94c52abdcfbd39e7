'use strict'
// Calendar features of ds values, as future exogenous variables (known for any future date): the hour, day of
// week, month, … of each time stamp, encoded as Fourier terms (sin/cos of the position in the cycle, smooth across
// the cycle's end) or one-hot columns. Ready to pass as columns of the data and of `futrData`.

const { checkOptions } = require('./options.js')
const { columnValues } = require('./long_format.js')

/** Each feature's cycle: length and the position of a UTC date in it (0-based). */
const FEATURES = {
  minute: { period: 60, of: (d) => d.getUTCMinutes() },
  hour: { period: 24, of: (d) => d.getUTCHours() + d.getUTCMinutes() / 60 },
  dayofweek: { period: 7, of: (d) => (d.getUTCDay() + 6) % 7 }, // Monday = 0, as pandas
  dayofmonth: { period: 31, of: (d) => d.getUTCDate() - 1 },
  dayofyear: { period: 366, of: (d) => (Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86400000 },
  weekofyear: { period: 53, of: (d) => isoWeek(d) - 1 },
  month: { period: 12, of: (d) => d.getUTCMonth() },
  quarter: { period: 4, of: (d) => Math.floor(d.getUTCMonth() / 3) },
}

function isoWeek(d) {
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()))
  day.setUTCDate(day.getUTCDate() + 3 - ((day.getUTCDay() + 6) % 7))
  const firstThursday = new Date(Date.UTC(day.getUTCFullYear(), 0, 4))
  return 1 + Math.round(((day - firstThursday) / 86400000 - 3 + ((firstThursday.getUTCDay() + 6) % 7)) / 7)
}

/** A ds value (`YYYY-MM-DD[ HH:MM[:SS]]` string, ISO 8601, Date or epoch milliseconds) as a UTC Date. */
function toDate(value, index) {
  let date
  if (value instanceof Date) date = value
  else if (typeof value === 'string') date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value.replace(' ', 'T')}${value.length > 10 ? '' : 'T00:00'}Z`)
  else if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) > 1e11) date = new Date(value)
  if (!date || Number.isNaN(date.getTime())) {
    throw new TypeError(`calendarFeatures: ds[${index}] must be a date (string, Date or epoch milliseconds), got ${JSON.stringify(value)}`)
  }
  return date
}

/**
 * Calendar features of `ds`, one Float64Array column per feature term.
 * @param {ArrayLike<string | Date | number>} ds time stamps (dates; integer steps have no calendar)
 * @param {{ features?: string[], encoding?: 'fourier' | 'onehot', harmonics?: number }} [options]
 *   features among minute, hour, dayofweek, dayofmonth, dayofyear, weekofyear, month, quarter [['month']];
 *   'fourier' [default] gives `<feature>_sin<k>` and `<feature>_cos<k>` for k = 1…harmonics [1]; 'onehot' gives
 *   `<feature>_<position>` indicators
 * @returns {Record<string, Float64Array>}
 */
function calendarFeatures(ds, options) {
  options = checkOptions(options, ['features', 'encoding', 'harmonics'], 'calendarFeatures')
  const dates = columnValues(ds, 'calendarFeatures: ds').map(toDate)
  const features = options.features ?? ['month']
  const encoding = options.encoding ?? 'fourier'
  const harmonics = options.harmonics ?? 1
  if (!Array.isArray(features) || features.length === 0) throw new TypeError('calendarFeatures: options.features must be a non-empty array')
  for (const name of features) {
    if (!FEATURES[name]) throw new RangeError(`calendarFeatures: unknown feature ${JSON.stringify(name)}; features: ${Object.keys(FEATURES).join(', ')}`)
  }
  if (encoding !== 'fourier' && encoding !== 'onehot') throw new RangeError(`calendarFeatures: encoding must be 'fourier' or 'onehot', got ${JSON.stringify(encoding)}`)
  if (!Number.isInteger(harmonics) || harmonics < 1) throw new RangeError(`calendarFeatures: harmonics must be an integer >= 1, got ${harmonics}`)
  const out = {}
  for (const name of features) {
    const { period, of } = FEATURES[name]
    const positions = dates.map(of)
    if (encoding === 'onehot') {
      for (let p = 0; p < period; p++) out[`${name}_${p}`] = Float64Array.from(positions, (x) => (Math.floor(x) === p ? 1 : 0))
    } else {
      for (let k = 1; k <= harmonics; k++) {
        out[`${name}_sin${k}`] = Float64Array.from(positions, (x) => Math.sin((2 * Math.PI * k * x) / period))
        out[`${name}_cos${k}`] = Float64Array.from(positions, (x) => Math.cos((2 * Math.PI * k * x) / period))
      }
    }
  }
  return out
}

module.exports = { calendarFeatures }
