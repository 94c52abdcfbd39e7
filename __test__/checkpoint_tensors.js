// The tensors of a safetensors checkpoint (`toBuffer()`), by name: raw little-endian bytes, for bit-exact comparisons.
function tensors(buffer) {
  const headerLength = Number(buffer.readBigUInt64LE(0))
  const header = JSON.parse(buffer.subarray(8, 8 + headerLength).toString('utf8'))
  const data = buffer.subarray(8 + headerLength)
  const out = {}
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue
    out[name] = Buffer.from(data.subarray(info.data_offsets[0], info.data_offsets[1]))
  }
  return out
}

module.exports = { tensors }
