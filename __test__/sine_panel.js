// A small long-format panel of sines (one per series, offset by the series index): quick to fit.

/** Series s's value at step t. */
const sineValue = (s, t) => 10 + s + Math.sin((2 * Math.PI * t) / 12 + s)

function sinePanel(series = 2, length = 80) {
  const data = { unique_id: [], ds: [], y: [] }
  for (let s = 0; s < series; s++) {
    for (let t = 0; t < length; t++) {
      data.unique_id.push(`s${s}`)
      data.ds.push(t)
      data.y.push(sineValue(s, t))
    }
  }
  return data
}

/** MAE of `column` of a forecast of series s0 and s1 over the `h` steps after a panel of `length` steps. */
function sineForecastMae(forecast, column, length, h) {
  let sum = 0
  for (let i = 0; i < forecast.unique_id.length; i++) sum += Math.abs(forecast[column][i] - sineValue(forecast.unique_id[i] === 's0' ? 0 : 1, length + (i % h)))
  return sum / forecast.unique_id.length
}

/** The weights of a checkpoint: the bytes after its JSON header (whose metadata names the thread count). */
const weightBytes = (buffer) => buffer.subarray(8 + Number(buffer.readBigUInt64LE(0)))

module.exports = { sinePanel, sineValue, sineForecastMae, weightBytes }
