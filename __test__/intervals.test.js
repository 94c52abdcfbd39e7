// Calibration of 80 % prediction intervals in cross-validation over real data (examples/data, __test__/fixtures):
// the visnights panel (20 quarterly series, the last 4 years in 4 windows of 4 quarters) and AirPassengers (its
// last 4 years in 4 windows of 12 months). Issue #5 asks for coverage between 70 % and 90 % for a quantile-loss
// model and for conformal intervals; the figures are deterministic (seeded), so these bounds are exact checks, not
// flaky ones.
const fs = require('node:fs')
const path = require('node:path')
const { models, crossValidation, coverage } = require('..')

function readLongCsv(file) {
  const [, ...lines] = fs.readFileSync(file, 'utf8').trim().split('\n')
  const rows = lines.map((line) => line.trim().split(','))
  return { unique_id: rows.map((r) => r[0]), ds: rows.map((r) => r[1]), y: rows.map((r) => Number(r[2])) }
}

const DATA = [
  ['visnights', readLongCsv(path.join(__dirname, '..', 'examples', 'data', 'visnights.csv')), 4, 'QS'],
  ['AirPassengers', readLongCsv(path.join(__dirname, 'fixtures', 'air_passengers.csv')), 12, 'MS'],
]

/** NeuralForecast's GRU defaults (robust window scaling) at a small size. */
const gru = (h, maxSteps, extra) =>
  new models.GRU({ h, inputSize: 2 * h, encoderHiddenSize: 32, decoderHiddenSize: 32, scalerType: 'robust', maxSteps, windowsBatchSize: 32, ...extra })

describe.each(DATA)('%s, 4 windows', (_name, data, h, frequency) => {
  const windows = { nWindows: 4, stepSize: h }

  test('a multi-quantile GRU (MQLoss, level 80) covers 70–90 % of the actuals', async () => {
    const model = gru(h, 300, { loss: { type: 'MQLoss', level: [80] } })
    const cv = await crossValidation({ models: [model], frequency }, data, windows)
    const share = coverage(cv).GRU['80']
    expect(share).toBeGreaterThanOrEqual(0.7)
    expect(share).toBeLessThanOrEqual(0.9)
  })

  test('conformal intervals (10 calibration windows, conformal_error) cover 70–90 % of the actuals', async () => {
    const fitOptions = { predictionIntervals: { nWindows: 10, method: 'conformal_error' } }
    const cv = await crossValidation({ models: [gru(h, 100)], frequency }, data, { ...windows, level: [80], fitOptions })
    const share = coverage(cv).GRU['80']
    expect(share).toBeGreaterThanOrEqual(0.7)
    expect(share).toBeLessThanOrEqual(0.9)
  })
})
