// NeuralForecast's BiTCN through the public API: defaults, fit and predict, bit-identical results on 1 and 2
// threads, checkpoints, forecastWindow, update, crossValidation, MQLoss and conformal intervals, its exogenous
// variables and the CLI.
const path = require('node:path')
const { execFile } = require('node:child_process')
const { NeuralForecaster, crossValidation, models } = require('../main.js')
const { sinePanel, sineValue, sineForecastMae, weightBytes } = require('./sine_panel.js')
const { linearExogPanel } = require('./linear_exog_panel.js')

const small = (extra = {}) =>
  new models.BiTCN({ h: 6, inputSize: 24, hiddenSize: 16, dropout: 0.1, scalerType: 'standard', maxSteps: 150, windowsBatchSize: 32, learningRate: 0.01, ...extra })

const panel = sinePanel(2, 80)
const truth = sineValue
/** MAE of `column` over the 6 months after the panel, series s0 and s1. */
const mae = (forecast, column) => sineForecastMae(forecast, column, 80, 6)

test('BiTCN holds NeuralForecast 3.3 defaults and validates its options', () => {
  expect(new models.BiTCN({ h: 12, inputSize: 24 })).toMatchObject({
    type: 'BiTCN', hiddenSize: 16, dropout: 0.5, excludeInsampleY: false, scalerType: 'identity',
    windowsBatchSize: 1024, inferenceWindowsBatchSize: 1024, learningRate: 1e-3, maxSteps: 1000,
  })
  expect(() => new models.BiTCN({ h: 12, inputSize: 24, dropout: 1 })).toThrow(/dropout/)
  expect(() => new models.BiTCN({ h: 12, inputSize: 24, hiddenSize: 0 })).toThrow(/hiddenSize/)
  expect(() => new models.BiTCN({ h: 12, inputSize: 24, kernelSize: 3 })).toThrow(/kernelSize/)
})

test('BiTCN has NeuralForecast 3.3\'s 6,013 parameters at h=12, inputSize=24', async () => {
  const nf = new NeuralForecaster({ models: [new models.BiTCN({ h: 12, inputSize: 24, maxSteps: 1 })] })
  expect((await nf.fit(sinePanel(1, 60))).models[0].parameters).toBe(6013)
})

describe('BiTCN', () => {
  const fit = async (numThreads, extra) => {
    const nf = new NeuralForecaster({ models: [small(extra)], numThreads })
    const summary = await nf.fit(panel)
    return { nf, summary, forecast: await nf.predict() }
  }
  const two = fit(2)

  test('forecasts the continuation of the sines', async () => {
    const { forecast } = await two
    expect(mae(forecast, 'BiTCN')).toBeLessThan(0.3)
  })

  test('numThreads 1 and 2 give the same weights and forecasts', async () => {
    const one = await fit(1)
    const { nf, forecast } = await two
    expect(one.forecast.BiTCN).toEqual(forecast.BiTCN)
    expect(weightBytes(await one.nf.toBuffer()).equals(weightBytes(await nf.toBuffer()))).toBe(true)
  })

  test('a checkpoint round trip gives the same forecasts, a window forecast matches predict, update moves on', async () => {
    const { nf, forecast } = await two
    const copy = await NeuralForecaster.fromBuffer(await nf.toBuffer())
    expect((await copy.predict()).BiTCN).toEqual(forecast.BiTCN)
    const window = copy.forecastWindow(panel.y.slice(80 - 24, 80))
    expect(window).toHaveLength(6)
    expect(window[0]).toBeCloseTo(forecast.BiTCN[0], 4)
    // Two more observations of each series: the next forecast starts two steps later and follows the sines.
    const more = { unique_id: ['s0', 's0', 's1', 's1'], ds: [80, 81, 80, 81], y: [truth(0, 80), truth(0, 81), truth(1, 80), truth(1, 81)] }
    nf.update(more)
    const moved = nf.forecastSeries('s0')
    expect(moved.ds[0]).toBe(82)
    expect(moved.BiTCN[0]).toBeCloseTo(nf.forecastWindow([...panel.y.slice(80 - 22, 80), more.y[0], more.y[1]])[0], 4)
    expect(Math.abs(moved.BiTCN[0] - truth(0, 82))).toBeLessThan(0.4)
  })

  test('crossValidation gives a forecast per window', async () => {
    const cv = await crossValidation({ models: [small({ maxSteps: 50 })] }, panel, { nWindows: 2, stepSize: 6 })
    expect(Object.keys(cv)).toEqual(['unique_id', 'ds', 'cutoff', 'y', 'BiTCN'])
    expect(cv.y).toHaveLength(2 * 2 * 6)
    expect(cv.BiTCN.every(Number.isFinite)).toBe(true)
  })

  test('MQLoss gives median and interval columns; conformal intervals surround the forecast', async () => {
    const mq = new NeuralForecaster({ models: [small({ loss: { type: 'MQLoss', level: [80] } })] })
    await mq.fit(panel)
    const f = await mq.predict()
    expect(Object.keys(f)).toEqual(['unique_id', 'ds', 'BiTCN-median', 'BiTCN-lo-80', 'BiTCN-hi-80'])
    expect(mae(f, 'BiTCN-median')).toBeLessThan(0.5)
    for (let i = 0; i < 12; i++) expect(f['BiTCN-lo-80'][i]).toBeLessThan(f['BiTCN-hi-80'][i])
    const conformal = new NeuralForecaster({ models: [small()] })
    await conformal.fit(panel, { predictionIntervals: { nWindows: 3 } })
    const g = await conformal.predict({ level: [80] })
    for (let i = 0; i < 12; i++) {
      expect(g['BiTCN-lo-80'][i]).toBeLessThanOrEqual(g.BiTCN[i])
      expect(g.BiTCN[i]).toBeLessThanOrEqual(g['BiTCN-hi-80'][i])
    }
  })
})

describe('exogenous variables', () => {
  // y_t = 10 + 3 x_t + noise with x known in advance: only a model that sees x can forecast y.
  const { data, future, errorOf } = linearExogPanel({ extra: 'z' })
  const options = { h: 6, inputSize: 12, hiddenSize: 16, dropout: 0, scalerType: 'standard', maxSteps: 300, windowsBatchSize: 64, learningRate: 0.005 }

  test('future variables reach the forecast through the forward-looking TCN', async () => {
    const withX = new NeuralForecaster({ models: [new models.BiTCN({ ...options, futrExogList: ['x'] })] })
    const plain = new NeuralForecaster({ models: [new models.BiTCN(options)] })
    await withX.fit(data)
    await plain.fit(data)
    expect(errorOf(await withX.predict({ futrData: future }), 'BiTCN')).toBeLessThanOrEqual(0.5 * errorOf(await plain.predict(), 'BiTCN'))
  })

  test('historic variables are taken, and windows need their future values', async () => {
    const nf = new NeuralForecaster({ models: [new models.BiTCN({ ...options, maxSteps: 5, histExogList: ['z'], futrExogList: ['x'] })] })
    await nf.fit(data)
    expect((await nf.predict({ futrData: future })).BiTCN.every(Number.isFinite)).toBe(true)
    await expect(nf.predict()).rejects.toThrow(/x/)
  })
})

test('the CLI forecasts with --model bitcn and sets its hiddenSize from --hidden-size', async () => {
  const bin = path.join(__dirname, '..', 'bin', 'neuro-divergent.js')
  const args = ['forecast', '--model', 'bitcn', '--hidden-size', '8', '--max-steps', '5', '--threads', '1', '--out', '-', '--quiet']
  const stdout = await new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, ...args], { timeout: 60000 }, (err, out) => (err ? reject(err) : resolve(out)))
  })
  const [header, ...rows] = stdout.trim().split('\n')
  expect(header.split(',')).toEqual(['unique_id', 'ds', 'BiTCN'])
  expect(rows.length).toBeGreaterThan(0)
  for (const row of rows) for (const value of row.split(',').slice(2)) expect(Number.isFinite(Number(value))).toBe(true)
})
