'use strict'
// The command line's two kinds of failure and how they end the process: a bad command line (exit status 2, with
// a pointer to --help) and a problem with the input or environment (exit status 1, or the error's own exitCode).

/** A bad command line: exit status 2. */
class UsageError extends Error {
  constructor(message, command) {
    super(message)
    this.name = 'UsageError'
    this.command = command
  }
}

/** A problem with the input or environment the user can fix: exit status 1, no stack trace. */
class InputError extends Error {
  constructor(message) {
    super(message)
    this.name = 'InputError'
  }
}

/** The first line of an error's message (what the command prints). */
function firstLine(err) {
  const message = err && typeof err.message === 'string' ? err.message : String(err)
  return message.split('\n')[0]
}

/**
 * Runs `work(signal)` with Ctrl-C aborting `signal`; an abort ends the command as `interrupted` (exit status 130).
 * @template T
 * @param {(signal: AbortSignal) => Promise<T>} work
 * @returns {Promise<T>}
 */
async function interruptible(work) {
  const controller = new AbortController()
  const onSigint = () => controller.abort()
  process.once('SIGINT', onSigint)
  try {
    return await work(controller.signal)
  } catch (err) {
    if (err && err.name === 'AbortError') {
      const interrupted = new InputError('interrupted')
      interrupted.exitCode = 130
      throw interrupted
    }
    throw err
  } finally {
    process.removeListener('SIGINT', onSigint)
  }
}

module.exports = { UsageError, InputError, firstLine, interruptible }
