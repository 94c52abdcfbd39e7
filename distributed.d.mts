// Types of the ES module entry point of `neuro-divergent/distributed` (distributed.mjs).
import * as distributed from './distributed.js'

export * from './distributed.js'
export default distributed
