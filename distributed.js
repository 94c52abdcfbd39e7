'use strict'
// The `neuro-divergent/distributed` entry point: batch prediction over BullMQ on Redis (lib/distributed/).
// Kept apart from the main entry so that `require('neuro-divergent')` never loads bullmq.

module.exports = require('./lib/distributed/index.js')
