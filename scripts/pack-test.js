#!/usr/bin/env node
// Pack test (`npm run test:pack`): installs the package the way users get it and runs it from CJS, ESM and TS.
//
//  1. `npm pack` the package and check the tarball: the files users need, nothing else (no binaries, tests,
//     benchmarks or data beyond the CLI's example), and report its size.
//  2. Build the platform package neuro-divergent-<platform> from npm/<platform> and the locally built binary, and
//     give the main package the optionalDependencies that `napi prepublish` adds when publishing (one per target,
//     same version), so the install below resolves as it does from the registry.
//  3. In an empty temporary directory: `npm install --offline` of both tarballs (nothing comes from the network;
//     nothing else is needed), with NEURO_DIVERGENT_SKIP_BUILD=1 so that a prebuilt package that does not get
//     used shows up as a failure instead of a silent build from source.
//  4. A CommonJS script, an ES module script and a TypeScript file (compiled with the repository's tsc against the
//     installed types) each fit an LSTM for 20 steps on AirPassengers and forecast 12 months; the three forecasts
//     must be finite and identical.
//  5. Installing the main tarball alone without a Rust toolchain on PATH fails with the clear message.
//  With --from-source, also: the main tarball alone with cargo available builds the addon from the shipped sources
//  (a full release build: minutes) and the CommonJS script runs on it.
//
// Needs the addon built for this platform (`npm install` or `npm run build` in the checkout). No stdin is read;
// works with CI=true. Exit code 0 when every check passes.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const pkg = require('../package.json')
const { platformSuffix, suffixOfTriple } = require('../lib/load.js')

// The criterion benches Cargo.toml declares as [[bench]] targets (benches/<name>.rs).
const declaredBenches = [...fs.readFileSync(path.join(root, 'Cargo.toml'), 'utf8').matchAll(/\[\[bench\]\]\s*name\s*=\s*"([^"]+)"/g)].map(
  (m) => `benches/${m[1]}.rs`,
)
const fromSource = process.argv.includes('--from-source')
const keep = process.argv.includes('--keep')
const suffix = platformSuffix()
const binaryName = `${pkg.napi.binaryName}.${suffix}.node`
const platformPackage = `${pkg.name}-${suffix}`
const fixtures = path.join(root, '__test__', 'fixtures')
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-pack-test-'))
let failures = 0

function step(title) {
  console.log(`\n== ${title}`)
}

function check(ok, message) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${message}`)
  if (!ok) failures++
  return ok
}

/** Runs a command (never through a shell, stdin closed); throws with its output when it fails unless allowFail. */
function run(command, args, { cwd, env = {}, allowFail = false, timeout = 10 * 60 * 1000 } = {}) {
  const result = spawnSync(command, args, {
    cwd,
    env: { ...process.env, CI: 'true', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout,
    maxBuffer: 64 << 20,
  })
  if (!allowFail && (result.error || result.status !== 0)) {
    throw new Error(
      `${command} ${args.join(' ')} (in ${cwd}) failed: ${result.error ? result.error.message : `exit code ${result.status}`}\n` +
        `${result.stdout}\n${result.stderr}`,
    )
  }
  return result
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

/** `npm pack` of a directory into `work`; returns the tarball's path and npm's report of it. */
function pack(dir) {
  const result = run(npm, ['pack', '--json', '--pack-destination', work], { cwd: dir })
  const [report] = JSON.parse(result.stdout.slice(result.stdout.indexOf('[')))
  return { tarball: path.join(work, report.filename), report }
}

function kib(bytes) {
  return `${(bytes / 1024).toFixed(1)} KiB`
}

/** Checks the main tarball's file list against what users need and what must stay out. */
function checkMainTarball(report) {
  const files = report.files.map((f) => f.path)
  console.log(`${report.filename}: ${kib(report.size)} packed, ${kib(report.unpackedSize)} unpacked, ${files.length} files`)
  const required = [
    'package.json',
    'LICENSE',
    'README.md',
    'main.js',
    'main.mjs',
    'main.d.ts',
    'main.d.mts',
    'distributed.js',
    'distributed.mjs',
    'distributed.d.ts',
    'distributed.d.mts',
    'lib/distributed/index.js',
    'index.js',
    'index.d.ts',
    'lib/load.js',
    'scripts/install.js',
    'Cargo.toml',
    'Cargo.lock',
    'build.rs',
    'src/lib.rs',
    ...declaredBenches,
  ]
  for (const file of required) check(files.includes(file), `tarball contains ${file}`)
  const forbidden = [
    [/\.node$/, 'no native binaries (they ship in the platform packages)'],
    [/^(__test__|tests|bench|npm|target|proptest-regressions|\.github|\.ci)\//, 'no tests, JS benchmarks, platform dirs or CI files'],
    // Cargo.toml declares the criterion benches as [[bench]] targets: cargo refuses the manifest without their files.
    [(f) => f.startsWith('benches/') && !declaredBenches.includes(f), 'no bench files beyond those Cargo.toml declares'],
    [/^data\/(?!air_passengers\.csv$)/, 'no data beyond the CLI example data/air_passengers.csv'],
    [/\.(tgz|log|safetensors)$/, 'no stray archives, logs or checkpoints'],
    [/^scripts\/(?!install\.js$)/, 'no development scripts'],
  ]
  for (const [pattern, rule] of forbidden) {
    const offending = files.filter((f) => (typeof pattern === 'function' ? pattern(f) : pattern.test(f)))
    check(offending.length === 0, `${rule}${offending.length ? `: ${offending.join(', ')}` : ''}`)
  }
  check(report.size < 1024 * 1024, `packed size ${kib(report.size)} is under 1 MiB`)
}

/** The main tarball as `napi prepublish` publishes it: optionalDependencies on every platform package. */
function publishedMainTarball(tarball) {
  const dir = path.join(work, 'published-main')
  fs.mkdirSync(dir)
  run('tar', ['-xzf', tarball, '-C', dir])
  const pkgDir = path.join(dir, 'package')
  const manifestPath = path.join(pkgDir, 'package.json')
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'))
  manifest.optionalDependencies = Object.fromEntries(pkg.napi.targets.map((t) => [`${pkg.name}-${suffixOfTriple(t)}`, pkg.version]))
  fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n')
  fs.renameSync(tarball, path.join(work, 'packed-main.tgz'))
  return pack(pkgDir).tarball
}

/** The platform package for this machine, from npm/<platform> and the locally built binary. */
function platformTarball() {
  const built = path.join(root, binaryName)
  if (!fs.existsSync(built)) {
    throw new Error(`${built} is missing: build the addon first (npm install, or npm run build)`)
  }
  const dir = path.join(work, 'platform', suffix)
  fs.mkdirSync(dir, { recursive: true })
  for (const file of fs.readdirSync(path.join(root, 'npm', suffix))) {
    fs.copyFileSync(path.join(root, 'npm', suffix, file), path.join(dir, file))
  }
  fs.copyFileSync(built, path.join(dir, binaryName))
  const { tarball, report } = pack(dir)
  console.log(`${report.filename}: ${kib(report.size)} packed, files: ${report.files.map((f) => f.path).join(', ')}`)
  check(
    report.files.map((f) => f.path).sort().join() === ['README.md', binaryName, 'package.json'].sort().join(),
    'platform package holds its binary, package.json and README only',
  )
  return tarball
}

function emptyApp(name) {
  const dir = path.join(work, name)
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `nd-${name}`, version: '1.0.0', private: true }, null, 2))
  return dir
}

/** Runs a consumer script and checks its forecast; returns the forecast. */
function runConsumer(app, entry, script) {
  const result = run(process.execPath, [script, path.join(fixtures, 'air_passengers.csv')], { cwd: app, allowFail: true })
  if (!check(result.status === 0, `${entry}: fit and predict run`)) {
    console.log(result.stdout, result.stderr)
    return null
  }
  const out = JSON.parse(result.stdout.trim().split('\n').pop())
  check(out.entry === entry && out.steps === 20, `${entry}: 20 training steps`)
  const expectedDs = Array.from({ length: 12 }, (_, i) => `1960-${String(i + 1).padStart(2, '0')}-01`)
  check(JSON.stringify(out.ds) === JSON.stringify(expectedDs), `${entry}: forecast dates 1960-01-01 … 1960-12-01`)
  check(out.forecast.length === 12 && out.forecast.every((v) => Number.isFinite(v) && v > 0 && v < 2000), `${entry}: 12 finite forecasts (${out.forecast[0].toFixed(2)} … ${out.forecast[11].toFixed(2)}, ${out.simd})`)
  return out.forecast
}

function installFromPrebuilt(mainTarball, platform) {
  step(`npm install --offline of both tarballs into an empty directory (${platformPackage})`)
  const app = emptyApp('app')
  const install = run(npm, ['install', '--offline', '--no-audit', '--no-fund', mainTarball, platform], {
    cwd: app,
    env: { NEURO_DIVERGENT_SKIP_BUILD: '1' },
    allowFail: true,
  })
  if (!check(install.status === 0, 'npm install succeeds')) {
    console.log(install.stdout, install.stderr)
    return
  }
  const installed = path.join(app, 'node_modules', pkg.name)
  check(!fs.readdirSync(installed).some((f) => f.endsWith('.node')), 'no binary was built into the main package (the prebuilt package is used)')
  check(fs.existsSync(path.join(app, 'node_modules', platformPackage, binaryName)), `${platformPackage} installed with ${binaryName}`)
  const lock = JSON.parse(fs.readFileSync(path.join(app, 'package-lock.json'), 'utf8'))
  const locked = Object.keys(lock.packages).filter((p) => p.startsWith('node_modules/'))
  check(
    locked.sort().join() === [`node_modules/${pkg.name}`, `node_modules/${platformPackage}`].sort().join(),
    `only the two packages are installed (${locked.join(', ')})`,
  )

  step('the command-line tool from the installed package')
  const bin = path.join(app, 'node_modules', '.bin', process.platform === 'win32' ? 'neuro-divergent.cmd' : 'neuro-divergent')
  if (check(fs.existsSync(bin), 'npm linked the neuro-divergent command')) {
    const info = run(bin, ['info'], { cwd: app, allowFail: true })
    check(info.status === 0 && info.stdout.includes(pkg.version) && info.stdout.includes(path.join('node_modules', pkg.name, 'data', 'air_passengers.csv')), '`neuro-divergent info` runs and finds its example data in the installed package')
    if (info.status !== 0) console.log(info.stdout, info.stderr)
  }

  step('neuro-divergent/distributed without bullmq installed (an optional peer dependency)')
  const probe = [
    "const d = require('neuro-divergent/distributed');",
    "d.predict({ checkpoint: Buffer.alloc(8), data: { unique_id: ['a'], ds: [1], y: [1] }, connection: 'redis://127.0.0.1:1' })",
    '.then(() => console.log("resolved"), (e) => console.log(e.message))',
  ].join(' ')
  const distributed = run(process.execPath, ['-e', probe], { cwd: app, allowFail: true })
  check(
    distributed.status === 0 && distributed.stdout.includes('needs the bullmq package: npm install bullmq'),
    `the entry loads, and a call says to install bullmq (${distributed.stdout.trim() || distributed.stderr.trim().split('\n')[0]})`,
  )

  step('CommonJS, ES module and TypeScript consumers')
  for (const file of ['air_passengers_forecast.cjs', 'consumer.cjs', 'consumer.mjs', 'consumer.ts']) {
    fs.copyFileSync(path.join(fixtures, 'pack', file), path.join(app, file))
  }
  const cjs = runConsumer(app, 'cjs', 'consumer.cjs')
  const esm = runConsumer(app, 'esm', 'consumer.mjs')
  fs.writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: 'ES2022',
        module: 'node16',
        moduleResolution: 'node16',
        outDir: 'dist',
        typeRoots: [path.join(root, 'node_modules', '@types')],
        types: ['node'],
      },
      files: ['consumer.ts'],
    }),
  )
  const compiled = run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app, allowFail: true })
  let ts = null
  if (check(compiled.status === 0, 'tsc compiles consumer.ts against the installed package types')) {
    ts = runConsumer(app, 'ts', path.join('dist', 'consumer.js'))
  } else {
    console.log(compiled.stdout, compiled.stderr)
  }
  if (cjs && esm && ts) {
    check(JSON.stringify(cjs) === JSON.stringify(esm) && JSON.stringify(cjs) === JSON.stringify(ts), 'the three forecasts are identical')
  }
}

/** PATH without the directories that hold cargo or rustc. */
function pathWithoutRust() {
  const exe = process.platform === 'win32' ? '.exe' : ''
  return (process.env.PATH || '')
    .split(path.delimiter)
    .filter((dir) => dir && !fs.existsSync(path.join(dir, `cargo${exe}`)) && !fs.existsSync(path.join(dir, `rustc${exe}`)))
    .join(path.delimiter)
}

function installWithoutToolchain(mainTarball) {
  step('npm install --offline of the main tarball alone, without a Rust toolchain')
  const app = emptyApp('no-toolchain')
  const nodeDir = path.dirname(process.execPath)
  const install = run(npm, ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', mainTarball], {
    cwd: app,
    env: { PATH: [nodeDir, pathWithoutRust()].join(path.delimiter) },
    allowFail: true,
  })
  const output = install.stdout + install.stderr
  check(install.status !== 0, 'the install fails (there is no binary to use)')
  check(output.includes(`Detected platform: ${suffix}`) && output.includes(`Looked for the package ${platformPackage}@${pkg.version}`), 'the message names the platform and the package looked for')
  check(output.includes('no Rust toolchain was found') && output.includes('https://rustup.rs') && output.includes('npm rebuild neuro-divergent'), 'the message says how to build from source')
}

function installFromSource(mainTarball) {
  step('npm install --offline of the main tarball alone, building the addon from the shipped sources')
  const app = emptyApp('from-source')
  const install = run(npm, ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', mainTarball], {
    cwd: app,
    allowFail: true,
    timeout: 30 * 60 * 1000,
  })
  if (!check(install.status === 0, 'npm install builds the addon from source')) {
    console.log(install.stdout, install.stderr)
    return
  }
  check(fs.existsSync(path.join(app, 'node_modules', pkg.name, binaryName)), `${binaryName} built into the installed package`)
  for (const file of ['air_passengers_forecast.cjs', 'consumer.cjs']) fs.copyFileSync(path.join(fixtures, 'pack', file), path.join(app, file))
  runConsumer(app, 'cjs', 'consumer.cjs')
}

function main() {
  console.log(`pack test in ${work} (platform ${suffix}, node ${process.version})`)
  try {
    step('npm pack')
    const { tarball, report } = pack(root)
    checkMainTarball(report)
    const mainTarball = publishedMainTarball(tarball)
    step(`platform package ${platformPackage}`)
    const platform = platformTarball()
    installFromPrebuilt(mainTarball, platform)
    installWithoutToolchain(mainTarball)
    if (fromSource) installFromSource(mainTarball)
  } catch (err) {
    check(false, err.stack || String(err))
  } finally {
    if (keep) console.log(`kept ${work}`)
    else fs.rmSync(work, { recursive: true, force: true })
  }
  console.log(failures === 0 ? '\npack test passed' : `\npack test FAILED: ${failures} check(s)`)
  process.exitCode = failures === 0 ? 0 : 1
}

main()
