'use strict'
// The README's examples are tests (as huggingface/tokenizers runs its documentation's code), so it cannot drift:
//  - ```ts runnable / ```js runnable blocks are type-checked (TypeScript, against main.d.ts) and run with node in a
//    scratch project where `neuro-divergent` resolves to this checkout; they must exit 0;
//  - ```js jest blocks run here, as part of this test file;
//  - the main-job command (the ```sh block with `npx neuro-divergent forecast`) is run and its stdout compared with
//    the ```text block after it, and every `$ neuro-divergent …` line of a ```text block is run and compared with
//    the lines under it (same words; numbers within 5 %, as training differs in the last bits between SIMD paths).
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
const BIN = path.join(ROOT, 'bin', 'neuro-divergent.js')
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')

/** Fenced blocks with their language, flags (the rest of the info string) and starting line. */
const blocks = [...README.matchAll(/^```(\w*)([^\n]*)\n([\s\S]*?)^```[ \t]*$/gm)].map((m) => ({
  lang: m[1],
  flags: m[2].trim().split(/\s+/).filter(Boolean),
  code: m[3],
  line: README.slice(0, m.index).split('\n').length,
}))
const runnable = blocks.filter((b) => ['js', 'ts'].includes(b.lang) && b.flags.includes('runnable'))
const jestBlocks = blocks.filter((b) => b.lang === 'js' && b.flags.includes('jest'))

function run(file, args, cwd) {
  return new Promise((resolve) => {
    const started = Date.now()
    execFile(process.execPath, [file, ...args], { cwd, timeout: 120000, env: { ...process.env, NEURO_DIVERGENT_DEBUG: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr, seconds: (Date.now() - started) / 1000 })
    })
  })
}

/** A block as a CommonJS program: imports first, the rest in an async function (the README uses top-level await). */
function program(block) {
  const lines = block.code.split('\n')
  const imports = lines.filter((l) => /^import\s/.test(l))
  const body = lines.filter((l) => !/^import\s/.test(l))
  return [
    ...imports,
    `// README.md line ${block.line}`,
    ';(async () => {',
    ...body,
    '})().catch((err) => {',
    '  console.error(err)',
    '  process.exit(1)',
    '})',
    ...(block.lang === 'ts' ? ['export {}'] : []),
  ].join('\n')
}

let scratch
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-readme-'))
  fs.mkdirSync(path.join(scratch, 'node_modules'))
  fs.symlinkSync(ROOT, path.join(scratch, 'node_modules', 'neuro-divergent'), 'dir')
})
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))

test('the README has runnable examples in JavaScript and TypeScript, and a Jest example', () => {
  expect(runnable.filter((b) => b.lang === 'ts').length).toBeGreaterThanOrEqual(1)
  expect(runnable.filter((b) => b.lang === 'js').length).toBeGreaterThanOrEqual(1)
  expect(jestBlocks.length).toBeGreaterThanOrEqual(1)
})

describe('runnable README blocks', () => {
  const files = new Map()
  beforeAll(() => {
    const ts = require('typescript')
    runnable.forEach((block, i) => {
      const dir = path.join(scratch, `block${i}`)
      fs.mkdirSync(dir)
      const source = program(block)
      const file = path.join(dir, `example.${block.lang}`)
      fs.writeFileSync(file, source)
      files.set(block, file)
    })
    // Type-check the TypeScript blocks against the package's declarations.
    const tsFiles = runnable.filter((b) => b.lang === 'ts').map((b) => files.get(b))
    const options = {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      types: ['node'],
      typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      skipLibCheck: true,
    }
    const prog = ts.createProgram(tsFiles, options)
    const diagnostics = ts.getPreEmitDiagnostics(prog)
    files.typeErrors = diagnostics.map((d) => {
      const where = d.file ? `${path.basename(path.dirname(d.file.fileName))} ${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : ''
      return where + ts.flattenDiagnosticMessageText(d.messageText, '\n')
    })
    // Transpile them for node.
    for (const file of tsFiles) {
      const out = ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } })
      fs.writeFileSync(file.replace(/\.ts$/, '.js'), out.outputText)
    }
  }, 60000)

  test('TypeScript blocks type-check against main.d.ts', () => {
    expect(files.typeErrors).toEqual([])
  })

  test.each(runnable.map((b) => [`${b.lang} block at README.md line ${b.line}`, b]))('%s runs', async (name, block) => {
    const file = files.get(block).replace(/\.ts$/, '.js')
    const r = await run(file, [], path.dirname(file))
    if (r.code !== 0) throw new Error(`README.md line ${block.line} failed (status ${r.code}):\n${r.stderr}`)
  }, 120000)
})

// The Jest example, with `require('neuro-divergent')` meaning this checkout.
describe('README Jest example', () => {
  for (const block of jestBlocks) {
    const requireHere = (id) => (id === 'neuro-divergent' ? require('..') : require(id))
    // eslint-disable-next-line no-new-func
    new Function('require', 'test', 'expect', 'describe', block.code)(requireHere, test, expect, describe)
  }
})

// ---------------------------------------------------------------------------------------------------------
// Command lines and their printed output

/** Words of two outputs match; numbers within 5 % (or 0.05 absolute near zero). */
function expectSameOutput(actual, expected, what) {
  const words = (s) => s.replace(/\u2026/g, ' ').trim().split(/\s+/).filter(Boolean)
  const a = words(actual)
  const e = words(expected)
  const problems = []
  if (a.length !== e.length) problems.push(`${a.length} words printed, ${e.length} in the README`)
  for (let i = 0; i < Math.min(a.length, e.length); i++) {
    const x = Number(a[i])
    const y = Number(e[i])
    if (a[i] === e[i]) continue
    if (Number.isFinite(x) && Number.isFinite(y) && Math.abs(x - y) <= 0.05 * Math.max(Math.abs(y), 1)) continue
    problems.push(`word ${i}: printed ${JSON.stringify(a[i])}, README ${JSON.stringify(e[i])}`)
    if (problems.length > 5) break
  }
  if (problems.length) throw new Error(`${what} no longer prints what the README shows:\n${problems.join('\n')}\n--- printed:\n${actual}`)
}

test('the main-job command prints the forecast the README shows and writes forecast.csv and forecast.svg', async () => {
  const i = blocks.findIndex((b) => b.lang === 'sh' && /npx neuro-divergent forecast/.test(b.code))
  expect(i).toBeGreaterThanOrEqual(0)
  const command = blocks[i].code.trim()
  const expected = blocks[i + 1]
  expect(expected.lang).toBe('text')
  const args = command.replace(/^npx neuro-divergent\s+/, '').split(/\s+/)
  const dir = fs.mkdtempSync(path.join(scratch, 'main-'))
  const r = await run(BIN, args, dir)
  expect(r.stderr).not.toMatch(/\n\s+at /)
  expect(r.code).toBe(0)
  expectSameOutput(r.stdout, expected.code, command)
  expect(fs.readFileSync(path.join(dir, 'forecast.csv'), 'utf8').split('\n')[0]).toBe('unique_id,ds,LSTM')
  expect(fs.readFileSync(path.join(dir, 'forecast.svg'), 'utf8')).toMatch(/^<svg /)
  console.log(`README main job: ${command} ran in ${r.seconds.toFixed(2)} s`)
  expect(r.seconds).toBeLessThan(30) // about 1.5 s on the 2-core development machine; this only catches gross regressions
}, 120000)

test('every "$ neuro-divergent …" line of the README prints what is shown under it', async () => {
  const sessions = []
  for (const block of blocks.filter((b) => b.lang === 'text')) {
    const lines = block.code.split('\n')
    for (let k = 0; k < lines.length; k++) {
      if (!lines[k].startsWith('$ neuro-divergent ')) continue
      let end = k + 1
      while (end < lines.length && !lines[end].startsWith('$ ')) end++
      sessions.push({ command: lines[k].slice(2), expected: lines.slice(k + 1, end).join('\n'), line: block.line + 1 + k })
    }
  }
  expect(sessions.length).toBeGreaterThanOrEqual(2)
  const dir = fs.mkdtempSync(path.join(scratch, 'sessions-'))
  // the data file the error example names
  fs.writeFileSync(path.join(dir, 'sales.csv'), 'unique_id,ds,y\nshop,2024-01-01,12\nshop,2024-01-02,n/a\n')
  const results = await Promise.all(sessions.map((s) => run(BIN, s.command.split(/\s+/).slice(1), dir)))
  sessions.forEach((s, i) => expectSameOutput(results[i].stdout + results[i].stderr, s.expected, `README.md line ${s.line}: ${s.command}`))
}, 120000)
