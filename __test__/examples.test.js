// The examples in examples/ run as documented (few training steps here; the numbers are checked for sanity).
const { execFile } = require('node:child_process')
const path = require('node:path')

function runExample(name) {
  return new Promise((resolve, reject) => {
    const file = path.join(__dirname, '..', 'examples', name)
    execFile(process.execPath, [file], { env: { ...process.env, EXAMPLE_STEPS: '20' }, timeout: 60000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${name} failed: ${stderr}`)) : resolve(stdout),
    )
  })
}

test('the trading loop walks forward bar by bar with single-window forecasts', async () => {
  const out = await runExample('trading_loop.js')
  const [, model, naive] = out.match(/model MAE ([\d.]+), last-close MAE ([\d.]+)/)
  expect(Number(naive)).toBeCloseTo(46.6, 1)
  expect(Number.isFinite(Number(model))).toBe(true)
})

test('the global visnights model forecasts every series', async () => {
  const out = await runExample('visnights_global.js')
  expect(out).toMatch(/^20 series, 160 forecasts: MAE [\d.]+, sMAPE [\d.]+ %/)
})

test('the DAX forecast with the other indices as historical exogenous variables updates bar by bar', async () => {
  const out = await runExample('eustock_exogenous.js')
  const [, model, naive] = out.match(/model MAE ([\d.]+), last-close MAE ([\d.]+)/)
  expect(Number(naive)).toBeCloseTo(46.6, 1)
  expect(Number.isFinite(Number(model))).toBe(true)
})
