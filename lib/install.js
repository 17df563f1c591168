'use strict'

const { createEnvProxy } = require('./proxy')
const { load } = require('./binding')
const { restrictChildren } = require('./children')
const clone = require('./clone')
const { isLauncher } = require('./launcher')
const { createEvents } = require('./events')
const { createRealmAudit, collectStats, collectStatus } = require('./audit')

function warn(message) {
  process.stderr.write(`ragnos-vault: warn: ${message}\n`)
}

function startNative(native, realEnv) {
  return native.start({
    env: Object.assign({}, realEnv),
    cwd: process.cwd(),
    script: process.argv[1] || undefined
  })
}

function install() {
  const realEnv = process.env
  if (isLauncher(process.argv[1])) return createApi(null, realEnv)
  let native
  try {
    native = load()
  } catch (error) {
    const reason = String(error && error.message).split('\n')[0]
    warn(`native addon failed to load (${reason}); serving environment values`)
    return createApi(null, realEnv)
  }

  // Before startup, so that this realm's first onAudit listener gets the
  // startup events too.
  const audit = createRealmAudit(native)
  const result = startNative(native, realEnv)
  if (result.exitCode != null) process.exit(result.exitCode)
  for (const name of result.scrub) delete realEnv[name]
  if (result.scrub.length > 0) native.eraseCredentials(result.scrub)
  if (!result.active) return createApi(native, realEnv, undefined, undefined, audit)

  const proxy = createEnvProxy(realEnv, native, { reads: audit.reads, everyRead: result.auditEveryRead })
  process.env = proxy
  clone.install(proxy)
  if (result.childrenEnvOnly) restrictChildren(realEnv)
  return createApi(native, realEnv, proxy, result.mode, audit)
}

function createApi(native, realEnv, proxy, mode, audit = createRealmAudit(null)) {
  const events = native ? createEvents(native) : null
  return {
    kill(reason) {
      return native ? native.kill(reason === undefined ? undefined : String(reason)) : false
    },
    revive() {
      return native ? native.revive() : false
    },
    refresh() {
      return native ? native.refresh() : Promise.resolve()
    },
    on(name, listener) {
      if (events) events.on(name, listener)
      return this
    },
    off(name, listener) {
      if (events) events.off(name, listener)
      return this
    },
    status() {
      return collectStatus(native, proxy !== undefined && process.env === proxy, mode || 'off')
    },
    stats() {
      return collectStats(native, audit.reads, audit.hub)
    },
    onAudit(listener) {
      return audit.hub.onAudit(listener)
    },
    settings() {
      return native ? JSON.parse(native.settingsJson()) : null
    },
    uninstall() {
      if (proxy !== undefined && process.env === proxy) process.env = realEnv
    }
  }
}

module.exports = { install }
