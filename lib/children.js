'use strict'

// With `children: "env-only"`, child processes started without an `env`
// option get the real environment instead of the values served from Vault.

const childProcess = require('child_process')
const util = require('util')

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

// Returns a function that calls `original` with `env` patched in, with the
// name and length of `original`.
function wrapSpawner(original, realEnv) {
  const wrapper = function (...args) {
    return original.apply(this, patchArguments(args, realEnv))
  }
  Object.defineProperty(wrapper, 'name', { value: original.name })
  Object.defineProperty(wrapper, 'length', { value: original.length })
  return wrapper
}

function restrictChildren(realEnv) {
  for (const name of SPAWNERS) {
    const original = childProcess[name]
    const wrapper = wrapSpawner(original, realEnv)
    // The promisified forms of exec and execFile call the unwrapped function
    // directly, so they get a wrapper of their own for util.promisify to find.
    const custom = Object.getOwnPropertyDescriptor(original, util.promisify.custom)
    if (custom && typeof custom.value === 'function') {
      const promisified = wrapSpawner(custom.value, realEnv)
      Object.defineProperty(wrapper, util.promisify.custom, Object.assign({}, custom, { value: promisified }))
    }
    childProcess[name] = wrapper
  }
}

module.exports = { restrictChildren }
