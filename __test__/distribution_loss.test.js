// NeuralForecast's DistributionLoss (and its mixtures) from JS: LSTM and MLP trained by the Student's t likelihood
// on AirPassengers forecast NeuralForecast's columns (the sample mean, then the quantiles, then the parameters with
// returnParams) with ordered quantiles; counts train a Poisson model; targets outside a distribution's support and
// bad options are named errors; forecasts survive a checkpoint, and their seeded draws do not depend on the thread
// count or on which other series are forecast with a series. The CLI's --loss and evaluate's CRPS read them.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { NeuralForecaster, models, evaluate } = require('../main.js')
const { parseCsv } = require('../lib/csv.js')

const AIR = path.join(__dirname, '..', 'data', 'air_passengers.csv')

function readLongCsv(file) {
  const [, ...lines] = fs.readFileSync(file, 'utf8').trim().split('\n')
  const rows = lines.map((line) => line.trim().split(','))
  return { unique_id: rows.map((r) => r[0]), ds: rows.map((r) => r[1]), y: rows.map((r) => Number(r[2])) }
}

const air = readLongCsv(AIR)
const train = { unique_id: air.unique_id.slice(0, 132), ds: air.ds.slice(0, 132), y: air.y.slice(0, 132) }
const test12 = air.y.slice(132)

const STUDENT_T = { type: 'DistributionLoss', distribution: 'StudentT', level: [80, 90], numSamples: 500 }
const lstm = (loss = STUDENT_T) =>
  new models.LSTM({ h: 12, inputSize: 24, encoderHiddenSize: 32, decoderHiddenSize: 32, maxSteps: 60, scalerType: 'standard', learningRate: 0.01, randomSeed: 2, loss })
const mlp = (loss = STUDENT_T) =>
  new models.MLP({ h: 12, inputSize: 24, hiddenSize: 32, numLayers: 2, maxSteps: 80, scalerType: 'standard', learningRate: 0.005, randomSeed: 2, loss })

async function fitted(model, options = {}, data = train) {
  const nf = new NeuralForecaster({ models: [model], ...options })
  await nf.fit(data)
  return nf
}

const QUANTILE_SUFFIXES = ['-median', '-lo-90', '-lo-80', '-hi-80', '-hi-90']

describe.each([
  ['LSTM', lstm],
  ['MLP', mlp],
])('%s with StudentT on AirPassengers', (name, make) => {
  let nf
  let forecast
  beforeAll(async () => {
    nf = await fitted(make())
    forecast = await nf.predict()
  })

  test('forecasts the sample mean, then the quantiles, in NeuralForecast order, ordered and finite', () => {
    expect(Object.keys(forecast)).toEqual(['unique_id', 'ds', name, ...QUANTILE_SUFFIXES.map((s) => name + s)])
    const column = (suffix) => forecast[name + suffix]
    for (let i = 0; i < 12; i++) {
      for (const suffix of ['', ...QUANTILE_SUFFIXES]) expect(Number.isFinite(column(suffix)[i])).toBe(true)
      expect(column('-lo-90')[i]).toBeLessThan(column('-lo-80')[i])
      expect(column('-lo-80')[i]).toBeLessThan(column('-median')[i])
      expect(column('-median')[i]).toBeLessThan(column('-hi-80')[i])
      expect(column('-hi-80')[i]).toBeLessThan(column('-hi-90')[i])
    }
    // A trained model, not noise: the mean is within the test year's range, near its values.
    const mae = test12.reduce((sum, y, i) => sum + Math.abs(y - forecast[name][i]), 0) / 12
    expect(mae).toBeLessThan(100)
    const scores = evaluate({ y: test12, forecasts: { [name]: forecast[name] }, ...Object.fromEntries(QUANTILE_SUFFIXES.map((s) => [name + s, forecast[name + s]])) }, ['mae', 'crps', 'scaledCrps'])
    expect(scores.overall.crps[name]).toBeGreaterThan(0)
    expect(scores.overall.crps[name]).toBeLessThan(scores.overall.mae[name] * 2)
  })

  test('survives a checkpoint and forecasts the same', async () => {
    const loaded = await NeuralForecaster.fromBuffer(await nf.toBuffer())
    expect(make().loss).toEqual({ ...STUDENT_T, level: [90, 80], returnParams: false })
    expect(await loaded.predict()).toEqual(forecast)
    // NeuralForecast's directory format does not carry a distribution loss yet: refused, nothing written.
    const dir = path.join(os.tmpdir(), `nd-dist-nf-${process.pid}-${name}`)
    await expect(nf.save(dir, { format: 'neuralforecast' })).rejects.toThrow(/distribution loss/)
    expect(fs.existsSync(dir)).toBe(false)
  })
})

test('returnParams appends the distribution parameters in data space', async () => {
  const nf = await fitted(mlp({ ...STUDENT_T, returnParams: true }))
  const forecast = await nf.predict()
  expect(Object.keys(forecast).slice(2)).toEqual(['MLP', ...QUANTILE_SUFFIXES.map((s) => 'MLP' + s), 'MLP-df', 'MLP-loc', 'MLP-scale'])
  for (let i = 0; i < 12; i++) {
    expect(forecast['MLP-df'][i]).toBeGreaterThan(0)
    expect(forecast['MLP-scale'][i]).toBeGreaterThan(0)
    // Data space: the location is on the passengers' scale, near the median of the draws.
    expect(Math.abs(forecast['MLP-loc'][i] - forecast['MLP-median'][i])).toBeLessThan(forecast['MLP-scale'][i])
  }
})

describe('ISQF on AirPassengers', () => {
  const ISQF = { type: 'DistributionLoss', distribution: 'ISQF', level: [80, 90], numPieces: 3, numSamples: 500 }
  const two = {
    unique_id: [...train.unique_id.map(() => 'a'), ...train.unique_id.map(() => 'b')],
    ds: [...train.ds, ...train.ds],
    y: [...train.y, ...train.y.map((v) => v * 0.5 + 20)],
  }
  let one
  let forecast
  // ISQF's loss costs far more than the small MLP (its CRPS's exact gradient takes one pass per input of each
  // knot interval): a fit takes seconds of CPU.
  beforeAll(async () => {
    one = await fitted(mlp(ISQF), { numThreads: 1 }, two)
    forecast = await one.predict()
  }, 120_000)

  test('forecasts the sample mean and ordered, finite quantiles in NeuralForecast columns', () => {
    expect(Object.keys(forecast)).toEqual(['unique_id', 'ds', 'MLP', ...QUANTILE_SUFFIXES.map((s) => 'MLP' + s)])
    expect(forecast.MLP).toHaveLength(24)
    for (let i = 0; i < 24; i++) {
      for (const suffix of ['', ...QUANTILE_SUFFIXES]) expect(Number.isFinite(forecast['MLP' + suffix][i])).toBe(true)
      expect(forecast['MLP-lo-90'][i]).toBeLessThan(forecast['MLP-lo-80'][i])
      expect(forecast['MLP-lo-80'][i]).toBeLessThan(forecast['MLP-median'][i])
      expect(forecast['MLP-median'][i]).toBeLessThan(forecast['MLP-hi-80'][i])
      expect(forecast['MLP-hi-80'][i]).toBeLessThan(forecast['MLP-hi-90'][i])
    }
    // Trained by its CRPS, not noise: series a's mean is near the test year.
    const mae = test12.reduce((sum, y, i) => sum + Math.abs(y - forecast.MLP[i]), 0) / 12
    expect(mae).toBeLessThan(100)
  })

  test('2 threads and a checkpoint give the same bits', async () => {
    const twoThreads = await fitted(mlp(ISQF), { numThreads: 2 }, two)
    expect(await twoThreads.predict()).toEqual(forecast)
    const loaded = await NeuralForecaster.fromBuffer(await one.toBuffer())
    expect(await loaded.predict()).toEqual(forecast)
  }, 120_000)
})

/** Two series of counts (a seeded Poisson-like walk: non-negative integers). */
function countPanel() {
  let state = 7
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648
  const ids = []
  const ds = []
  const y = []
  for (const [id, level] of [['shop_a', 3], ['shop_b', 9]]) {
    for (let t = 0; t < 80; t++) {
      ids.push(id)
      ds.push(t + 1)
      const mean = level * (1 + 0.5 * Math.sin((2 * Math.PI * t) / 7))
      // Inverse-CDF draw of a Poisson(mean).
      let k = 0
      let p = Math.exp(-mean)
      let cdf = p
      const u = next()
      while (u > cdf && k < 100) {
        k++
        p *= mean / k
        cdf += p
      }
      y.push(k)
    }
  }
  return { unique_id: ids, ds, y }
}

describe('Poisson on counts', () => {
  const counts = countPanel()
  const small = (loss) => new models.MLP({ h: 7, inputSize: 14, hiddenSize: 16, maxSteps: 40, learningRate: 0.01, randomSeed: 4, loss })

  test('forecasts non-negative counts whose quantiles are draws', async () => {
    const nf = await fitted(small({ type: 'DistributionLoss', distribution: 'Poisson', level: [80], numSamples: 300 }), {}, counts)
    const forecast = await nf.predict()
    expect(Object.keys(forecast).slice(2)).toEqual(['MLP', 'MLP-median', 'MLP-lo-80', 'MLP-hi-80'])
    for (const column of ['MLP', 'MLP-median', 'MLP-lo-80', 'MLP-hi-80']) {
      for (const v of forecast[column]) expect(v).toBeGreaterThanOrEqual(0)
    }
    // 300 draws: the 10 % and 90 % quantiles fall on (or between two neighbouring) integer draws.
    for (const v of forecast['MLP-lo-80']) expect(Math.abs(v * 10 - Math.round(v * 10))).toBeLessThan(1e-9)
  })

  test('negative or non-integer counts are a RangeError naming the series and ds', async () => {
    for (const [bad, text] of [[-1, 'y = -1'], [2.5, 'y = 2.5']]) {
      const data = { ...counts, y: counts.y.slice() }
      data.y[85] = bad
      const nf = new NeuralForecaster({ models: [small({ type: 'DistributionLoss', distribution: 'Poisson' })] })
      const error = await nf.fit(data).catch((e) => e)
      expect(error).toBeInstanceOf(RangeError)
      expect(error.message).toContain("series 'shop_b'")
      expect(error.message).toContain(text)
      expect(error.message).toContain('ds 6')
    }
  })
})

test('bad options are named errors', () => {
  const make = (loss) => () => new NeuralForecaster({ models: [new models.MLP({ h: 3, inputSize: 6, loss })] })
  expect(make({ type: 'DistributionLoss', distribution: 'Gamma' })).toThrow(/unknown distribution 'Gamma'/)
  expect(make({ type: 'DistributionLoss', distribution: 'Normal', numSample: 10 })).toThrow(/numSample/)
  expect(make({ type: 'DistributionLoss', distribution: 'Tweedie' })).toThrow(/rho is missing/)
  expect(make({ type: 'DistributionLoss', distribution: 'Normal', numSamples: 0 })).toThrow(/numSamples/)
  expect(make({ type: 'DistributionLoss', distribution: 'ISQF', numPieces: 0 })).toThrow(/numPieces/)
  expect(make({ type: 'DistributionLoss', distribution: 'Normal', numPieces: 3 })).toThrow(/numPieces/)
  expect(make({ type: 'DistributionLoss', distribution: 'ISQF', returnParams: true })).toThrow(/ISQF does not support returnParams/)
  expect(make({ type: 'DistributionLoss', distribution: 'ISQF', quantiles: [0.1, 0.1, 0.5] })).toThrow(/quantiles.*distinct/)
  expect(make({ type: 'ISQF' })).toThrow(/distribution: 'ISQF'/)
  expect(make({ type: 'GMM', nComponents: 0 })).toThrow(/GMM|nComponents|component/)
})

test('draws are seeded by the series and cutoff: 1 and 2 threads, and a series alone or with others, give the same bits', async () => {
  const two = {
    unique_id: [...train.unique_id.map(() => 'a'), ...train.unique_id.map(() => 'b')],
    ds: [...train.ds, ...train.ds],
    y: [...train.y, ...train.y.map((v) => v * 0.5 + 20)],
  }
  const make = () => mlp({ ...STUDENT_T, returnParams: true })
  const one = await fitted(make(), { numThreads: 1 }, two)
  const twoThreads = await fitted(make(), { numThreads: 2 }, two)
  const forecast = await one.predict()
  expect(await twoThreads.predict()).toEqual(forecast)
  const b = { unique_id: two.unique_id.slice(132), ds: two.ds.slice(132), y: two.y.slice(132) }
  const alone = await one.predict({ data: b })
  for (const column of Object.keys(alone).slice(2)) expect(alone[column]).toEqual(forecast[column].slice(12))
  // The series are different windows: their draws (and so their forecasts) differ.
  expect(forecast.MLP.slice(0, 12)).not.toEqual(forecast.MLP.slice(12))
})

test('window forecasts and in-sample forecasts carry every column of each point', async () => {
  const nf = await fitted(mlp(), { localScalerType: 'identity' })
  const window = Float64Array.from(train.y.slice(-24))
  const single = nf.forecastWindow(window)
  // 12 steps × (mean + 5 quantiles), point after point; a bare window always draws the same values.
  expect(single).toHaveLength(12 * 6)
  expect(Array.from(nf.forecastWindow(window))).toEqual(Array.from(single))
  for (let step = 0; step < 12; step++) expect(single[step * 6 + 2]).toBeLessThan(single[step * 6 + 5])
  const insample = await nf.predictInsample({ stepSize: 12 })
  expect(Object.keys(insample)).toEqual(['unique_id', 'ds', 'cutoff', 'y', 'MLP', ...QUANTILE_SUFFIXES.map((s) => 'MLP' + s)])
  for (const v of insample['MLP-hi-90']) expect(Number.isFinite(v)).toBe(true)
})

test("evaluate's crps and scaledCrps from the quantile columns", () => {
  // y = 1: pinball 0.1 at q = 0.1 (bound 0) and at q = 0.9 (bound 2), 0 at the median; y = 3: 0.2, 0.1 and 0.5.
  const result = { unique_id: ['a', 'a'], y: [1, 3], M: [1, 2], 'M-lo-80': [0, 1], 'M-hi-80': [2, 4] }
  const scores = evaluate(result, ['crps', 'scaledCrps'])
  expect(scores.overall.crps.M).toBeCloseTo((2 * (0.2 / 3 + 0.8 / 3)) / 2, 12)
  expect(scores.overall.scaledCrps.M).toBeCloseTo((2 * (0.2 / 3 + 0.8 / 3)) / (4 + 1e-5), 12)
})

describe('CLI', () => {
  let dir
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-dist-'))))
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
  const run = (args) =>
    new Promise((resolve) => {
      const bin = path.join(__dirname, '..', 'bin', 'neuro-divergent.js')
      execFile(process.execPath, [bin, ...args], { env: { ...process.env, NEURO_DIVERGENT_DEBUG: '' }, timeout: 60000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr })
      })
    })

  test('--loss studentt --level 50,80,95 forecasts the distribution and plots a fan of bands', async () => {
    const plot = path.join(dir, 'fan.svg')
    const r = await run(['forecast', '--loss', 'studentt', '--level', '50,80,95', '--out', '-', '--plot', plot, '--quiet', '--max-steps', '30', '--threads', '1'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const [header] = parseCsv(r.stdout).records
    expect(header).toEqual(['unique_id', 'ds', 'LSTM', 'LSTM-median', 'LSTM-lo-95', 'LSTM-lo-80', 'LSTM-lo-50', 'LSTM-hi-50', 'LSTM-hi-80', 'LSTM-hi-95'])
    const svg = fs.readFileSync(plot, 'utf8')
    for (const level of [50, 80, 95]) expect(svg).toContain(`data-level="${level}"`)
  })

  test('an unknown --loss is a usage error listing the losses', async () => {
    const r = await run(['forecast', '--loss', 'gamma', '--quiet'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/unknown --loss "gamma"; losses: .*studentt/)
  })
})
