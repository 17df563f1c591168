'use strict'

// With `children: "env-only"`, child processes started without an `env`
// option get the real environment instead of the values served from Vault.

const childProcess = require('child_process')

const SPAWNERS = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']

function withRealEnv(options, realEnv) {
  if (options && typeof options === 'object' && options.env !== undefined) return options
  return Object.assign({}, options, { env: realEnv })
}

// Puts `env` into the options argument, wherever it sits in the call.
function patchArguments(args, realEnv) {
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]
    if (arg !== null && typeof arg === 'object' && !Array.isArray(arg)) {
      args[i] = withRealEnv(arg, realEnv)
      return args
    }
    if (typeof arg === 'function') {
      args.splice(i, 0, withRealEnv(undefined, realEnv))
      return args
    }
  }
  args.push(withRealEnv(undefined, realEnv))
  return args
}

function restrictChildren(realEnv) {
  for (const name of SPAWNERS) {
    const original = childProcess[name]
    childProcess[name] = function (...args) {
      return original.apply(this, patchArguments(args, realEnv))
    }
  }
}

module.exports = { restrictChildren }
