// Two series 'a' and 'b' with y_t = 10 + 3 x_t + level + noise and x known in advance, so only a model that sees x
// can forecast y: 200 fitted steps and 6 future ones. `extra` names a column of noise in the fitted rows.
function linearExogPanel({ levels = [0, 0], extra } = {}) {
  let state = 7
  const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32)
  const data = { unique_id: [], ds: [], y: [], x: [], ...(extra ? { [extra]: [] } : {}) }
  const future = { unique_id: [], ds: [], x: [] }
  const truth = []
  ;['a', 'b'].forEach((id, series) => {
    for (let t = 0; t < 206; t++) {
      const x = next()
      const y = 10 + 3 * x + levels[series] + 0.05 * next()
      if (t < 200) {
        const row = { unique_id: id, ds: t, y, x }
        if (extra) row[extra] = next()
        Object.entries(row).forEach(([k, v]) => data[k].push(v))
      } else {
        Object.entries({ unique_id: id, ds: t, x }).forEach(([k, v]) => future[k].push(v))
        truth.push(y)
      }
    }
  })
  const errorOf = (forecast, column) => forecast[column].reduce((sum, v, i) => sum + Math.abs(v - truth[i]), 0) / truth.length
  return { data, future, truth, errorOf }
}

module.exports = { linearExogPanel }
