'use strict'
// Loads the native addon for this machine and checks that it belongs to this release of the package.
//
// The generated `index.js` (napi CLI) does the lookup: the locally built `neuro-divergent.<platform>.node` in the
// package root first, then the prebuilt platform package `neuro-divergent-<platform>` (an optional dependency),
// with glibc and musl told apart at run time on Linux. This module adds what the generated loader leaves out:
//  - when nothing loads, an error that names the detected platform, every place that was looked at and what was
//    found there, and how to get a binary (reinstall the optional dependency, or build from source);
//  - a check that the loaded binary reports this package's version, so that a stale local build or a platform
//    package from another release never runs silently under this package's JavaScript.

const { existsSync, readFileSync } = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const pkg = require('../package.json')

/** 'musl' or 'gnu' for the C library Node itself runs on (Linux only), detected as index.js does. */
function linuxLibc() {
  try {
    const ldd = readFileSync('/usr/bin/ldd', 'utf8')
    if (ldd.includes('musl')) return 'musl'
    if (ldd.includes('GNU C Library') || ldd.includes('glibc')) return 'gnu'
  } catch {
    // no ldd: ask Node's own report below
  }
  const report = process.report && typeof process.report.getReport === 'function' ? process.report.getReport() : null
  if (report && report.header && report.header.glibcVersionRuntime) return 'gnu'
  if (report && Array.isArray(report.sharedObjects) && report.sharedObjects.some((f) => /libc\.musl-|ld-musl-/.test(f))) {
    return 'musl'
  }
  return 'gnu'
}

/**
 * napi-rs's name for this platform, as used in binary and package names: `linux-x64-gnu`, `linux-arm64-musl`,
 * `darwin-arm64`, `win32-x64-msvc`, …
 */
function platformSuffix(platform = process.platform, arch = process.arch, libc = platform === 'linux' ? linuxLibc() : undefined) {
  if (platform === 'linux') return `linux-${arch}-${libc}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

/** The platform suffix of a Rust target triple from package.json's `napi.targets`. */
function suffixOfTriple(triple) {
  const [cpu, , os, abi] = triple.split('-')
  const arch = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32', armv7: 'arm' }[cpu] || cpu
  if (triple.includes('apple-darwin')) return `darwin-${arch}`
  if (triple.includes('windows')) return `win32-${arch}-${triple.split('-').pop()}`
  if (os === 'linux') return `linux-${arch}-${abi}`
  return `${os}-${arch}`
}

/** Platforms a prebuilt package is published for. */
function publishedPlatforms() {
  return ((pkg.napi && pkg.napi.targets) || []).map(suffixOfTriple)
}

function firstLine(err) {
  return String((err && err.message) || err).split('\n')[0]
}

/**
 * The generated loader's error chain (its attempts linked through `cause`, last attempt first) as one line per
 * attempt in the order they were made; its WASI fallbacks are left out, as this package builds no WASI target.
 */
function causeLines(err) {
  const lines = []
  for (let e = err && err.cause, depth = 0; e && depth < 32; e = e.cause, depth++) lines.unshift(firstLine(e))
  return lines.filter((line) => !/wasi/i.test(line))
}

function describePlatform(suffix) {
  const libc = process.platform === 'linux' ? (suffix.endsWith('-musl') ? ', musl libc' : ', glibc') : ''
  return `${suffix} (${process.platform} ${process.arch}${libc}; Node.js ${process.version}, N-API ${process.versions.napi})`
}

/** The error thrown when no binary loads: what was detected, what was looked for and found, how to fix it. */
function notFoundError(cause, suffix = platformSuffix()) {
  const binary = `${pkg.napi.binaryName}.${suffix}.node`
  const localPath = path.join(root, binary)
  const packageName = `${pkg.name}-${suffix}`
  let packageState = 'not installed'
  try {
    const manifest = require.resolve(`${packageName}/package.json`, { paths: [root] })
    const installed = JSON.parse(readFileSync(manifest, 'utf8'))
    packageState = `installed at ${path.dirname(manifest)} (version ${installed.version}) but it did not load`
  } catch {
    // not installed
  }
  const published = publishedPlatforms()
  const lines = [
    `neuro-divergent: could not load the native addon for this platform: ${describePlatform(suffix)}.`,
    'Looked for:',
    `  - a locally built binary ${localPath}: ${existsSync(localPath) ? 'present but it did not load' : 'missing'}`,
    `  - the prebuilt platform package ${packageName}@${pkg.version}: ${packageState}`,
  ]
  if (process.env.NAPI_RS_NATIVE_LIBRARY_PATH) {
    lines.push(`  - NAPI_RS_NATIVE_LIBRARY_PATH=${process.env.NAPI_RS_NATIVE_LIBRARY_PATH} (set in the environment)`)
  }
  const attempts = causeLines(cause)
  if (attempts.length > 0) {
    lines.push('Load attempts:', ...attempts.map((line) => `  - ${line}`))
  }
  lines.push('How to fix:')
  if (published.includes(suffix)) {
    lines.push(
      `  - reinstall so that npm installs the optional dependency ${packageName} (it is skipped by --omit=optional` +
        ' or --no-optional, and by a package-lock.json written on another platform: delete node_modules and' +
        ' package-lock.json, then run npm install again; see https://github.com/npm/cli/issues/4828), or',
    )
  } else {
    lines.push(`  - no prebuilt binary is published for ${suffix} (prebuilt: ${published.join(', ')}), so the binary has to be built here:`)
  }
  lines.push(
    '  - build from source: install a Rust toolchain (https://rustup.rs), then run `npm rebuild neuro-divergent`' +
      ' (in a clone of the repository: `npm run build`, or `cargo build --release --features node` and copy the' +
      ` library to ${binary}).`,
  )
  const error = new Error(lines.join('\n'))
  error.code = 'ERR_NEURO_DIVERGENT_NATIVE_NOT_FOUND'
  error.cause = cause
  return error
}

/** The .node file that the generated loader actually opened (from the module cache). */
function loadedBinaryPath() {
  const prefix = `${pkg.napi.binaryName}.`
  const loaded = Object.keys(require.cache).filter((file) => file.endsWith('.node') && path.basename(file).startsWith(prefix))
  return loaded.length > 0 ? loaded[loaded.length - 1] : process.env.NAPI_RS_NATIVE_LIBRARY_PATH || 'an unknown location'
}

/** Throws unless the binary reports exactly this package's version. */
function checkVersion(native, expected = pkg.version) {
  const actual = typeof native.version === 'function' ? native.version() : undefined
  if (actual === expected) return
  const suffix = platformSuffix()
  const error = new Error(
    `neuro-divergent: version mismatch between the JavaScript package and its native addon: package.json says ` +
      `${expected}, but the binary loaded from ${loadedBinaryPath()} is ` +
      `${actual === undefined ? 'from an older build that does not report its version' : `version ${actual}`}. ` +
      `Reinstall so that ${pkg.name}-${suffix}@${expected} is installed (delete node_modules, then npm install), ` +
      `or rebuild the local binary from source: \`npm rebuild neuro-divergent\` (needs a Rust toolchain, https://rustup.rs).`,
  )
  error.code = 'ERR_NEURO_DIVERGENT_VERSION_MISMATCH'
  error.expectedVersion = expected
  error.actualVersion = actual
  throw error
}

let loaded = null

/** The native binding, loaded once and version-checked. */
function load() {
  if (loaded) return loaded
  let native
  try {
    native = require('../index.js')
  } catch (err) {
    throw notFoundError(err)
  }
  checkVersion(native)
  loaded = native
  return native
}

module.exports = { load, checkVersion, notFoundError, platformSuffix, publishedPlatforms, suffixOfTriple, linuxLibc }
