'use strict'
// The benchmarks' synthetic panel, as typed-array columns (integer id codes with labels): series s is a sine with its
// own phase and level.

function typedSinePanel(series, length) {
  const n = series * length
  const codes = new Uint32Array(n)
  const ds = new Float64Array(n)
  const y = new Float64Array(n)
  for (let s = 0; s < series; s++) {
    for (let t = 0; t < length; t++) {
      const i = s * length + t
      codes[i] = s
      ds[i] = t
      y[i] = 100 + (s % 50) + 10 * Math.sin((2 * Math.PI * t) / 24 + s)
    }
  }
  return { unique_id: codes, labels: Array.from({ length: series }, (_, s) => `s${s}`), ds, y }
}

module.exports = { typedSinePanel }
