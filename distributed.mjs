// ES module entry point of `neuro-divergent/distributed`: the CommonJS one re-exported (one loaded addon).
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const cjs = require('./distributed.js')

export const { predict, crossValidation, search, worker, version } = cjs
export default cjs
