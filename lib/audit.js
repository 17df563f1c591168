'use strict'

// The audit trail on the JavaScript side: `onAudit` listeners, read
// counters and the `stats()` and `status()` reports.
//
// Native code delivers each audit event, as a JSON line, to a ring of the
// most recent 1024 that every realm (the main thread and each worker)
// reads with its own cursor. A realm polls the ring on an unref'd timer
// while it has listeners, so listeners run asynchronously, in the realm
// that registered them, and never keep the program alive.

const POLL_MS = 100
// Batches read per timer tick, so listeners whose own reads raise events
// cannot keep one tick running.
const MAX_BATCHES_PER_POLL = 8
// How long the exit handler waits for queued events to reach the file.
const EXIT_FLUSH_MS = 1000

// Counter slots of the reads of managed keys, by where they came from.
// `fallback` counts env reads of keys that should have come from Vault.
const SLOTS = { vault: 0, stale: 1, env: 2, fallback: 3, override: 4, hidden: 5, count: 6 }

function firstLine(error) {
  const message = error && error.message !== undefined ? error.message : error
  return String(message).split('\n')[0]
}

// Returns the hub of `onAudit` listeners for this realm. `cursor` is the
// ring position when the package loaded here, so the first listener also
// gets the events since then, such as `startup`.
function createAuditHub(native, cursor) {
  const listeners = []
  const failed = new WeakSet()
  let timer = null
  let backlog = true
  let missed = 0

  function deliver(event) {
    for (const listener of listeners.slice()) {
      try {
        listener(event)
      } catch (error) {
        if (failed.has(listener)) continue
        failed.add(listener)
        process.stderr.write(
          `ragnos-vault: warn: an onAudit listener threw (${firstLine(error)}); its later errors are not reported\n`
        )
      }
    }
  }

  function poll() {
    for (let n = 0; n < MAX_BATCHES_PER_POLL; n++) {
      const batch = native.auditEvents(cursor)
      cursor = batch.next
      missed += batch.missed
      if (batch.events.length === 0) return
      for (const line of batch.events) deliver(Object.freeze(JSON.parse(line)))
      if (listeners.length === 0) return
    }
  }

  function start() {
    if (timer !== null) return
    // Only the first listener of the realm gets the backlog; a listener
    // added after all others left starts from now.
    if (!backlog) cursor = native.auditCursor()
    backlog = false
    timer = setInterval(poll, POLL_MS)
    timer.unref()
  }

  function stop() {
    if (timer === null) return
    clearInterval(timer)
    timer = null
  }

  return {
    onAudit(listener) {
      if (typeof listener !== 'function') throw new TypeError('onAudit expects a function')
      listeners.push(listener)
      start()
      let subscribed = true
      return function unsubscribe() {
        if (!subscribed) return
        subscribed = false
        listeners.splice(listeners.indexOf(listener), 1)
        if (listeners.length === 0) stop()
      }
    },
    missed() {
      return missed
    }
  }
}

// A hub for a realm without the native addon: listeners never fire.
function createIdleHub() {
  return {
    onAudit(listener) {
      if (typeof listener !== 'function') throw new TypeError('onAudit expects a function')
      return function unsubscribe() {}
    },
    missed() {
      return 0
    }
  }
}

// Returns the audit state of one realm: its listener hub and its read
// counters. With the addon loaded, queued events are flushed at exit so
// the last reads reach the audit file.
function createRealmAudit(native) {
  const reads = new Float64Array(SLOTS.count)
  if (!native) return { hub: createIdleHub(), reads }
  const hub = createAuditHub(native, native.auditCursor())
  process.on('exit', () => native.auditFlush(EXIT_FLUSH_MS))
  return { hub, reads }
}

function killSwitchState(native) {
  return {
    state: native.killSwitchOpen ? 'open' : 'closed',
    trigger: native.killSwitchTrigger == null ? null : native.killSwitchTrigger,
    reason: native.killSwitchReason == null ? null : native.killSwitchReason
  }
}

const IDLE_STATS = {
  vaultRequests: 0,
  vaultErrors: 0,
  managedKeys: 0,
  fallbackKeys: 0,
  canaryKeys: 0,
  canaryFromVault: 0,
  auditEmitted: 0,
  auditWritten: 0,
  auditDropped: 0,
  killSwitchOpen: false
}

// Builds `stats()`: reads counted in this realm, the rest process-wide.
function collectStats(native, reads, hub) {
  const counts = native ? native.nativeStats() : IDLE_STATS
  const env = reads[SLOTS.env] + reads[SLOTS.fallback]
  const total = reads[SLOTS.vault] + reads[SLOTS.stale] + env + reads[SLOTS.override] + reads[SLOTS.hidden]
  return {
    reads: {
      vault: reads[SLOTS.vault],
      env,
      stale: reads[SLOTS.stale],
      override: reads[SLOTS.override],
      hidden: reads[SLOTS.hidden],
      total
    },
    cache: {
      hits: reads[SLOTS.vault] + reads[SLOTS.stale],
      misses: reads[SLOTS.fallback] + reads[SLOTS.hidden]
    },
    vault: { requests: counts.vaultRequests, errors: counts.vaultErrors },
    fallbacks: { reads: reads[SLOTS.fallback], keys: counts.fallbackKeys },
    audit: {
      emitted: counts.auditEmitted,
      written: counts.auditWritten,
      dropped: counts.auditDropped,
      missedByListeners: hub.missed()
    },
    killSwitch: killSwitchState(counts),
    canary: {
      keys: counts.canaryKeys,
      fromVault: counts.canaryFromVault,
      hitRate: counts.canaryKeys === 0 ? null : counts.canaryFromVault / counts.canaryKeys
    }
  }
}

// Builds `status()`. It names keys, paths and error kinds, never a value.
function collectStatus(native, active, mode) {
  const status = native ? native.nativeStatus() : null
  return {
    active,
    mode,
    generation: status ? status.generation : 0,
    managedKeys: status ? status.managedKeys : 0,
    paths: status ? status.paths : [],
    loggedIn: status ? status.loggedIn : false,
    lastErrors: status ? status.lastErrors : [],
    killSwitch: status ? killSwitchState(status).state : 'closed'
  }
}

module.exports = { SLOTS, createRealmAudit, collectStats, collectStatus }
