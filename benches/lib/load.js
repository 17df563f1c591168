'use strict'

// Vault-load runs: a loopback HTTP relay (__test__/helpers/relay.js) in
// front of the OpenBao server records every request a child sends.

const { spawn } = require('node:child_process')

const { startRelay: startPlainRelay } = require('../../__test__/helpers/relay')

/**
 * Starts the test relay and adds each request's arrival time
 * (performance.now()) to the record that the relay pushes per request.
 */
async function startRelay(targetAddr) {
  const relay = await startPlainRelay(targetAddr)
  relay.requests.push = function (...records) {
    for (const record of records) record.at = performance.now()
    return Array.prototype.push.apply(this, records)
  }
  return relay
}

/** Sorts a request path into the kind of work it does. */
function classify(requestPath) {
  const p = requestPath.split('?')[0]
  if (p.startsWith('/v1/auth/')) return 'auth'
  if (p.startsWith('/v1/sys/internal/ui/mounts')) return 'mount lookup'
  if (p.startsWith('/v1/sys/')) return 'sys'
  return 'kv read'
}

function countByKind(requests) {
  const counts = {}
  for (const r of requests) {
    const kind = classify(r.path)
    counts[kind] = (counts[kind] || 0) + 1
  }
  return counts
}

/**
 * Spawns `command args`, calling onLine(json, elapsedMs) for each JSON line
 * it prints. Resolves to { code, signal, stderr } when it exits; kills it
 * after timeoutMs.
 */
function spawnWithLines(command, args, { env, cwd, timeoutMs, onLine = () => {} }) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let pending = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout.on('data', (chunk) => {
      pending += chunk.toString('utf8')
      const lines = pending.split('\n')
      pending = lines.pop()
      for (const line of lines) {
        let parsed = null
        try {
          parsed = JSON.parse(line)
        } catch (_) {
          continue
        }
        onLine(parsed)
      }
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk.toString('utf8')
      if (stderr.length > 65536) stderr = stderr.slice(-65536)
    })
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stderr })
    })
  })
}

module.exports = { startRelay, classify, countByKind, spawnWithLines }
