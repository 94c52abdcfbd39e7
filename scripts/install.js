#!/usr/bin/env node
// Runs on `npm install`: makes sure a native addon for this platform is present.
//
// A prebuilt platform package (neuro-divergent-<platform>) is used as is when one is installed. Otherwise the
// addon is built from the Rust sources shipped in this package with `cargo build --release`, and copied to
// `neuro-divergent.<platform>.node`, the local file that index.js loads first. In a git checkout the build always
// runs (cargo makes it a no-op when nothing changed), so `npm install` and `npm test` never use a stale addon; there
// it goes through the napi CLI, which also regenerates index.js and index.d.ts from the Rust exports.
'use strict'

const { spawnSync } = require('node:child_process')
const { copyFileSync, existsSync, renameSync } = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')

function isMusl() {
  if (process.platform !== 'linux') return false
  const report = process.report && typeof process.report.getReport === 'function' ? process.report.getReport() : null
  return !(report && report.header && report.header.glibcVersionRuntime)
}

/** The platform suffix napi-rs uses in binary and package names, e.g. `linux-x64-gnu`. */
function platformSuffix() {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function hasPrebuiltPackage(suffix) {
  try {
    require.resolve(`neuro-divergent-${suffix}`, { paths: [root] })
    return true
  } catch {
    return false
  }
}

function fail(message) {
  console.error(`neuro-divergent: ${message}`)
  process.exit(1)
}

function cargoAvailable() {
  const probe = spawnSync('cargo', ['--version'], { encoding: 'utf8' })
  return probe.status === 0
}

/** Builds the addon and returns the path of the shared library cargo produced. */
function cargoBuild() {
  const build = spawnSync(
    'cargo',
    ['build', '--release', '--lib', '--features', 'node', '--message-format=json-render-diagnostics'],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 << 20 },
  )
  if (build.error) fail(`could not run cargo: ${build.error.message}`)
  if (build.status !== 0) fail(`cargo build failed (exit code ${build.status}); see the compiler output above`)
  const library = build.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .filter((msg) => msg.reason === 'compiler-artifact' && msg.target && msg.target.name === 'neuro_divergent')
    .flatMap((msg) => msg.filenames)
    .find((file) => /\.(so|dylib|dll)$/.test(file))
  if (!library) fail('cargo build succeeded but produced no shared library for the addon')
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
  })
  if (build.status !== 0) fail(`napi build failed (exit code ${build.status}); see the compiler output above`)
}

function main() {
  const suffix = platformSuffix()
  const isCheckout = existsSync(path.join(root, '.git'))
  if (!isCheckout && hasPrebuiltPackage(suffix)) return
  if (process.env.NEURO_DIVERGENT_SKIP_BUILD) {
    console.error('neuro-divergent: NEURO_DIVERGENT_SKIP_BUILD is set; not building the native addon')
    return
  }
  if (!cargoAvailable()) {
    fail(
      `no prebuilt binary for ${suffix} is installed (looked for the package neuro-divergent-${suffix}) ` +
        'and no Rust toolchain was found to build one from source. Install Rust (https://rustup.rs), ' +
        'then run `npm rebuild neuro-divergent`.',
    )
  }
  const cli = isCheckout && napiCli()
  if (cli) return napiBuild(cli)
  const library = cargoBuild()
  const target = path.join(root, `neuro-divergent.${suffix}.node`)
  // Copy then rename, so that a concurrent `require` never sees a half-written addon.
  const partial = `${target}.partial`
  copyFileSync(library, partial)
  renameSync(partial, target)
}

main()
