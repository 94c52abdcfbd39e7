#!/usr/bin/env node
// Runs on `npm install`: makes sure a native addon for this platform is present.
//
// A prebuilt platform package (neuro-divergent-<platform>, an optional dependency added at publish time) is used
// as is when it is installed, loads, and reports this package's version. Otherwise the addon is built from the Rust
// sources shipped in this package with `cargo build --release --locked` (crates from crates.io only; nothing else
// is downloaded) and copied to `neuro-divergent.<platform>.node`, the local file that index.js loads first. In a
// git checkout the build always runs (cargo makes it a no-op when nothing changed), so `npm install` and `npm test`
// never use a stale addon; there it goes through the napi CLI, which also regenerates index.js and index.d.ts
// from the Rust exports.
//
// `npx neuro-divergent` in a checkout is the exception. npx (`npm exec`, npm_command=exec) installs the checkout
// into its cache (~/.npm/_npx/<hash>, a link back to the checkout) to set up the bin, which runs this script once
// per checkout path, with its output hidden. A napi build there is rarely a no-op: napi recompiles the crate
// whenever its type-definition cache key or the environment differs from the last build (a plain `cargo build`
// in between, a copied target/), about 40 s in release on two cores. So under npx the addon already built in the
// checkout is used as it is when it is newer than every Rust source; otherwise the build runs, announced on the
// terminal, since npm shows the output only when the script fails.
//
// The script never runs npm (so it cannot re-trigger itself), never reads stdin, and a nested run (a build that
// somehow ends up installing this package again) returns at once.
'use strict'

const { spawnSync } = require('node:child_process')
const { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { platformSuffix, publishedPlatforms } = require('../lib/load.js')

const root = path.resolve(__dirname, '..')
const pkg = require('../package.json')
const GUARD = 'NEURO_DIVERGENT_INSTALL_RUNNING'

function log(message) {
  console.error(`neuro-divergent: ${message}`)
}

/**
 * Logs `message` and, when stderr is not a terminal (npm hides a dependency's install output unless it fails),
 * also writes it to the controlling terminal if there is one.
 */
function announce(message) {
  log(message)
  if (process.stderr.isTTY || process.platform === 'win32') return
  try {
    const tty = openSync('/dev/tty', 'w')
    writeSync(tty, `neuro-divergent: ${message}\n`)
    closeSync(tty)
  } catch {
    // no controlling terminal (CI, a detached process): the log line is all there is
  }
}

/** The newest modification time (ms) of the Rust sources the addon is built from, in `dir`. */
function newestSourceTime(dir) {
  let newest = 0
  const visit = (file) => {
    const stat = statSync(file, { throwIfNoEntry: false })
    if (!stat) return
    if (stat.isDirectory()) for (const entry of readdirSync(file)) visit(path.join(file, entry))
    else if (file.endsWith('.rs') || file.endsWith('.toml') || file.endsWith('.lock')) newest = Math.max(newest, stat.mtimeMs)
  }
  for (const entry of ['Cargo.toml', 'Cargo.lock', 'build.rs', 'src']) visit(path.join(dir, entry))
  return newest
}

/** Whether the checkout `dir` holds an addon `binary` built after its last Rust source change. */
function builtAddonIsCurrent(dir, binary) {
  const stat = statSync(path.join(dir, binary), { throwIfNoEntry: false })
  return Boolean(stat) && stat.mtimeMs >= newestSourceTime(dir)
}

function fail(message) {
  log(message)
  process.exit(1)
}

/**
 * The prebuilt package's binary if it is installed, loads in a fresh process and reports this package's version;
 * otherwise null (with the reason logged when it is installed but unusable).
 */
function usablePrebuilt(suffix) {
  const name = `${pkg.name}-${suffix}`
  let entry
  try {
    entry = require.resolve(name, { paths: [root] })
  } catch {
    return null
  }
  const probe = spawnSync(process.execPath, ['-e', `process.stdout.write(String(require(${JSON.stringify(entry)}).version()))`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  if (probe.status !== 0) {
    log(`the prebuilt package ${name} is installed but its binary does not load here:\n${probe.stderr.trim()}`)
    return null
  }
  if (probe.stdout !== pkg.version) {
    log(`the prebuilt package ${name} holds version ${probe.stdout}, this package is ${pkg.version}`)
    return null
  }
  return entry
}

function cargoVersion() {
  const probe = spawnSync('cargo', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return probe.status === 0 ? probe.stdout.trim() : null
}

/** Builds the addon into `targetDir` and returns the path of the shared library cargo produced. */
function cargoBuild(targetDir) {
  const build = spawnSync(
    'cargo',
    ['build', '--release', '--locked', '--lib', '--features', 'node', '--message-format=json-render-diagnostics'],
    {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 256 << 20,
      env: { ...process.env, CARGO_TARGET_DIR: targetDir, [GUARD]: '1' },
    },
  )
  if (build.error) throw new Error(`could not run cargo: ${build.error.message}`)
  if (build.status !== 0) throw new Error(`cargo build failed (exit code ${build.status}); see the compiler output above`)
  const library = build.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .filter((msg) => msg.reason === 'compiler-artifact' && msg.target && msg.target.name === 'neuro_divergent')
    .flatMap((msg) => msg.filenames)
    .find((file) => /\.(so|dylib|dll)$/.test(file))
  if (!library) throw new Error('cargo build succeeded but produced no shared library for the addon')
  return library
}

function napiCli() {
  try {
    const manifest = require.resolve('@napi-rs/cli/package.json', { paths: [root] })
    return path.join(path.dirname(manifest), require(manifest).bin.napi)
  } catch {
    return null
  }
}

function napiBuild(cli) {
  const build = spawnSync(process.execPath, [cli, 'build', '--platform', '--release', '--features', 'node'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, [GUARD]: '1' },
  })
  if (build.status !== 0) fail(`napi build failed (exit code ${build.status}); see the compiler output above`)
}

function main() {
  if (process.env[GUARD]) return // a nested run inside our own build
  const suffix = platformSuffix()
  const isCheckout = existsSync(path.join(root, '.git'))
  if (!isCheckout && usablePrebuilt(suffix)) return
  if (isCheckout && process.env.npm_command === 'exec') {
    const binary = `${pkg.napi.binaryName}.${suffix}.node`
    if (builtAddonIsCurrent(root, binary)) return
    announce(`npx: ${binary} is missing or older than the Rust sources in ${root}; building it first (a minute or more)`)
  }
  if (process.env.NEURO_DIVERGENT_SKIP_BUILD) {
    log('NEURO_DIVERGENT_SKIP_BUILD is set; not building the native addon')
    return
  }
  const published = publishedPlatforms()
  const why = isCheckout
    ? 'building the native addon from source (git checkout)'
    : published.includes(suffix)
      ? `the prebuilt package ${pkg.name}-${suffix} is not installed or not usable (optional dependencies omitted?); building the native addon from source`
      : `no prebuilt binary is published for ${suffix} (prebuilt: ${published.join(', ')}); building the native addon from source`
  const cargo = cargoVersion()
  if (!cargo) {
    fail(
      `${why}, but no Rust toolchain was found (cargo is not on PATH).\n` +
        `  Detected platform: ${suffix}. Looked for the package ${pkg.name}-${suffix}@${pkg.version}.\n` +
        '  Either install with optional dependencies enabled so that the prebuilt package is used, or install Rust ' +
        '(https://rustup.rs) and run `npm rebuild neuro-divergent`.',
    )
  }
  log(`${why} with ${cargo}${isCheckout ? '' : '; this takes a few minutes'}`)
  const cli = isCheckout && napiCli()
  if (cli) return napiBuild(cli)
  // Build outside node_modules (the target directory holds hundreds of MB) and keep only the addon.
  const targetDir = process.env.CARGO_TARGET_DIR || mkdtempSync(path.join(os.tmpdir(), 'neuro-divergent-build-'))
  try {
    const library = cargoBuild(targetDir)
    const target = path.join(root, `${pkg.napi.binaryName}.${suffix}.node`)
    // Copy then rename, so that a concurrent `require` never sees a half-written addon.
    const partial = `${target}.partial`
    copyFileSync(library, partial)
    renameSync(partial, target)
    log(`built ${target}`)
  } catch (err) {
    process.exitCode = 1
    log(err.message)
  } finally {
    if (!process.env.CARGO_TARGET_DIR) rmSync(targetDir, { recursive: true, force: true })
  }
}

if (require.main === module) main()

module.exports = { builtAddonIsCurrent }
