'use strict'

// Delivers the native `rotated` and `killswitch` events to listeners. The
// native queue is process-wide, so only the main thread drains it; the
// timer is unref'd and never keeps the program alive.

const { isMainThread } = require('worker_threads')

const POLL_MS = 250

function createEvents(native) {
  const listeners = { rotated: new Set(), killswitch: new Set() }
  let timer = null
  let reported = false

  function deliver() {
    for (const event of native.takeEvents()) {
      const payload =
        event.name === 'rotated'
          ? { keys: event.keys }
          : { open: event.open, reason: event.reason }
      for (const listener of listeners[event.name] || []) {
        try {
          listener(payload)
        } catch (error) {
          if (!reported) {
            reported = true
            const reason = String(error && error.message).split('\n')[0]
            process.stderr.write(`ragnos-vault: warn: a ${event.name} listener threw (${reason}); later errors are not reported\n`)
          }
        }
      }
    }
  }

  function start() {
    if (timer !== null || !isMainThread) return
    timer = setInterval(deliver, POLL_MS)
    timer.unref()
  }

  return {
    on(name, listener) {
      if (!listeners[name]) throw new TypeError(`unknown event ${JSON.stringify(name)}: expected rotated or killswitch`)
      if (typeof listener !== 'function') throw new TypeError('listener must be a function')
      listeners[name].add(listener)
      start()
    },
    off(name, listener) {
      if (listeners[name]) listeners[name].delete(listener)
    }
  }
}

module.exports = { createEvents }
