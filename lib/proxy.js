'use strict'

// The process.env Proxy. Managed keys served from Vault live in `view`, a
// plain object rebuilt from the native snapshot whenever the generation in
// the shared buffer moves; every other key passes through to the real
// environment object. A read is one comparison and one property lookup.

function createEnvProxy(target, native) {
  const generation = new Int32Array(native.generationBuffer())
  let seen = -1
  // key -> string (served from Vault) or null (reads as unset)
  let view = Object.create(null)
  // Keys the program wrote or deleted: its own value wins from then on.
  const overridden = Object.create(null)

  function reload() {
    const snapshot = native.snapshot()
    const next = Object.create(null)
    for (let i = 0; i < snapshot.keys.length; i++) {
      const key = snapshot.keys[i]
      const source = snapshot.sources[i]
      if (overridden[key] === true || source === 'env') continue
      next[key] = source === 'hidden' ? null : snapshot.values[i]
    }
    view = next
    seen = snapshot.generation
  }

  function current() {
    if (generation[0] !== seen) reload()
    return view
  }

  function override(key) {
    overridden[key] = true
    if (view[key] !== undefined) delete view[key]
  }

  const handler = {
    get(env, key) {
      if (typeof key === 'string') {
        const value = current()[key]
        if (value !== undefined) return value === null ? undefined : value
      }
      return env[key]
    },

    has(env, key) {
      if (typeof key === 'string') {
        const value = current()[key]
        if (value !== undefined) return value !== null
      }
      return key in env
    },

    ownKeys(env) {
      const served = current()
      const keys = Reflect.ownKeys(env)
      const result = []
      for (const key of keys) {
        if (served[key] !== null) result.push(key)
      }
      for (const key in served) {
        if (served[key] !== null && !Object.prototype.hasOwnProperty.call(env, key)) {
          result.push(key)
        }
      }
      return result
    },

    getOwnPropertyDescriptor(env, key) {
      if (typeof key === 'string') {
        const value = current()[key]
        if (value === null) return undefined
        if (value !== undefined) {
          return { value, writable: true, enumerable: true, configurable: true }
        }
      }
      return Reflect.getOwnPropertyDescriptor(env, key)
    },

    set(env, key, value) {
      if (typeof key === 'string') override(key)
      // The real object coerces to a string and applies Node's side
      // effects, such as the time zone on TZ.
      env[key] = value
      return true
    },

    defineProperty(env, key, descriptor) {
      // Throws as Node does for descriptors it rejects, before any change.
      const defined = Reflect.defineProperty(env, key, descriptor)
      if (defined && typeof key === 'string') override(key)
      return defined
    },

    deleteProperty(env, key) {
      if (typeof key === 'string') override(key)
      delete env[key]
      return true
    }
  }

  return new Proxy(target, handler)
}

module.exports = { createEnvProxy }
