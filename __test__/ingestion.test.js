// Large-panel ingestion: typed-array columns with integer series codes, and CSV files read in Rust into a Dataset,
// give exactly the panel that ordinary columns give.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { NeuralForecaster, models, readCsv, Dataset } = require('..')

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-ingest-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** 3 series × 60 integer steps, with an exogenous column, as plain columns. */
function columns() {
  const data = { unique_id: [], ds: [], y: [], price: [] }
  for (const [s, id] of ['a', 'b', 'c'].entries()) {
    for (let t = 0; t < 60; t++) {
      data.unique_id.push(id)
      data.ds.push(t)
      data.y.push(10 + s + Math.sin(t / 3 + s))
      data.price.push(1 + ((t * 7 + s) % 5) / 5)
    }
  }
  return data
}

const model = () => new models.LSTM({ h: 4, inputSize: 8, encoderHiddenSize: 8, decoderHiddenSize: 8, scalerType: 'standard', maxSteps: 20, windowsBatchSize: 16, histExogList: ['price'] })

async function forecastOf(data) {
  const nf = new NeuralForecaster({ models: [model()], numThreads: 1 })
  await nf.fit(data)
  return nf.predict()
}

test('integer series codes with labels give the same forecast as string ids', async () => {
  const plain = columns()
  const codes = Uint32Array.from(plain.unique_id, (id) => ['a', 'b', 'c'].indexOf(id))
  const typed = { unique_id: codes, labels: ['a', 'b', 'c'], ds: Float64Array.from(plain.ds), y: Float64Array.from(plain.y), price: Float64Array.from(plain.price) }
  expect(await forecastOf(typed)).toEqual(await forecastOf(plain))
  const unnamed = await forecastOf({ ...typed, labels: undefined })
  expect(unnamed.unique_id[0]).toBe('0')
  await expect(new NeuralForecaster({ models: [model()] }).fit({ ...typed, unique_id: Int32Array.from(codes, (c) => c - 1) })).rejects.toThrow(/unique_id\[0\] is -1/)
  await expect(new NeuralForecaster({ models: [model()] }).fit({ ...typed, unique_id: plain.unique_id })).rejects.toThrow(/labels names integer unique_id codes/)
})

test('readCsv reads a file into a Dataset that fit, predict and update accept', async () => {
  const plain = columns()
  const lines = ['"unique_id","ds","y","price"', ...plain.y.map((y, i) => `${plain.unique_id[i]},${plain.ds[i]},${y},${plain.price[i]}`)]
  const file = path.join(dir, 'panel.csv')
  fs.writeFileSync(file, lines.slice(0, 1 + 3 * 60).join('\r\n'))
  const dataset = await readCsv(file)
  expect(dataset).toBeInstanceOf(Dataset)
  expect([dataset.nRows, dataset.nSeries, dataset.ids, dataset.exogenous, dataset.frequency]).toEqual([180, 3, ['a', 'b', 'c'], ['price'], '1'])
  expect(await forecastOf(dataset)).toEqual(await forecastOf(plain))

  const nf = new NeuralForecaster({ models: [model()] })
  await nf.fit(dataset)
  const next = path.join(dir, 'next.csv')
  fs.writeFileSync(next, 'unique_id,ds,y,price\na,60,11,1.5\nb,60,12,1.5\nc,60,13,1.5\n')
  nf.update(await readCsv(next))
  expect(nf.futureFrame(1).ds).toEqual([61, 61, 61])
})

test('readCsv options and errors name the file, line and column', async () => {
  const file = path.join(dir, 'shop.csv')
  fs.writeFileSync(file, 'date;units\n2024-01-01;3\n2024-01-02;4\n2024-01-03;n/a\n')
  await expect(readCsv(file, { idCol: null, timeCol: 'date', targetCol: 'units', delimiter: ';' })).rejects.toThrow(/shop\.csv line 4: column "units" has "n\/a", not a finite number/)
  fs.writeFileSync(file, 'date;units\n2024-01-01;3\n2024-01-02;4\n2024-01-03;5\n')
  const shop = await readCsv(file, { idCol: null, timeCol: 'date', targetCol: 'units', delimiter: ';' })
  expect([shop.ids, shop.frequency]).toEqual([['series'], 'D'])
  await expect(readCsv(file)).rejects.toThrow(/no column "unique_id"/)
  await expect(readCsv(path.join(dir, 'missing.csv'))).rejects.toThrow(/missing\.csv/)
  await expect(readCsv(file, { delimiter: ';;' })).rejects.toThrow(RangeError)
  await expect(readCsv(file, { sep: ';' })).rejects.toThrow(/unknown option 'sep'/)
})
