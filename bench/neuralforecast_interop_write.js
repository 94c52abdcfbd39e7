// Fits every case of __test__/neuralforecast_cases.js, saves it in NeuralForecast's format and writes what
// bench/neuralforecast_interop_check.py compares: OUT/<case>/nf/ (the directory), ours.csv (our forecast),
// history.csv, futr.csv and static.csv.  Usage: node bench/neuralforecast_interop_write.js OUT [case,…]
const fs = require('fs')
const path = require('path')
const { NeuralForecaster } = require('../main.js')
const { cases, panel } = require('../__test__/neuralforecast_cases.js')

function csv(file, columns) {
  const keys = Object.keys(columns)
  const rows = columns[keys[0]].map((_, i) => keys.map((k) => (columns[k][i] instanceof Date ? columns[k][i].toISOString().slice(0, 10) : columns[k][i])).join(','))
  fs.writeFileSync(file, [keys.join(','), ...rows].join('\n') + '\n')
}

async function main() {
  const out = process.argv[2]
  const { history, futrData, staticData } = panel()
  const only = process.argv[3]?.split(',')
  for (const [name, c] of Object.entries(cases).filter(([name]) => !only || only.includes(name))) {
    const dir = path.join(out, name)
    fs.mkdirSync(dir, { recursive: true })
    const forecaster = new NeuralForecaster({ models: c.models(), ...(c.options || {}) })
    await forecaster.fit(history, { staticData })
    await forecaster.save(path.join(dir, 'nf'), { format: 'neuralforecast', overwrite: true })
    const forecast = await forecaster.predict({ data: history, staticData, futrData })
    csv(path.join(dir, 'ours.csv'), { ...forecast, ds: forecast.ds.map((d) => (d instanceof Date ? d.toISOString().slice(0, 10) : d)) })
    csv(path.join(dir, 'history.csv'), history)
    if (c.exog) {
      csv(path.join(dir, 'futr.csv'), futrData)
      csv(path.join(dir, 'static.csv'), staticData)
    }
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
