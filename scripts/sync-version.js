#!/usr/bin/env node
// `npm version <x.y.z>` runs this (the `version` script, after `napi version` has set npm/*/package.json): the
// crate's version in Cargo.toml and Cargo.lock follows package.json's, because the addon reports
// CARGO_PKG_VERSION and the loader refuses a binary whose version differs from the package's.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const { version } = require('../package.json')

function replaceOnce(file, pattern, replacement) {
  const full = path.join(root, file)
  const text = fs.readFileSync(full, 'utf8')
  if (!pattern.test(text)) throw new Error(`${file}: no match for ${pattern}`)
  fs.writeFileSync(full, text.replace(pattern, replacement))
}

replaceOnce('Cargo.toml', /^(\[package\][^[]*?\nversion\s*=\s*)"[^"]*"/m, `$1"${version}"`)
replaceOnce('Cargo.lock', /(\[\[package\]\]\nname = "neuro-divergent"\nversion = )"[^"]*"/, `$1"${version}"`)
console.log(`Cargo.toml and Cargo.lock: neuro-divergent ${version}`)
