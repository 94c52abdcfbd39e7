// A small long-format panel of sines (one per series, offset by the series index): quick to fit.
function sinePanel(series = 2, length = 80) {
  const data = { unique_id: [], ds: [], y: [] }
  for (let s = 0; s < series; s++) {
    for (let t = 0; t < length; t++) {
      data.unique_id.push(`s${s}`)
      data.ds.push(t)
      data.y.push(10 + s + Math.sin((2 * Math.PI * t) / 12 + s))
    }
  }
  return data
}

module.exports = { sinePanel }
