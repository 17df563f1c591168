'use strict'

// The process.env Proxy. Every managed key has an entry in `view`, a plain
// object rebuilt from the native snapshot whenever the generation in the
// shared buffer moves. Every other key passes through to the real
// environment object. A read is one comparison, one property lookup and
// one counter increment. It calls into native code only to audit the
// first read of a key, a change of its source, or every read when
// audit_every_read is on.

const util = require('util')
const { SLOTS } = require('./audit')

// The value of an entry that passes the read through to the real
// environment: a key read from env, or one the program wrote itself.
const PASS_THROUGH = undefined

// One managed key: where its reads come from and what they return.
// `value` is a string (served from the cache), null (reads as unset) or
// PASS_THROUGH. `reported` is the source last audited for this key.
function Entry(source, slot, value, reason, reported) {
  this.source = source
  this.slot = slot
  this.value = value
  this.reason = reason
  this.reported = reported
}

function slotOf(source, reason) {
  if (source === 'env') return reason === null ? SLOTS.env : SLOTS.fallback
  return SLOTS[source] === undefined ? SLOTS.env : SLOTS[source]
}

// The Proxy's own target is an empty object, and every trap works on the
// real environment, kept in `env`. After each trap V8 checks the Proxy
// invariants against the target's own properties. On the real
// process.env that check calls Node's interceptors, a getenv(3) scan of
// the environment per read; on an empty, extensible object it finds
// nothing, and since every property the traps report is configurable,
// no invariant can fail.
function createShell(env) {
  const shell = {}
  // util.inspect shows a proxy's target, not the proxy: the empty target
  // hands it the real environment instead.
  Object.defineProperty(shell, util.inspect.custom, {
    value(depth, options) {
      return util.inspect(env, options)
    },
    configurable: true,
    writable: true,
    enumerable: false
  })
  return shell
}

function createEnvProxy(target, native, options = {}) {
  const env = target
  const generation = new Int32Array(native.generationBuffer())
  const reads = options.reads || new Float64Array(SLOTS.count)
  const everyRead = options.everyRead === true
  let seen = -1
  let view = Object.create(null)
  // Keys the program wrote or deleted: its own value wins from then on.
  const overridden = Object.create(null)

  function overrideEntry(previous) {
    const reported = previous === undefined ? null : previous.reported
    return new Entry('override', SLOTS.override, PASS_THROUGH, null, reported)
  }

  function reload() {
    const snapshot = native.snapshot()
    const next = Object.create(null)
    for (let i = 0; i < snapshot.keys.length; i++) {
      const key = snapshot.keys[i]
      const previous = view[key]
      if (overridden[key] === true) {
        next[key] = overrideEntry(previous)
        continue
      }
      const source = snapshot.sources[i]
      const reason = snapshot.reasons[i] == null ? null : snapshot.reasons[i]
      let value = snapshot.values[i]
      if (typeof value !== 'string') value = source === 'hidden' ? null : PASS_THROUGH
      const reported = previous === undefined ? null : previous.reported
      next[key] = new Entry(source, slotOf(source, reason), value, reason, reported)
    }
    view = next
    seen = snapshot.generation
  }

  function current() {
    if (generation[0] !== seen) reload()
    return view
  }

  // Audits a read. A failure here must never break the program's read.
  function report(key, entry) {
    entry.reported = entry.source
    try {
      native.auditRead(key, entry.source, entry.reason === null ? undefined : entry.reason)
    } catch (_) {}
  }

  function override(key) {
    overridden[key] = true
    const entry = view[key]
    if (entry !== undefined && entry.source !== 'override') view[key] = overrideEntry(entry)
  }

  const handler = {
    get(_shell, key) {
      if (typeof key === 'string') {
        const entry = current()[key]
        if (entry !== undefined) {
          reads[entry.slot]++
          if (entry.reported !== entry.source || everyRead) report(key, entry)
          if (entry.value !== PASS_THROUGH) return entry.value === null ? undefined : entry.value
        }
      }
      return env[key]
    },

    has(_shell, key) {
      if (typeof key === 'string') {
        const entry = current()[key]
        if (entry !== undefined && entry.value !== PASS_THROUGH) return entry.value !== null
      }
      return key in env
    },

    ownKeys() {
      const served = current()
      const keys = Reflect.ownKeys(env)
      const result = []
      for (const key of keys) {
        const entry = served[key]
        if (entry === undefined || entry.value !== null) result.push(key)
      }
      for (const key in served) {
        const value = served[key].value
        if (typeof value === 'string' && !Object.prototype.hasOwnProperty.call(env, key)) {
          result.push(key)
        }
      }
      return result
    },

    getOwnPropertyDescriptor(_shell, key) {
      if (typeof key === 'string') {
        const entry = current()[key]
        if (entry !== undefined && entry.value !== PASS_THROUGH) {
          if (entry.value === null) return undefined
          return { value: entry.value, writable: true, enumerable: true, configurable: true }
        }
      }
      return Reflect.getOwnPropertyDescriptor(env, key)
    },

    set(_shell, key, value) {
      if (typeof key === 'string') override(key)
      // The real object coerces to a string and applies Node's side
      // effects, such as the time zone on TZ.
      env[key] = value
      return true
    },

    defineProperty(_shell, key, descriptor) {
      // Throws as Node does for descriptors it rejects, before any change.
      const defined = Reflect.defineProperty(env, key, descriptor)
      if (defined && typeof key === 'string') override(key)
      return defined
    },

    deleteProperty(_shell, key) {
      if (typeof key === 'string') override(key)
      delete env[key]
      return true
    },

    getPrototypeOf() {
      return Object.getPrototypeOf(env)
    },

    setPrototypeOf(_shell, prototype) {
      return Reflect.setPrototypeOf(env, prototype)
    },

    isExtensible() {
      return true
    },

    // The environment always accepts new variables; freezing or sealing it
    // fails with a TypeError, as it does without the preloader.
    preventExtensions() {
      return false
    }
  }

  return new Proxy(createShell(env), handler)
}

module.exports = { createEnvProxy }
