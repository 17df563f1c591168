'use strict'

// Figure 4: load on Vault. The first figure counts the requests sent at
// startup for 20 keys in 2 KV documents, and the second for 1,000 keys.
// The target is the two KV reads plus what auth needs, with nothing per key.
// The third is the requests per minute in steady state at a cache TTL of
// RAGNOS_VAULT_CACHE_TTL_MS, while the program reads its keys every 20 ms.
// The two alternatives' startup requests are counted the same way.

const fs = require('node:fs')
const path = require('node:path')

const { CHILDREN, PACKAGE_DIR } = require('../lib/child')
const { startRelay, countByKind, spawnWithLines } = require('../lib/load')
const { valueFigure } = require('../lib/figure')
const { median, round } = require('../lib/stats')
const { agentBinary, writeAgentConfig } = require('../alternatives/agent')

const STEADY = path.join(CHILDREN, 'steady.js')
const NODE_VAULT_START = path.join(__dirname, '..', 'alternatives', 'node-vault-start.js')

/**
 * Runs the preloader under the relay for windowMs. Returns the startup
 * requests (sent before the program's first line) and those of the
 * steady window (from settleMs after it to the end).
 */
async function preloaderRun(ctx, relay, { set, ttlMs, windowMs, settleMs }) {
  const env = ctx.fixture.env({
    mode: 'vault',
    set,
    addr: relay.addr,
    extra: ttlMs ? { RAGNOS_VAULT_CACHE_TTL_MS: String(ttlMs) } : {}
  })
  const marks = {}
  const begin = relay.requests.length
  const spawnedAt = performance.now()
  const result = await spawnWithLines(process.execPath, ['-r', PACKAGE_DIR, STEADY, JSON.stringify({ windowMs, everyMs: 20 })], {
    env,
    cwd: ctx.fixture.home,
    timeoutMs: windowMs + 60000,
    onLine(line) {
      if (line.ready) {
        marks.ready = relay.requests.length
        marks.readyAt = performance.now()
        if (settleMs < windowMs) {
          setTimeout(() => {
            marks.steadyFrom = relay.requests.length
            marks.steadyAt = Date.now()
          }, settleMs)
        }
      }
      if (line.done) {
        marks.steadyTo = relay.requests.length
        marks.doneAt = Date.now()
      }
    }
  })
  if (result.code !== 0) throw new Error(`steady run exited ${result.code} (${result.signal}): ${result.stderr}`)
  if (marks.ready === undefined) throw new Error(`steady run never printed its ready line: ${result.stderr}`)
  const startup = relay.requests.slice(begin, marks.ready)
  let steady = null
  if (marks.steadyFrom !== undefined && marks.steadyTo !== undefined) {
    const requests = relay.requests.slice(marks.steadyFrom, marks.steadyTo)
    const minutes = (marks.doneAt - marks.steadyAt) / 60000
    steady = { requests: requests.length, windowMs: marks.doneAt - marks.steadyAt, perMinute: round(requests.length / minutes, 1), byKind: countByKind(requests) }
  }
  // When each startup request reached the relay, and when the program's
  // first line was seen, in ms after the spawn.
  const timeline = {
    requestsMs: startup.map((r) => round(r.at - spawnedAt, 1)),
    programRanMs: round(marks.readyAt - spawnedAt, 1)
  }
  return { startup, steady, timeline, stderr: result.stderr.trim() }
}

/** Takes the median of each position over timelines with the same number of requests. */
function medianTimeline(timelines) {
  const same = timelines.filter((t) => t.requestsMs.length === timelines[0].requestsMs.length)
  return {
    requestsMs: timelines[0].requestsMs.map((_, i) => round(median(same.map((t) => t.requestsMs[i])), 1)),
    programRanMs: round(median(same.map((t) => t.programRanMs)), 1),
    runs: same.length
  }
}

async function countRun(relay, command, args, env, cwd) {
  const begin = relay.requests.length
  const result = await spawnWithLines(command, args, { env, cwd, timeoutMs: 60000 })
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
  return relay.requests.slice(begin)
}

function startupFigure(id, name, requests, documents, target, timeline) {
  const byKind = countByKind(requests)
  const kv = byKind['kv read'] || 0
  const others = requests.length - kv - (byKind.auth || 0) - (byKind['mount lookup'] || 0)
  const pass = target ? kv === documents && others === 0 && (byKind.auth || 0) <= 1 && (byKind['mount lookup'] || 0) <= 1 : undefined
  return valueFigure({
    id,
    name,
    unit: 'requests',
    value: requests.length,
    target: target ? `${documents} KV reads + auth, none per key` : undefined,
    pass,
    note:
      Object.entries(byKind)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ') +
      (timeline ? `; they reached the relay ${timeline.requestsMs.join(', ')} ms after the spawn, and the program ran at ${timeline.programRanMs} ms (medians of ${timeline.runs} runs)` : ''),
    detail: { byKind, paths: requests.map((r) => `${r.method} ${r.path.replace(/\?.*$/, '')}`), timeline }
  })
}

async function run(ctx) {
  const { fixture, config } = ctx
  const { ttlMs, windowMs, settleMs } = config.load
  const relay = await startRelay(fixture.bao.addr)
  try {
    const standard = await preloaderRun(ctx, relay, { set: 'standard', ttlMs, windowMs, settleMs })
    // Two more short runs, for a median timeline of the startup requests.
    const timelines = [standard.timeline]
    for (let i = 0; i < 2; i++) timelines.push((await preloaderRun(ctx, relay, { set: 'standard', windowMs: 0, settleMs: 0 })).timeline)
    standard.timeline = medianTimeline(timelines)
    const scale = await preloaderRun(ctx, relay, { set: 'scale', windowMs: 0, settleMs: 0 })

    const nodeVaultEnv = {
      ...fixture.env({ mode: null }),
      VAULT_ADDR: relay.addr,
      VAULT_TOKEN: fixture.bao.token,
      BENCH_KV_PATHS: Object.keys(fixture.apiDocuments()).join(',')
    }
    const nodeVault = await countRun(relay, process.execPath, [NODE_VAULT_START], nodeVaultEnv, fixture.home)

    const agentDir = fixture.tempDir('agent-load-')
    const agentConfig = writeAgentConfig(agentDir, { addr: relay.addr, token: fixture.bao.token, documents: fixture.apiDocuments(), command: [process.execPath, '-e', '0'] })
    const agent = await countRun(relay, agentBinary(), ['agent', `-config=${agentConfig}`, '-log-level=error'], fixture.env({ mode: null }), fixture.home)

    const expectedPerMinute = round((2 * 60000) / ttlMs, 1)
    const steady = standard.steady
    const refreshSeen = steady.requests > 0
    const figures = [
      startupFigure('4.startup', 'preloader startup requests, 20 keys in 2 KV paths', standard.startup, 2, true, standard.timeline),
      startupFigure('4.startup-1000', 'preloader startup requests, 1,000 keys in 2 KV paths', scale.startup, 2, true),
      valueFigure({
        id: '4.steady',
        name: `preloader steady state at RAGNOS_VAULT_CACHE_TTL_MS=${ttlMs}, keys read every 20 ms`,
        unit: 'requests/min',
        value: steady.perMinute,
        target: `about ${expectedPerMinute}/min: 2 documents per TTL (more if refreshed ahead of expiry), nothing per read`,
        note: refreshSeen
          ? Object.entries(steady.byKind)
              .map(([k, n]) => `${n} ${k}`)
              .join(', ') + ` in ${round(steady.windowMs / 1000, 1)} s`
          : `no request in ${round(steady.windowMs / 1000, 1)} s: background refresh is not in this build yet, so the cache is never refreshed; this run measures it for real and will show it when refresh lands`,
        detail: steady
      }),
      startupFigure('4.node-vault', 'alternative: node-vault start script, startup requests', nodeVault, 2, false),
      startupFigure('4.agent', 'alternative: bao agent, startup requests (until the program exits)', agent, 2, false)
    ]
    return { figures }
  } finally {
    await relay.close()
  }
}

module.exports = { run }
