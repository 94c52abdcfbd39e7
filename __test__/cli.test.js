'use strict'
// The `neuro-divergent` command, run as a child process the way users run it.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { parseCsv } = require('../lib/csv.js')
const { createProgress } = require('../lib/progress.js')
const { models } = require('..')

const BIN = path.join(__dirname, '..', 'bin', 'neuro-divergent.js')
const FAST = ['--max-steps', '20', '--threads', '1']
// Models NeuralForecast 3.3 saved with nf.save, read in place (everything written goes to the temporary dir).
const NF_FIXTURES = path.join(__dirname, 'fixtures', 'neuralforecast')
const NF_TRAIN = path.join(NF_FIXTURES, 'train.csv')

/** Runs the command; resolves to { code, stdout, stderr } whatever the exit status. */
function run(args, options = {}) {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: options.cwd, env: { ...process.env, NEURO_DIVERGENT_DEBUG: '' }, timeout: 60000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr })
    })
  })
}

let dir
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-cli-'))
})
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const write = (name, text) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text)
  return file
}

/** A copy of the LSTM that NeuralForecast saved, its safetensors file cut after 1,000 bytes. */
function truncatedNeuralForecastDir() {
  const copy = path.join(dir, 'damaged_nf')
  fs.cpSync(path.join(NF_FIXTURES, 'LSTM'), copy, { recursive: true })
  const file = path.join(copy, 'LSTM_0.safetensors')
  fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 1000))
  return copy
}

/** Rows of a printed forecast table (after the header and rule). */
const tableRows = (stdout) =>
  stdout
    .trim()
    .split('\n')
    .slice(2)
    .map((l) => l.trim().split(/\s+/))

test('the example forecast prints 12 months and writes forecast.csv and forecast.svg', async () => {
  const r = await run(['forecast', '--out', 'forecast.csv', '--plot', 'forecast.svg', ...FAST], { cwd: dir })
  expect(r.stderr).not.toMatch(/\n\s+at /)
  expect(r.code).toBe(0)
  const rows = tableRows(r.stdout)
  expect(rows).toHaveLength(12)
  expect(rows.map((row) => row[1])).toEqual(Array.from({ length: 12 }, (_, i) => `1961-${String(i + 1).padStart(2, '0')}-01`))
  for (const row of rows) {
    expect(row[0]).toBe('AirPassengers')
    expect(Number(row[2])).toBeGreaterThan(100)
  }
  expect(r.stdout.split('\n')[0]).toMatch(/^unique_id\s+ds\s+LSTM$/)
  // progress lines (stderr is a pipe, not a terminal) and notes
  expect(r.stderr).toMatch(/LSTM step \d+\/20 loss [\d.]+/)
  expect(r.stderr).toContain('wrote forecast.csv')

  const csv = parseCsv(fs.readFileSync(path.join(dir, 'forecast.csv'), 'utf8')).records
  expect(csv[0]).toEqual(['unique_id', 'ds', 'LSTM'])
  expect(csv).toHaveLength(13)
  // the CSV has full precision; the table rounds it
  expect(Number(csv[1][2]).toFixed(2)).toBe(rows[0][2])
  const svg = fs.readFileSync(path.join(dir, 'forecast.svg'), 'utf8')
  expect(svg).toMatch(/^<svg /)
  expect(svg).toContain('class="forecast" data-model="LSTM"')
})

test('several models, a CSV with its own column names, CRLF and quoting; --quiet; --out -', async () => {
  const lines = ['"date","sales (units)"']
  for (let t = 0; t < 60; t++) lines.push(`"${new Date(Date.UTC(2024, 0, 1 + t)).toISOString().slice(0, 10)}",${(20 + 5 * Math.sin(t)).toFixed(3)}`)
  const file = write('shop.csv', lines.join('\r\n') + '\r\n')
  const r = await run(['forecast', file, '--time-col', 'date', '--target-col', 'sales (units)', '--model', 'lstm', '--model', 'GRU', '-H', '5', '--quiet', '--out', '-', ...FAST])
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  const csv = parseCsv(r.stdout).records
  expect(csv[0]).toEqual(['unique_id', 'ds', 'LSTM', 'GRU'])
  expect(csv.slice(1).map((row) => row[0])).toEqual(new Array(5).fill('shop'))
  expect(csv[1][1]).toBe('2024-03-01')
  for (const row of csv.slice(1)) expect(Number.isFinite(Number(row[2])) && Number.isFinite(Number(row[3]))).toBe(true)
})

test('--level adds interval columns: conformal for the neural models, Prophet its own; the plot draws bands', async () => {
  const r = await run(['forecast', '--model', 'lstm,prophet', '--level', '80,95', '--out', '-', '--plot', path.join(dir, 'bands.svg'), '--quiet', ...FAST])
  expect(r.code).toBe(0)
  const csv = parseCsv(r.stdout).records
  const names = ['LSTM', 'LSTM-lo-95', 'LSTM-lo-80', 'LSTM-hi-80', 'LSTM-hi-95', 'Prophet', 'Prophet-lo-95', 'Prophet-lo-80', 'Prophet-hi-80', 'Prophet-hi-95']
  expect(csv[0]).toEqual(['unique_id', 'ds', ...names])
  for (const row of csv.slice(1)) {
    const v = Object.fromEntries(names.map((n, i) => [n, Number(row[2 + i])]))
    for (const m of ['LSTM', 'Prophet']) {
      expect(v[`${m}-lo-95`]).toBeLessThanOrEqual(v[`${m}-lo-80`])
      expect(v[`${m}-lo-80`]).toBeLessThanOrEqual(v[m])
      expect(v[m]).toBeLessThanOrEqual(v[`${m}-hi-80`])
      expect(v[`${m}-hi-80`]).toBeLessThanOrEqual(v[`${m}-hi-95`])
    }
  }
  expect(fs.readFileSync(path.join(dir, 'bands.svg'), 'utf8')).toContain('class="band"')
})

test('--save then predict --load gives the same forecast; predict from new data', async () => {
  const model = path.join(dir, 'model.safetensors')
  const fitted = await run(['forecast', '--save', model, '--quiet', ...FAST])
  expect(fitted.code).toBe(0)
  expect(fs.existsSync(model)).toBe(true)
  const loaded = await run(['predict', '--load', model])
  expect(loaded.code).toBe(0)
  expect(loaded.stdout).toBe(fitted.stdout)
  const air = fs.readFileSync(path.join(__dirname, '..', 'data', 'air_passengers.csv'), 'utf8').trim().split('\n')
  const file = write('air_to_1959.csv', air.slice(0, 1 + 132).join('\n'))
  const fromData = await run(['predict', '--load', model, file, '--horizon', '3', '--plot', path.join(dir, 'p.svg')])
  expect(fromData.code).toBe(0)
  expect(tableRows(fromData.stdout).map((row) => row[1])).toEqual(['1960-01-01', '1960-02-01', '1960-03-01'])
  expect(fs.readFileSync(path.join(dir, 'p.svg'), 'utf8')).toContain('class="history"')
})

// NeuralForecast's model directories (issue #20)

/** A CSV as { header, rows } with the value columns as numbers. */
function readForecastCsv(text) {
  const [header, ...rows] = parseCsv(text).records.filter((r) => r.length > 1)
  return { header, rows: rows.map((r) => [r[0], r[1], ...r.slice(2).map(Number)]) }
}

/** Same columns, ids and dates; values within 1e-4 relative (1e-3 absolute near 0), as issue #20 asks. */
function expectSameForecast(actual, expected) {
  expect(actual.header).toEqual(expected.header)
  expect(actual.rows.map((r) => r.slice(0, 2))).toEqual(expected.rows.map((r) => r.slice(0, 2)))
  actual.rows.forEach((row, i) => {
    row.slice(2).forEach((v, j) => {
      const e = expected.rows[i][2 + j]
      expect(Math.abs(v - e)).toBeLessThanOrEqual(Math.max(1e-4 * Math.abs(e), 1e-3))
    })
  })
}

const expectedForecast = (name) => readForecastCsv(fs.readFileSync(path.join(NF_FIXTURES, name, 'expected_forecast.csv'), 'utf8'))

test.each(['LSTM', 'LSTM-MQLoss'])('predict --load %s (a NeuralForecast directory) train.csv prints NeuralForecast\'s forecast', async (name) => {
  const r = await run(['predict', '--load', path.join(NF_FIXTURES, name), NF_TRAIN, '--out', '-'])
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  expectSameForecast(readForecastCsv(r.stdout), expectedForecast(name))
})

test('convert: NeuralForecast directory -> checkpoint -> NeuralForecast directory, each forecasting as NeuralForecast did', async () => {
  const checkpoint = path.join(dir, 'mq.safetensors')
  const toCheckpoint = await run(['convert', path.join(NF_FIXTURES, 'LSTM-MQLoss'), checkpoint])
  expect(toCheckpoint.code).toBe(0)
  expect(toCheckpoint.stdout).toBe('')
  expect(toCheckpoint.stderr).toBe(`wrote ${checkpoint} (a neuro-divergent checkpoint)\n`)
  expect(fs.statSync(checkpoint).isFile()).toBe(true)

  const nfDir = path.join(dir, 'mq_nf')
  const toDir = await run(['convert', checkpoint, nfDir, '--quiet'])
  expect(toDir.stderr).toBe('')
  expect(toDir.code).toBe(0)
  expect(fs.readdirSync(nfDir).sort()).toEqual(['LSTM_0.safetensors', 'configuration.json'])

  const expected = expectedForecast('LSTM-MQLoss')
  for (const model of [checkpoint, nfDir]) {
    const r = await run(['predict', '--load', model, NF_TRAIN, '--out', '-'])
    expect(r.code).toBe(0)
    expectSameForecast(readForecastCsv(r.stdout), expected)
  }
})

test('convert refuses to replace an existing output without --overwrite, and replaces it with', async () => {
  const checkpoint = path.join(dir, 'gru.safetensors')
  const nfDir = path.join(dir, 'gru_nf')
  expect((await run(['convert', path.join(NF_FIXTURES, 'GRU'), checkpoint, '-q'])).code).toBe(0)
  expect((await run(['convert', checkpoint, nfDir, '-q'])).code).toBe(0)
  for (const [input, output] of [[path.join(NF_FIXTURES, 'GRU'), checkpoint], [checkpoint, nfDir]]) {
    const refused = await run(['convert', input, output])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toBe(`neuro-divergent: ${output} exists; pass --overwrite to replace it\n`)
    const replaced = await run(['convert', input, output, '--overwrite', '-q'])
    expect(replaced.stderr).toBe('')
    expect(replaced.code).toBe(0)
  }
  const r = await run(['predict', '--load', nfDir, NF_TRAIN, '--out', '-'])
  expectSameForecast(readForecastCsv(r.stdout), expectedForecast('GRU'))
})

test('an Auto model searches its default space: --samples, --time-budget, a table of the best trials', async () => {
  const r = await run(['forecast', '--model', 'autonlinear', '--samples', '2', '--time-budget', '1m', '--threads', '2', '--out', '-'])
  expect(r.code).toBe(0)
  const csv = parseCsv(r.stdout).records
  expect(csv[0]).toEqual(['unique_id', 'ds', 'AutoNLinear'])
  expect(csv).toHaveLength(13)
  expect(r.stderr).toMatch(/^AutoNLinear: 2 trials; best:$/m)
  expect(r.stderr).toMatch(/^ {2}trial \d {2}valid loss \d+\.\d{4} {2}\d+ steps .*inputSize=\d+/m)
  const misused = await run(['forecast', '--model', 'lstm', '--samples', '2'])
  expect(misused.code).toBe(2)
  expect(misused.stderr).toMatch(/--samples and --time-budget are for Auto models/)
  const badBudget = await run(['forecast', '--model', 'autonlinear', '--time-budget', 'soon'])
  expect(badBudget.stderr).toMatch(/--time-budget must be a duration such as 30s, 2m or 1h, got "soon"/)
}, 120000)

test('--model autotsmixer: a multivariate search takes nSeries from the data', async () => {
  const lines = ['unique_id,ds,y']
  for (const [s, id] of ['a', 'b'].entries()) for (let t = 0; t < 48; t++) lines.push(`${id},${t},${(10 + s + Math.sin(t / 2 + s)).toFixed(4)}`)
  const file = write('two_series.csv', lines.join('\n') + '\n')
  const r = await run(['forecast', file, '--model', 'autotsmixer', '-H', '4', '--samples', '1', '--threads', '2', '--out', '-'])
  expect(r.code).toBe(0)
  const csv = parseCsv(r.stdout).records
  expect(csv[0]).toEqual(['unique_id', 'ds', 'AutoTSMixer'])
  expect(csv.slice(1).map((row) => row[0])).toEqual(['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b'])
  expect(r.stderr).toMatch(/^AutoTSMixer: 1 trials?; best:$/m)
}, 120000)

test('--model auto: an ensemble across families, a line per trial and its members; cv --model auto', async () => {
  // One trial per family, 10 s in all: the quickest family (NLinear) finishes within its share (1.25 s); a slower
  // family's trial stops at the end of its share.
  const r = await run(['forecast', '--model', 'auto', '--samples', '8', '--time-budget', '10s', '--threads', '2', '--out', '-'])
  expect(r.code).toBe(0)
  const csv = parseCsv(r.stdout).records
  expect(csv[0]).toEqual(['unique_id', 'ds', 'AutoEnsemble'])
  expect(csv).toHaveLength(13)
  expect(r.stderr).toMatch(/^trial 1\/8 {2}NLinear {2}valid loss \d+\.\d{4} {2}best so far \d+\.\d{4} \(NLinear\)/m)
  expect(r.stderr).toMatch(/^AutoEnsemble: \d trials( \([^)]*: time budget\))?; members: \w+/m)
  const cv = await run(['cv', '--model', 'auto', '--samples', '8', '--time-budget', '10s', '--n-windows', '2', '--threads', '2', '-q'])
  expect(cv.code).toBe(0)
  expect(cv.stdout).toMatch(/metric +AutoEnsemble/)
  const mixed = await run(['forecast', '--model', 'auto,lstm'])
  expect(mixed.stderr).toMatch(/--model auto \(an ensemble across model families\) is the only model/)
}, 120000)

test('cv prints a metrics table per model', async () => {
  const r = await run(['cv', '--model', 'lstm,gru', '--n-windows', '2', '--quiet', '--out', path.join(dir, 'cv.csv'), ...FAST])
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  const out = r.stdout.trim().split('\n')
  expect(out[0]).toBe('AirPassengers: 2 window(s) × 12 steps, 1 series')
  expect(out[1]).toMatch(/^metric\s+LSTM\s+GRU$/)
  const names = out.slice(3).map((l) => l.split(/\s{2,}/)[0])
  expect(names).toEqual(['MAE', 'MSE', 'RMSE', 'sMAPE %', 'MASE (m=12)'])
  for (const line of out.slice(3)) {
    const cells = line.split(/\s{2,}/)
    expect(Number(cells[1])).toBeGreaterThan(0)
    expect(Number(cells[2])).toBeGreaterThan(0)
  }
  const csv = parseCsv(fs.readFileSync(path.join(dir, 'cv.csv'), 'utf8')).records
  expect(csv[0]).toEqual(['unique_id', 'ds', 'cutoff', 'y', 'LSTM', 'GRU'])
  expect(csv).toHaveLength(1 + 24)
  expect(new Set(csv.slice(1).map((row) => row[2]))).toEqual(new Set(['1958-12-01', '1959-12-01']))
})

test('info, --version and --help for every command', async () => {
  const pkg = require('../package.json')
  const [info, version, top, ...helps] = await Promise.all([
    run(['info']),
    run(['--version']),
    run(['--help']),
    ...['forecast', 'cv', 'predict', 'bench', 'info', 'convert', 'worker'].map((c) => run([c, '--help'])),
  ])
  expect(info.code).toBe(0)
  expect(info.stdout).toMatch(new RegExp(`^version\\s+${pkg.version.replace(/\./g, '\\.')}$`, 'm'))
  expect(info.stdout).toMatch(/^SIMD in use\s+\S+/m)
  expect(info.stdout).toMatch(/^threads\s+\d+ available/m)
  expect(info.stdout).toContain(Object.keys(models).filter((m) => models[m].name === m && !m.startsWith('Auto')).join(', '))
  expect(version.stdout.trim()).toBe(pkg.version)
  expect(top.code).toBe(0)
  expect(top.stdout).toMatch(/^Usage: neuro-divergent <command>/)
  expect(top.stdout).toMatch(/^ {2}convert <in> <out> /m)
  for (const h of helps) {
    expect(h.code).toBe(0)
    expect(h.stdout).toMatch(/^Usage: neuro-divergent (forecast|cv|predict|bench|info|convert|worker)/)
  }
  // the model list comes from the library
  expect(helps[0].stdout).toContain(Object.keys(models).filter((m) => models[m].name === m && !m.startsWith('Auto')).map((m) => m.toLowerCase()).join(', '))
})

test('bench prints a table', async () => {
  const r = await run(['bench', '--model', 'gru', '--threads', '1'])
  expect(r.code).toBe(0)
  const lines = r.stdout.trim().split('\n')
  expect(lines[1]).toMatch(/^model\s+impl\s+fit s\s+step ms\s+predict ms\s+1-window ms\s+b32 windows\/s\s+MAE$/)
  const cells = lines[3].split(/\s{2,}/)
  expect(cells[0]).toBe('GRU')
  for (const c of cells.slice(2)) expect(Number(c.replace(/,/g, ''))).toBeGreaterThan(0)
}, 60000)

describe('bad input exits non-zero with one clear line on stderr and no stack trace', () => {
  const cases = [
    ['a missing file', () => ['forecast', path.join(dir, 'nope.csv')], 1, /^neuro-divergent: file not found: .*nope\.csv$/],
    ['an unknown column', () => ['forecast', write('cols.csv', 'unique_id,date,y\na,2020-01-01,1\n'), '-q'], 1, /has no column "ds" \(columns: "unique_id", "date", "y"\); name the time column with --time-col$/],
    ['an unknown --target-col', () => ['forecast', write('cols2.csv', 'unique_id,ds,y\na,2020-01-01,1\n'), '--target-col', 'sales'], 1, /has no column "sales"/],
    ['a non-numeric y', () => ['forecast', write('nonnum.csv', 'unique_id,ds,y\na,2020-01-01,1\na,2020-01-02,n/a\n')], 1, /^neuro-divergent: nonnum\.csv line 3: target column "y" has "n\/a", not a number$/],
    ['horizon 0', () => ['forecast', '--horizon', '0'], 2, /^neuro-divergent: --horizon must be an integer >= 1, got "0"/],
    ['an unknown model', () => ['forecast', '--model', 'arima'], 2, new RegExp(`unknown model "arima"; available models: ${Object.keys(models).filter((m) => models[m].name === m && !m.startsWith('Auto')).map((m) => m.toLowerCase()).join(', ')}`)],
    ['a level out of range', () => ['forecast', '--level', '80,150'], 2, /^neuro-divergent: --level needs percentages between 0 and 100/],
    ['an unknown option', () => ['forecast', '--bogus'], 2, /^neuro-divergent: unknown option --bogus/],
    ['worker without --redis', () => ['worker'], 2, /^neuro-divergent: --redis redis:\/\/HOST:PORT is required \(see neuro-divergent worker --help\)$/],
    ['worker with a URL that is not redis://', () => ['worker', '--redis', 'http://x'], 1, /^neuro-divergent: cannot start the worker: distributed\.worker: connection must be a redis:\/\/ URL, got "http:\/\/x"$/],
    ['an option without its value', () => ['cv', '--n-windows'], 2, /^neuro-divergent: option --n-windows needs a value/],
    ['an unknown command', () => ['forcast'], 2, /^neuro-divergent: unknown command "forcast"/],
    ['predict without --load', () => ['predict'], 2, /--load model\.safetensors is required/],
    ['a damaged checkpoint', () => ['predict', '--load', write('bad.safetensors', 'not a checkpoint at all')], 1, /^neuro-divergent: cannot load .*bad\.safetensors: .*invalid checkpoint/],
    ['unsorted duplicate ds (library error with the file line)', () => ['forecast', write('dup.csv', 'ds,y\n3,1\n1,2\n2,2\n2,4\n'), '-H', '1', '--input-size', '1', '-q'], 1, /duplicate ds 2 at rows 1 and 2 \(dup\.csv lines 4 and 5\)/],
    ['a series too short', () => ['forecast', write('short.csv', 'ds,y\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n2020-01-04,4\n'), '-q'], 1, /^neuro-divergent: NeuralForecaster\.fit: /],
    ['an unwritable output', () => ['forecast', '--out', path.join(dir, 'no', 'such', 'dir', 'f.csv')], 1, /cannot write .*f\.csv: directory .* does not exist/],
    ['too many windows', () => ['cv', '--n-windows', '30', '-q'], 1, /series 'AirPassengers' has 144 points; 30 window\(s\)/],
    ['predict --load of a NeuralForecast directory without a data file', () => ['predict', '--load', path.join(NF_FIXTURES, 'LSTM')], 2, /^neuro-divergent: .*LSTM is a NeuralForecast model directory, which holds no series: give the data file to forecast from \(see neuro-divergent predict --help\)$/],
    ['convert with one argument', () => ['convert', path.join(NF_FIXTURES, 'LSTM')], 2, /^neuro-divergent: convert needs an input and an output path, got 1 argument\(s\) \(see neuro-divergent convert --help\)$/],
    ['convert with an unknown option', () => ['convert', '--force', 'a', 'b'], 2, /^neuro-divergent: unknown option --force \(see neuro-divergent convert --help\)$/],
    ['convert of a missing input', () => ['convert', path.join(dir, 'nope'), path.join(dir, 'out.safetensors')], 1, /^neuro-divergent: file not found: .*nope$/],
    ['convert to a missing directory', () => ['convert', path.join(NF_FIXTURES, 'LSTM'), path.join(dir, 'no', 'such', 'm.safetensors')], 1, /^neuro-divergent: cannot write .*m\.safetensors: directory .*such does not exist$/],
    ['convert of a NeuralForecast directory onto a directory', () => ['convert', path.join(NF_FIXTURES, 'LSTM'), dir, '--overwrite'], 1, /^neuro-divergent: cannot write .*: it is a directory; the checkpoint is one file$/],
    ['convert of a truncated NeuralForecast file', () => ['convert', truncatedNeuralForecastDir(), path.join(dir, 'from_damaged.safetensors')], 1, /^neuro-divergent: cannot load .*damaged_nf: .*LSTM_0\.safetensors/],
    ['convert of a file that is not a checkpoint', () => ['convert', path.join(NF_FIXTURES, 'train.csv'), path.join(dir, 'from_csv_nf')], 1, /^neuro-divergent: cannot load .*train\.csv: /],
  ]
  let results
  beforeAll(async () => {
    results = await Promise.all(cases.map(([, args]) => run(args())))
  }, 60000)
  test.each(cases.map((c, i) => [c[0], i]))('%s', (name, i) => {
    const [, , code, pattern] = cases[i]
    const r = results[i]
    const lines = r.stderr.split('\n').filter(Boolean)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(pattern)
    expect(lines[0]).toMatch(/^neuro-divergent: /)
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/)
    expect(r.code).toBe(code)
    expect(r.stdout).toBe('')
  })
  test('a convert that fails writes nothing', () => {
    expect(fs.existsSync(path.join(dir, 'from_damaged.safetensors'))).toBe(false)
    expect(fs.existsSync(path.join(dir, 'from_csv_nf'))).toBe(false)
  })
})

describe('progress display', () => {
  const sink = (isTTY) => {
    const chunks = []
    return { isTTY, write: (s) => chunks.push(s), text: () => chunks.join('') }
  }
  test('a bar with step, loss and ETA redrawn in place on a terminal', () => {
    const stream = sink(true)
    let t = 0
    const p = createProgress({ stream, totalSteps: 200, now: () => t })
    t = 1000
    p.onProgress({ model: 0, alias: 'LSTM', step: 50, maxSteps: 100, trainLoss: 0.5 })
    t = 2000
    p.onProgress({ model: 1, alias: 'GRU', step: 50, maxSteps: 100, trainLoss: 0.25, valLoss: 0.3 })
    p.done('fitted')
    const out = stream.text()
    expect(out).toContain('\r\x1b[2KLSTM ██████░░░░░░░░░░░░░░░░░░ 50/100 loss 0.5000 ETA 3.0s')
    expect(out).toContain('\r\x1b[2KGRU ██████████████████░░░░░░ 50/100 loss 0.2500 val 0.3000 ETA 0.7s')
    expect(out.endsWith('\r\x1b[2Kfitted\n')).toBe(true)
  })
  test('plain lines at most every interval (and at each quarter) otherwise; nothing when quiet', () => {
    const stream = sink(false)
    let t = 0
    const p = createProgress({ stream, totalSteps: 1000, intervalMs: 2000, now: () => t })
    for (let step = 1; step <= 1000; step += 1) {
      t = step * 10
      p.onProgress({ model: 0, alias: 'GRU', step, maxSteps: 1000, trainLoss: 1 / step })
    }
    const lines = stream.text().trim().split('\n')
    expect(lines.length).toBeGreaterThanOrEqual(5)
    expect(lines.length).toBeLessThanOrEqual(10)
    expect(lines[0]).toBe('GRU step 1/1000 loss 1.0000 elapsed 0.0s eta 10.0s')
    expect(lines[lines.length - 1]).toMatch(/^GRU step 1000\/1000 .* eta 0\.0s$/)
    expect(stream.text()).not.toContain('\r')
    const quiet = sink(true)
    const q = createProgress({ stream: quiet, quiet: true, totalSteps: 10 })
    q.onProgress({ model: 0, alias: 'GRU', step: 1, maxSteps: 10, trainLoss: 1 })
    q.done('fitted')
    expect(quiet.text()).toBe('')
  })
})
