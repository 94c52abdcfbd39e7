// Damaged copies of the LSTM directory NeuralForecast 3.3 saved, each with one defect, made in a temporary
// directory: what NeuralForecaster.load must refuse with an Error naming the defect (neuralforecast_interop
// and the bad-input matrix use them).
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const SOURCE = path.join(__dirname, 'fixtures', 'neuralforecast', 'LSTM')
const FILE = 'LSTM_0.safetensors'

/** A safetensors file's header (JSON) and tensor bytes. */
function readSafetensors(file) {
  const bytes = fs.readFileSync(file)
  const length = Number(bytes.readBigUInt64LE(0))
  return { header: JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')), data: bytes.subarray(8 + length) }
}

function writeSafetensors(file, header, data) {
  const text = Buffer.from(JSON.stringify(header), 'utf8')
  const length = Buffer.alloc(8)
  length.writeBigUInt64LE(BigInt(text.length))
  fs.writeFileSync(file, Buffer.concat([length, text, data]))
}

/** A copy of the LSTM directory with `damage(dir)` applied. */
function damaged(damage) {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nd-nf-')), 'LSTM')
  fs.mkdirSync(dir)
  for (const name of fs.readdirSync(SOURCE)) fs.copyFileSync(path.join(SOURCE, name), path.join(dir, name))
  damage(dir)
  return dir
}

/** Rewrites the model file's header with `edit(header)`. */
const header = (edit) => (dir) => {
  const file = path.join(dir, FILE)
  const { header, data } = readSafetensors(file)
  edit(header, data)
  writeSafetensors(file, header, data)
}

/** Rewrites one hyper-parameter. */
const hyperParameter = (key, value) =>
  header((h) => {
    const hp = JSON.parse(h.__metadata__.hyper_parameters)
    hp[key] = value
    h.__metadata__.hyper_parameters = JSON.stringify(hp)
  })

/** [defect, make the directory, what the message must name]. */
const corruptions = [
  ['a missing tensor', header((h) => {
    h['mlp_decoder.layers.9.bias'] = h['mlp_decoder.layers.3.bias']
    delete h['mlp_decoder.layers.3.bias']
  }), /tensor 'mlp_decoder\.layers\.3\.bias' is missing/],
  ['an extra tensor', header((h, data) => {
    h['extra.bias'] = { dtype: 'F32', shape: [0], data_offsets: [data.length, data.length] }
  }), /tensor 'extra\.bias' is not part of LSTM/],
  ['a shape the hyper-parameters disagree with', hyperParameter('encoder_hidden_size', 32), /tensor 'hist_encoder\.weight_ih_l0' has shape \[256, 1\] but the hyper-parameters give \[128, 1\]/],
  ['metadata that is not JSON', header((h) => {
    h.__metadata__.hyper_parameters = '{"h": 12,'
  }), /hyper_parameters is not a JSON object/],
  ['an unknown model class', header((h) => {
    h.__metadata__.model_class = 'Informer'
  }), /model class 'Informer' is not supported/],
  ['a truncated file', (dir) => {
    const file = path.join(dir, FILE)
    const bytes = fs.readFileSync(file)
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 1000))
  }, /LSTM_0\.safetensors.*(truncated|damaged)/],
  ['nf_format other than "2"', (dir) => {
    const file = path.join(dir, 'configuration.json')
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"nf_format": "2"', '"nf_format": "3"'))
  }, /nf_format "3" is not supported/],
  ['no configuration.json', (dir) => fs.rmSync(path.join(dir, 'configuration.json')), /configuration\.json: cannot be read/],
  ['a distribution loss', hyperParameter('loss', { __nf__: 'loss', cls: 'DistributionLoss', args: { distribution: 'Normal' }, state: {} }), /DistributionLoss is not supported yet/],
  ['a custom loss', hyperParameter('loss', { __nf__: 'loss', cls: 'MyLoss', args: {}, state: {} }), /custom loss class 'MyLoss'/],
  ['an optimizer', hyperParameter('optimizer', { __nf__: 'torch_cls', kind: 'optimizer', name: 'SGD' }), /optimizer .* is not supported/],
]

module.exports = { corruptions, damaged, readSafetensors }
