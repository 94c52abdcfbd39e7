// NeuralForecast's own model directories (`nf.save(dir)`, nf_format "2"): the eight NeuralForecast 3.3 saved
// load and forecast as NeuralForecast did, what we write has NeuralForecast's layout and loads back exactly, and
// damaged directories are refused with an Error naming the defect.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { NeuralForecaster, models, readCsv } = require('../main.js')
const { cases, panel } = require('./neuralforecast_cases.js')
const { corruptions, damaged, readSafetensors } = require('./neuralforecast_corrupt.js')

const FIXTURES = path.join(__dirname, 'fixtures', 'neuralforecast')
const manifest = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8'))
const fixtures = Object.keys(manifest.models)

/** `expected_forecast.csv`'s forecast columns (after unique_id and ds). */
function expectedForecast(name) {
  const [header, ...rows] = fs.readFileSync(path.join(FIXTURES, name, 'expected_forecast.csv'), 'utf8').trim().split('\n')
  const columns = header.split(',').slice(2)
  const values = rows.map((row) => row.split(',').slice(2).map(Number))
  return Object.fromEntries(columns.map((column, c) => [column, values.map((row) => row[c])]))
}

const tempDir = (name) => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nd-nf-')), name)

describe("NeuralForecast 3.3's directories", () => {
  let train
  beforeAll(async () => {
    train = await readCsv(path.join(FIXTURES, 'train.csv'))
  })

  test.each(fixtures)('%s: load(dir) + predict({ data }) reproduces expected_forecast.csv', async (name) => {
    const forecaster = await NeuralForecaster.load(path.join(FIXTURES, name))
    const forecast = await forecaster.predict({ data: train })
    const expected = expectedForecast(name)
    expect(Object.keys(forecast).filter((k) => k !== 'unique_id' && k !== 'ds')).toEqual(Object.keys(expected))
    for (const [column, values] of Object.entries(expected)) {
      values.forEach((value, i) => {
        const error = Math.abs(forecast[column][i] - value)
        expect(error <= 1e-3 || error <= 1e-4 * Math.abs(value)).toBe(true)
      })
    }
  })

  test.each(fixtures)('%s: saving it again writes the tensors and metadata NeuralForecast wrote', async (name) => {
    const forecaster = await NeuralForecaster.load(path.join(FIXTURES, name))
    const dir = tempDir(name)
    await forecaster.save(dir, { format: 'neuralforecast' })
    const file = fs.readdirSync(path.join(FIXTURES, name)).find((f) => f.endsWith('.safetensors'))
    expect(fs.readdirSync(dir).sort()).toEqual([file, 'configuration.json'].sort())
    const theirs = readSafetensors(path.join(FIXTURES, name, file)).header
    const ours = readSafetensors(path.join(dir, file)).header
    const layout = (header) => Object.entries(header).filter(([k]) => k !== '__metadata__').map(([k, v]) => [k, v.dtype, v.shape]).sort()
    expect(layout(ours)).toEqual(layout(theirs))
    expect(Object.keys(ours.__metadata__).sort()).toEqual(Object.keys(theirs.__metadata__).sort())
    expect(JSON.parse(ours.__metadata__.shared)).toEqual(JSON.parse(theirs.__metadata__.shared))
    expect(ours.__metadata__.model_class).toBe(theirs.__metadata__.model_class)
    // Every constructor argument NeuralForecast wrote is written, with the value it had.
    const [ourHp, theirHp] = [ours, theirs].map((h) => JSON.parse(h.__metadata__.hyper_parameters))
    for (const key of Object.keys(ourHp)) expect([key, ourHp[key]]).toEqual([key, theirHp[key]])
    const configuration = JSON.parse(fs.readFileSync(path.join(dir, 'configuration.json'), 'utf8'))
    const original = JSON.parse(fs.readFileSync(path.join(FIXTURES, name, 'configuration.json'), 'utf8'))
    expect(configuration).toEqual(original)
  })

  test('a loaded directory keeps no history: predict() without data says to give it', async () => {
    const forecaster = await NeuralForecaster.load(path.join(FIXTURES, 'LSTM'))
    await expect(forecaster.predict()).rejects.toThrow(/predict\(\{ data \}\)/)
  })
})

describe('save(dir, { format: "neuralforecast" }) -> load(dir) is exact', () => {
  const { history, futrData, staticData } = panel()

  test.each(Object.keys(cases))('%s', async (name) => {
    const c = cases[name]
    const forecaster = new NeuralForecaster({ models: c.models(), ...(c.options || {}) })
    await forecaster.fit(history, { staticData })
    const dir = tempDir(name)
    await forecaster.save(dir, { format: 'neuralforecast' })
    const loaded = await NeuralForecaster.load(dir)
    const request = { data: history, staticData, futrData }
    expect(await loaded.predict(request)).toEqual(await forecaster.predict(request))
  })
})

describe('writing is atomic and refuses what NeuralForecast cannot hold', () => {
  const { history } = panel()
  let forecaster
  beforeAll(async () => {
    forecaster = new NeuralForecaster({ models: [new models.MLP({ h: 6, inputSize: 12, hiddenSize: 8, maxSteps: 2 })] })
    await forecaster.fit(history)
  })

  test('an existing directory is refused unless overwrite: true, and then replaced whole', async () => {
    const dir = tempDir('out')
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, 'stale.txt'), 'old')
    await expect(forecaster.save(dir, { format: 'neuralforecast' })).rejects.toThrow(/already exists.*overwrite: true/)
    expect(fs.readdirSync(dir)).toEqual(['stale.txt'])
    await forecaster.save(dir, { format: 'neuralforecast', overwrite: true })
    expect(fs.readdirSync(dir).sort()).toEqual(['MLP_0.safetensors', 'configuration.json'])
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['out'])
  })

  test('overwrite: false keeps an existing checkpoint file', async () => {
    const file = tempDir('model.safetensors')
    fs.writeFileSync(file, 'keep me')
    await expect(forecaster.save(file, { overwrite: false })).rejects.toThrow(RangeError)
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me')
  })

  test('an unknown format is a RangeError naming it', async () => {
    await expect(forecaster.save(tempDir('x'), { format: 'onnx' })).rejects.toThrow(/options\.format .*'onnx'/)
  })

  test('Prophet has no NeuralForecast counterpart', async () => {
    const prophet = new NeuralForecaster({ models: [new models.Prophet({ h: 6 })] })
    await prophet.fit(history)
    const dir = tempDir('prophet')
    await expect(prophet.save(dir, { format: 'neuralforecast' })).rejects.toThrow(/Prophet.*no NeuralForecast counterpart/)
    expect(fs.existsSync(dir)).toBe(false)
  })
})

describe('damaged NeuralForecast directories are refused with an Error naming the defect', () => {
  test.each(corruptions)('%s', async (_name, damage, message) => {
    await expect(NeuralForecaster.load(damaged(damage))).rejects.toThrow(message)
  })
})
