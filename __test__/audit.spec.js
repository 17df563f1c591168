'use strict'

// The audit trail as users run it: `node -r` with an audit file, read back
// line by line, and onAudit listeners in the program and its workers.

const fs = require('node:fs')
const path = require('node:path')
const net = require('node:net')
const test = require('ava')
const { withOpenBao } = require('./helpers/openbao')
const { runNode, parseJsonOutput, freeDir, REPO_ROOT } = require('./helpers/run')

const VAULT = {
  OPENAI_API_KEY: 'sk-vault-audit-3e81',
  GITHUB_TOKEN: 'ghp-vault-audit-77c0',
  STRIPE_SECRET: 'stripe-vault-audit-0a9d'
}
const ENV = {
  OPENAI_API_KEY: 'sk-env-audit-5b12',
  GITHUB_TOKEN: VAULT.GITHUB_TOKEN,
  LOCAL_ONLY_TOKEN: 'env-only-audit-c4f6'
}
const SECRETS = [...Object.values(VAULT), ...Object.values(ENV)]
const COMMON_FIELDS = ['time', 'pid', 'event', 'key', 'source', 'mode', 'reason', 'latency_ms']
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/audit', VAULT)
  }
})

function closedPort() {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

// Runs `code` under the preloader with an audit file; resolves to the
// result and the parsed audit lines.
async function audited(t, code, env = {}, options = {}) {
  const dir = freeDir('ragnos-audit-')
  const log = path.join(dir, 'audit.jsonl')
  const result = await runNode({
    eval: code,
    env: {
      ...t.context.bao.clientEnv(),
      RAGNOS_VAULT_APP: 'audit',
      RAGNOS_VAULT_MODE: 'vault',
      RAGNOS_VAULT_AUDIT_LOG: log,
      ...env
    },
    ...options
  })
  const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : ''
  const lines = text === '' ? [] : text.trimEnd().split('\n')
  return { result, log, text, events: lines.map((line) => JSON.parse(line)) }
}

function named(events, name, key) {
  return events.filter((e) => e.event === name && (key === undefined || e.key === key))
}

function assertNoSecrets(t, text, where) {
  for (const secret of SECRETS) {
    t.false(text.includes(secret), `${where} contains ${secret.slice(0, 8)}...`)
  }
}

test('audit file holds one JSON object per line with the common fields', async (t) => {
  const { result, log, text, events } = await audited(
    t,
    'process.env.OPENAI_API_KEY; process.env.GITHUB_TOKEN',
    ENV
  )
  t.is(result.code, 0, result.stderr)
  t.is(fs.statSync(log).mode & 0o777, 0o600)
  t.true(text.endsWith('\n'))
  for (const event of events) {
    t.deepEqual(Object.keys(event).slice(0, COMMON_FIELDS.length), COMMON_FIELDS)
    t.regex(event.time, RFC3339)
    t.is(event.mode, 'vault')
    t.is(typeof event.pid, 'number')
  }
  t.is(new Set(events.map((e) => e.pid)).size, 1)
  const names = events.map((e) => e.event)
  for (const name of ['login', 'fetch', 'startup', 'read']) {
    t.true(names.includes(name), `no ${name} event in ${names.join(', ')}`)
  }
  assertNoSecrets(t, text, 'the audit file')
})

test('startup event sums up mode, canary and counts', async (t) => {
  const { events } = await audited(t, '0', { ...ENV, RAGNOS_VAULT_MODE: 'dual', RAGNOS_VAULT_CANARY_PERCENT: '40' })
  const [startup] = named(events, 'startup')
  t.is(startup.mode, 'dual')
  t.is(startup.reason, 'ok')
  t.is(startup.canary_percent, 40)
  t.is(startup.keys, 4)
  t.is(startup.paths, 2)
  t.is(typeof startup.latency_ms, 'number')
  const [login] = named(events, 'login')
  t.is(login.reason, 'ok')
  const fetches = named(events, 'fetch')
  t.deepEqual(fetches.map((e) => e.path).sort(), ['secret/mcp/audit', 'secret/mcp/shared'])
  t.true(fetches.every((e) => e.reason === 'new' && e.latency_ms >= 0))
})

test('reads are audited once per key and per change of source', async (t) => {
  const { events } = await audited(
    t,
    `for (let i = 0; i < 5; i++) process.env.OPENAI_API_KEY
     process.env.OPENAI_API_KEY = 'written-by-app'
     for (let i = 0; i < 3; i++) process.env.OPENAI_API_KEY
     delete process.env.GITHUB_TOKEN
     process.env.GITHUB_TOKEN`,
    ENV
  )
  const reads = named(events, 'read', 'OPENAI_API_KEY')
  t.deepEqual(reads.map((e) => e.source), ['vault', 'override'])
  t.deepEqual(named(events, 'read', 'GITHUB_TOKEN').map((e) => e.source), ['override'])
})

test('audit_every_read audits each read', async (t) => {
  const { events } = await audited(t, 'for (let i = 0; i < 7; i++) process.env.OPENAI_API_KEY', {
    ...ENV,
    RAGNOS_VAULT_AUDIT_EVERY_READ: 'true'
  })
  t.is(named(events, 'read', 'OPENAI_API_KEY').length, 7)
})

test('shadow comparisons carry HMACs and never values', async (t) => {
  const { text, events } = await audited(t, '0', { ...ENV, RAGNOS_VAULT_MODE: 'shadow' })
  const outcome = (key) => named(events, 'shadow', key)[0]
  t.is(outcome('GITHUB_TOKEN').reason, 'match')
  t.is(outcome('OPENAI_API_KEY').reason, 'mismatch')
  t.is(outcome('LOCAL_ONLY_TOKEN').reason, 'missing_in_vault')
  t.is(outcome('STRIPE_SECRET').reason, 'missing_in_env')
  t.regex(outcome('OPENAI_API_KEY').vault_hmac, /^hmac-sha256:[0-9a-f]{64}$/)
  t.regex(outcome('OPENAI_API_KEY').env_hmac, /^hmac-sha256:[0-9a-f]{64}$/)
  t.not(outcome('OPENAI_API_KEY').vault_hmac, outcome('OPENAI_API_KEY').env_hmac)
  t.is(outcome('GITHUB_TOKEN').vault_hmac, undefined)
  t.is(outcome('LOCAL_ONLY_TOKEN').vault_hmac, undefined)
  t.is(outcome('STRIPE_SECRET').env_hmac, undefined)
  t.is(named(events, 'shadow').length, 4)
  assertNoSecrets(t, text, 'the audit file')
})

test('shadow HMACs differ from one process to the next', async (t) => {
  const first = await audited(t, '0', { ...ENV, RAGNOS_VAULT_MODE: 'shadow' })
  const second = await audited(t, '0', { ...ENV, RAGNOS_VAULT_MODE: 'shadow' })
  const digest = (run) => named(run.events, 'shadow', 'OPENAI_API_KEY')[0].vault_hmac
  t.not(digest(first), digest(second))
})

test('fallbacks name their reason and reads carry it', async (t) => {
  const { events } = await audited(
    t,
    'process.env.LOCAL_ONLY_TOKEN; process.env.OPENAI_API_KEY',
    ENV
  )
  const [fallback] = named(events, 'fallback', 'LOCAL_ONLY_TOKEN')
  t.is(fallback.source, 'env')
  t.is(fallback.reason, 'missing_in_vault')
  const [read] = named(events, 'read', 'LOCAL_ONLY_TOKEN')
  t.is(read.source, 'env')
  t.is(read.reason, 'missing_in_vault')
  t.is(named(events, 'read', 'OPENAI_API_KEY')[0].reason, null)
})

test('unreachable Vault is audited at login and as fallbacks', async (t) => {
  const port = await closedPort()
  const { result, events } = await audited(t, 'process.env.OPENAI_API_KEY', {
    ...ENV,
    VAULT_ADDR: `http://127.0.0.1:${port}`
  })
  t.is(result.code, 0, result.stderr)
  t.is(named(events, 'login')[0].reason, 'unreachable')
  const [fallback] = named(events, 'fallback', 'OPENAI_API_KEY')
  t.is(fallback.reason, 'vault_unavailable')
  t.is(named(events, 'read', 'OPENAI_API_KEY')[0].source, 'env')
  t.is(named(events, 'startup')[0].fallback_keys, 3)
})

test('invalid setting is audited as invalid_settings', async (t) => {
  const { result, events } = await audited(t, '0', { ...ENV, RAGNOS_VAULT_CANARY_PERCENT: 'lots' })
  t.is(result.code, 0)
  const [startup] = named(events, 'startup')
  t.is(startup.reason, 'invalid_settings')
  t.is(startup.mode, 'off')
})

test('strict failure reaches the audit file before exit', async (t) => {
  const { result, events } = await audited(t, '0', { ...ENV, RAGNOS_VAULT_STRICT: 'true' })
  t.is(result.code, 78)
  const [startup] = named(events, 'startup')
  t.is(startup.reason, 'strict_failure')
  t.is(startup.exit_code, 78)
  t.is(named(events, 'fallback', 'LOCAL_ONLY_TOKEN').length, 1)
})

test('debug logging carries each audit event', async (t) => {
  const { result } = await audited(t, 'process.env.OPENAI_API_KEY', { ...ENV, RAGNOS_VAULT_LOG: 'debug' })
  const lines = result.stderr.split('\n').filter((line) => line.startsWith('ragnos-vault: debug: audit {'))
  t.true(lines.some((line) => line.includes('"event":"startup"')), result.stderr)
  t.true(lines.some((line) => line.includes('"event":"read"')), result.stderr)
  assertNoSecrets(t, result.stderr, 'stderr')
})

test('onAudit listeners run asynchronously and unsubscribe', async (t) => {
  const { result } = await audited(
    t,
    `const preloader = require(${JSON.stringify(REPO_ROOT)})
     const seen = []
     let duringRead = false
     const stop = preloader.onAudit((event) => { seen.push(event); if (reading) duringRead = true })
     let reading = true
     process.env.OPENAI_API_KEY
     reading = false
     setTimeout(() => {
       stop()
       stop()
       process.env.GITHUB_TOKEN
       setTimeout(() => {
         console.log(JSON.stringify({
           duringRead,
           names: seen.map((e) => e.event),
           keys: seen.filter((e) => e.event === 'read').map((e) => e.key),
           frozen: Object.isFrozen(seen[0])
         }))
       }, 400)
     }, 400)`,
    ENV
  )
  const out = parseJsonOutput(result)
  t.false(out.duringRead)
  t.true(out.names.includes('startup'), 'the first listener gets the startup events')
  t.deepEqual(out.keys, ['OPENAI_API_KEY'])
  t.true(out.frozen)
})

test('throwing listener is reported once and never breaks a read', async (t) => {
  const { result } = await audited(
    t,
    `const preloader = require(${JSON.stringify(REPO_ROOT)})
     let calls = 0
     preloader.onAudit(() => { calls++; throw new Error('listener failed on purpose') })
     const values = []
     const timer = setInterval(() => { values.push(process.env.OPENAI_API_KEY === ${JSON.stringify(VAULT.OPENAI_API_KEY)}) }, 20)
     setTimeout(() => {
       clearInterval(timer)
       console.log(JSON.stringify({ calls, reads: values.length, allVault: values.every(Boolean) }))
     }, 500)`,
    { ...ENV, RAGNOS_VAULT_AUDIT_EVERY_READ: '1' }
  )
  t.is(result.code, 0, result.stderr)
  const out = parseJsonOutput(result)
  t.true(out.calls > 1)
  t.true(out.allVault)
  const warnings = result.stderr.split('\n').filter((line) => line.includes('onAudit listener threw'))
  t.is(warnings.length, 1, result.stderr)
  t.regex(warnings[0], /^ragnos-vault: warn: an onAudit listener threw \(listener failed on purpose\)/)
})

test('listeners in worker threads get the events', async (t) => {
  const { result } = await audited(
    t,
    `const { Worker } = require('worker_threads')
     const code = \`
       const { parentPort } = require('worker_threads')
       const preloader = require(${JSON.stringify(REPO_ROOT)})
       const seen = []
       preloader.onAudit((event) => seen.push(event.event + ':' + event.key))
       process.env.GITHUB_TOKEN
       setTimeout(() => parentPort.postMessage(seen), 400)
     \`
     const worker = new Worker(code, { eval: true })
     worker.on('message', (seen) => { console.log(JSON.stringify(seen)); worker.terminate() })`,
    ENV
  )
  t.is(result.code, 0, result.stderr)
  t.true(parseJsonOutput(result).includes('read:GITHUB_TOKEN'))
})

test('lines never interleave across workers and children', async (t) => {
  const { result, text, events } = await audited(
    t,
    `const { Worker } = require('worker_threads')
     const { execFileSync } = require('child_process')
     const reader = 'for (let i = 0; i < 3000; i++) { process.env.OPENAI_API_KEY; process.env.GITHUB_TOKEN }'
     const workers = [1, 2, 3, 4].map(() => new Worker(reader, { eval: true }))
     execFileSync(process.execPath, ['-e', reader], { env: { ...process.env, NODE_OPTIONS: '--require ${REPO_ROOT}' } })
     eval(reader)
     Promise.all(workers.map((w) => new Promise((done) => w.on('exit', done)))).then(() => {})`,
    { ...ENV, RAGNOS_VAULT_AUDIT_EVERY_READ: 'yes' },
    { timeoutMs: 60000 }
  )
  t.is(result.code, 0, result.stderr)
  t.true(text.endsWith('\n'))
  const pids = new Set(events.map((e) => e.pid))
  t.is(pids.size, 2, 'the parent and the child both append to the file')
  t.true(named(events, 'read').length > 3000)
})

test('a flood of reads never blocks and every event is counted', async (t) => {
  const { result } = await audited(
    t,
    `const preloader = require(${JSON.stringify(REPO_ROOT)})
     const began = process.hrtime.bigint()
     for (let i = 0; i < 200000; i++) process.env.OPENAI_API_KEY
     const ms = Number(process.hrtime.bigint() - began) / 1e6
     const settle = () => {
       const audit = preloader.stats().audit
       if (audit.written + audit.dropped < audit.emitted) return setTimeout(settle, 50)
       console.log(JSON.stringify({ ms, audit, reads: preloader.stats().reads.vault }))
     }
     settle()`,
    { ...ENV, RAGNOS_VAULT_AUDIT_EVERY_READ: 'on' },
    { timeoutMs: 60000 }
  )
  t.is(result.code, 0, result.stderr)
  const out = parseJsonOutput(result)
  t.is(out.reads, 200000)
  t.true(out.audit.emitted >= 200000)
  t.is(out.audit.written + out.audit.dropped, out.audit.emitted)
  t.log(`200000 audited reads took ${out.ms.toFixed(0)} ms; ${out.audit.dropped} events dropped`)
})

test('kill and revive are audited and emitted', async (t) => {
  const { result, events } = await audited(
    t,
    `const preloader = require(${JSON.stringify(REPO_ROOT)})
     const switches = []
     preloader.on('killswitch', (event) => switches.push(event))
     const before = process.env.OPENAI_API_KEY
     preloader.kill('maintenance window')
     const during = process.env.OPENAI_API_KEY
     const state = preloader.stats().killSwitch
     preloader.revive()
     setTimeout(() => console.log(JSON.stringify({ before, during, state, switches,
       after: process.env.OPENAI_API_KEY })), 600)`,
    ENV
  )
  t.is(result.code, 0, result.stderr)
  const out = parseJsonOutput(result)
  t.is(out.before, VAULT.OPENAI_API_KEY)
  t.is(out.during, ENV.OPENAI_API_KEY)
  t.deepEqual(out.state, { state: 'open', trigger: 'manual', reason: 'maintenance window' })
  t.deepEqual(out.switches.map((e) => e.open), [true, false])
  const switchEvents = named(events, 'killswitch')
  t.deepEqual(switchEvents.map((e) => e.state), ['open', 'closed'])
  t.is(switchEvents[0].reason, 'maintenance window')
  t.is(switchEvents[0].trigger, 'manual')
  const [fallback] = named(events, 'fallback', 'OPENAI_API_KEY')
  t.is(fallback.reason, 'kill_switch')
  t.is(out.after, VAULT.OPENAI_API_KEY)
  t.deepEqual(named(events, 'read', 'OPENAI_API_KEY').map((e) => e.source), ['vault', 'env', 'vault'])
})
