#!/usr/bin/env node
// The `neuro-divergent` command (package.json `bin`). Everything it does is in lib/cli/.
'use strict'

// Piping into `head` closes stdout early: stop quietly instead of failing with EPIPE.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

require('../lib/cli/index.js')
  .main(process.argv.slice(2))
  .then((status) => {
    process.exitCode = status
  })
