// Hostile JavaScript: every entry point that takes data survives getters, Proxy traps and element accessors that
// detach, transfer or resize buffers, throw, or change an array's length while it is read, and arrays claiming
// 2^32 − 1 elements, with a clear error (or the right result) instead of a crash. The cases live in
// fixtures/hostile.js; each group of them runs in a child process started with --expose-gc (the getters collect
// garbage after detaching), so that a segfault fails the cases it cut short instead of killing Jest.
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { cases } = require('./fixtures/hostile.js')

jest.setTimeout(120_000)

const RUNNER = path.join(__dirname, 'fixtures', 'hostile.js')
const outcomes = new Map()

/** The outcome of every case of `group`, from one child process (run once per group). */
function groupOutcomes(group) {
  if (!outcomes.has(group)) {
    const child = spawnSync(process.execPath, ['--expose-gc', RUNNER, group], { encoding: 'utf8', timeout: 120_000 })
    const lines = child.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line))
    const died = child.status !== 0 ? `the process ended with status ${child.status}, signal ${child.signal}: ${child.stderr.slice(-2000)}` : undefined
    outcomes.set(group, { byName: new Map(lines.map(({ name, outcome }) => [name, outcome])), died })
  }
  return outcomes.get(group)
}

test.each(cases.map((c) => [c.name, c]))('%s', (name, { group, expect: expected }) => {
  const { byName, died } = groupOutcomes(group)
  expect(died).toBeUndefined()
  expect(byName.get(name)).toMatch(expected)
})

test('every entry point that takes data has cases', () => {
  const groups = new Set(cases.map((c) => c.group.replace(/[:(].*/, '').trim()))
  for (const entry of [
    'Dataset.fromColumns',
    'fit',
    'predict',
    'update',
    'forecastSeries',
    'forecastWindow',
    'forecastWindows',
    'crossValidation',
    'evaluate',
    'coverage',
    'calendarFeatures',
    'plotForecast',
    'readCsv',
    ...Object.keys(require('..').ops)
      .filter((op) => !['poolStats', 'simdInfo', 'setSimdEnabled'].includes(op))
      .map((op) => `ops.${op}`),
  ]) {
    expect(groups).toContain(entry)
  }
})
