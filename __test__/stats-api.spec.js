'use strict'

// stats(), status(), settings(), refresh(), kill() and revive() as a
// program sees them through require('@ragnos/vault-preloader').

const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const test = require('ava')
const { withOpenBao } = require('./helpers/openbao')
const { runNode, parseJsonOutput, freeDir, REPO_ROOT } = require('./helpers/run')

const VAULT = {
  OPENAI_API_KEY: 'sk-vault-stats-91d0',
  GITHUB_TOKEN: 'ghp-vault-stats-2b7e'
}
const CANARY_KEYS = Array.from({ length: 20 }, (_, i) => `SERVICE_${i}_API_KEY`)

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/stats', VAULT)
    await bao.kvPut('mcp/rotate', { ROTATING_TOKEN: 'rotating-vault-v1' })
    await bao.kvPut('mcp/canary', Object.fromEntries(CANARY_KEYS.map((k) => [k, `vault-${k}`])))
    await bao.kvPut('refs/stats', { password: 'ref-vault-stats-55aa' })
  }
})

const API = `const preloader = require(${JSON.stringify(REPO_ROOT)})\n`

async function probe(t, code, env = {}, options = {}) {
  const result = await runNode({
    eval: API + code,
    env: { ...t.context.bao.clientEnv(), RAGNOS_VAULT_APP: 'stats', RAGNOS_VAULT_MODE: 'vault', ...env },
    ...options
  })
  t.is(result.code, 0, result.stderr)
  return parseJsonOutput(result)
}

function closedPort() {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

test('stats counts reads by source', async (t) => {
  const out = await probe(
    t,
    `for (let i = 0; i < 3; i++) process.env.OPENAI_API_KEY
     process.env.LOCAL_ONLY_TOKEN
     process.env.LOCAL_ONLY_TOKEN
     process.env.GITHUB_TOKEN = 'mine'
     process.env.GITHUB_TOKEN
     process.env.BROKEN_REF
     process.env.HOME
     console.log(JSON.stringify(preloader.stats()))`,
    { LOCAL_ONLY_TOKEN: 'env-only-stats', BROKEN_REF: 'vault:secret/refs/stats#nope' }
  )
  t.deepEqual(out.reads, { vault: 3, env: 2, stale: 0, override: 1, hidden: 1, total: 7 })
  t.deepEqual(out.cache, { hits: 3, misses: 3 })
  t.deepEqual(out.fallbacks, { reads: 2, keys: 2 })
  t.is(out.vault.requests, 4, 'login and three document reads')
  t.is(out.vault.errors, 0)
  t.deepEqual(out.killSwitch, { state: 'closed', trigger: null, reason: null })
  t.true(out.audit.emitted > 0)
  t.is(out.audit.dropped, 0)
})

test('canary hit rate is the share of canary keys from Vault', async (t) => {
  const out = await probe(
    t,
    `console.log(JSON.stringify(preloader.stats().canary))`,
    { RAGNOS_VAULT_MODE: 'dual', RAGNOS_VAULT_CANARY_PERCENT: '50', RAGNOS_VAULT_SEARCH_PATHS: 'mcp/canary' }
  )
  t.true(out.keys > 0 && out.keys < CANARY_KEYS.length, `${out.keys} canary keys`)
  t.is(out.fromVault, out.keys)
  t.is(out.hitRate, 1)

  const missing = await probe(
    t,
    `console.log(JSON.stringify(preloader.stats().canary))`,
    { RAGNOS_VAULT_SEARCH_PATHS: 'mcp/stats', NOT_IN_VAULT_TOKEN: 'env' }
  )
  t.deepEqual(missing, { keys: 3, fromVault: 2, hitRate: 2 / 3 })

  const shadow = await probe(t, `console.log(JSON.stringify(preloader.stats().canary))`, { RAGNOS_VAULT_MODE: 'shadow' })
  t.deepEqual(shadow, { keys: 0, fromVault: 0, hitRate: null })
})

test('status names keys, paths and error kinds only', async (t) => {
  const out = await probe(t, `console.log(JSON.stringify(preloader.status()))`, { REF: 'vault:secret/refs/stats#password' })
  t.true(out.active)
  t.is(out.mode, 'vault')
  t.true(out.generation > 0)
  t.is(out.managedKeys, 3)
  t.deepEqual(out.paths, ['secret/mcp/shared', 'secret/mcp/stats', 'secret/refs/stats'])
  t.true(out.loggedIn)
  t.deepEqual(out.lastErrors, [])
  t.is(out.killSwitch, 'closed')

  const port = await closedPort()
  const down = await probe(t, `console.log(JSON.stringify({ status: preloader.status(), stats: preloader.stats() }))`, {
    VAULT_ADDR: `http://127.0.0.1:${port}`
  })
  t.false(down.status.loggedIn)
  t.deepEqual(down.status.lastErrors.map((e) => [e.target, e.kind]), [['login', 'unreachable']])
  t.regex(down.status.lastErrors[0].time, /^\d{4}-\d{2}-\d{2}T/)
  t.is(down.stats.vault.errors, 1)
})

test('settings shows the audit settings and redacts credentials', async (t) => {
  const dir = freeDir('ragnos-stats-')
  const log = path.join(dir, 'audit.jsonl')
  const out = await probe(t, `console.log(JSON.stringify(preloader.settings()))`, {
    RAGNOS_VAULT_AUDIT_LOG: log,
    RAGNOS_VAULT_AUDIT_EVERY_READ: 'true'
  })
  t.is(out.audit_log, log)
  t.true(out.audit_every_read)
  t.false(JSON.stringify(out).includes(t.context.bao.token))
})

test('audit settings come from the config file', async (t) => {
  const dir = freeDir('ragnos-stats-')
  fs.writeFileSync(path.join(dir, 'ragnos-vault.json'), JSON.stringify({ audit_log: 'trail.jsonl', audit_every_read: true }))
  const out = await probe(t, `process.env.OPENAI_API_KEY; process.env.OPENAI_API_KEY
    console.log(JSON.stringify(preloader.settings()))`, {}, { cwd: dir })
  t.is(out.audit_log, 'trail.jsonl')
  const lines = fs.readFileSync(path.join(dir, 'trail.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  t.is(lines.filter((e) => e.event === 'read').length, 2)
})

test('invalid audit_every_read gets one stderr line', async (t) => {
  const result = await runNode({
    eval: 'console.log(process.env.OPENAI_API_KEY)',
    env: { ...t.context.bao.clientEnv(), RAGNOS_VAULT_MODE: 'vault', RAGNOS_VAULT_AUDIT_EVERY_READ: 'sometimes', OPENAI_API_KEY: 'env-value' }
  })
  t.is(result.code, 0)
  t.is(result.stdout, 'env-value\n')
  t.regex(result.stderr, /^ragnos-vault: warn: invalid audit_every_read "sometimes" from RAGNOS_VAULT_AUDIT_EVERY_READ: expected true or false; preloader off, serving environment values\n$/)
})

test('refresh re-reads every path and serves the new value', async (t) => {
  const dir = freeDir('ragnos-stats-')
  const log = path.join(dir, 'audit.jsonl')
  const { bao } = t.context
  // The program writes the new value itself, through the HTTP API with a
  // token of its own, so the refresh surely comes after the rotation.
  const result = await runNode({
    eval: `${API}
      const http = require('http')
      const before = process.env.ROTATING_TOKEN
      const rotated = []
      preloader.on('rotated', (event) => rotated.push(event))
      const body = JSON.stringify({ data: { ROTATING_TOKEN: 'rotating-vault-v2' } })
      const request = http.request(process.env.TEST_BAO_ADDR + '/v1/secret/data/mcp/rotate', {
        method: 'POST',
        headers: { 'X-Vault-Token': process.env.TEST_WRITER_TOKEN, 'Content-Type': 'application/json' }
      }, async (response) => {
        response.resume()
        const pending = preloader.refresh()
        const isPromise = pending instanceof Promise
        await pending
        const after = process.env.ROTATING_TOKEN
        setTimeout(() => console.log(JSON.stringify({ status: response.statusCode, before, after, isPromise, rotated })), 400)
      })
      request.end(body)`,
    env: {
      ...bao.clientEnv(),
      RAGNOS_VAULT_MODE: 'vault',
      RAGNOS_VAULT_SEARCH_PATHS: 'mcp/rotate',
      RAGNOS_VAULT_AUDIT_LOG: log,
      TEST_BAO_ADDR: bao.addr,
      TEST_WRITER_TOKEN: await bao.createToken({ policies: ['root'] })
    }
  })
  t.is(result.code, 0, result.stderr)
  const out = parseJsonOutput(result)
  t.is(out.status, 200)
  t.is(out.before, 'rotating-vault-v1')
  t.is(out.after, 'rotating-vault-v2')
  t.true(out.isPromise)
  t.deepEqual(out.rotated, [{ keys: ['ROTATING_TOKEN'] }])
  const text = fs.readFileSync(log, 'utf8')
  const events = text.trim().split('\n').map((line) => JSON.parse(line))
  const refresh = events.find((e) => e.event === 'refresh' && e.path === 'secret/mcp/rotate')
  t.is(refresh.reason, 'updated')
  t.true(events.some((e) => e.event === 'rotated' && e.key === 'ROTATING_TOKEN' && e.source === 'vault'))
  t.false(text.includes('rotating-vault-v'))
})

test('API works without a Vault address', async (t) => {
  const out = await probe(
    t,
    `const stop = preloader.onAudit(() => {})
     stop()
     console.log(JSON.stringify({ stats: preloader.stats(), status: preloader.status(), kill: preloader.kill('x') }))`,
    { VAULT_ADDR: undefined, VAULT_TOKEN: undefined }
  )
  t.is(out.stats.reads.total, 0)
  t.is(out.stats.vault.requests, 0)
  t.false(out.status.active)
  t.is(out.status.mode, 'off')
  t.deepEqual(out.status.paths, [])
  t.false(out.kill)
})

test('onAudit rejects a listener that is not a function', async (t) => {
  const out = await probe(t, `let message = null
    try { preloader.onAudit('nope') } catch (error) { message = error.message }
    console.log(JSON.stringify({ message }))`)
  t.is(out.message, 'onAudit expects a function')
})
