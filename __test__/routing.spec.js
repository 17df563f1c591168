'use strict'

// Modes, canary, references, KV versions and the number of Vault reads,
// each against a real OpenBao dev server.

const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const test = require('ava')
const { withOpenBao } = require('./helpers/openbao')
const { runNode, parseJsonOutput, fixture, freeDir } = require('./helpers/run')
const { startRelay } = require('./helpers/relay')

const VAULT = {
  OPENAI_API_KEY: 'sk-vault-routing-a1',
  GITHUB_TOKEN: 'ghp-vault-routing-b2',
  STRIPE_SECRET: 'stripe-vault-routing-c3'
}
const CANARY_KEYS = Array.from({ length: 24 }, (_, i) => `SERVICE_${i}_API_KEY`)

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/routing', VAULT)
    await bao.kvPut('mcp/canary', Object.fromEntries(CANARY_KEYS.map((k) => [k, `vault-${k}`])))
    await bao.kvPut('refs/db', { url: 'postgres://vault-ref@db/app', port: 5432 })
    await bao.enableKvV1('legacy')
    await bao.kv1Put('legacy', 'mcp/routing', { LEGACY_TOKEN: 'legacy-vault-d4' })
  }
})

async function printEnv(t, keys, env, options = {}) {
  const result = await runNode({
    script: fixture('print-env.js'),
    args: keys,
    env: { ...t.context.bao.clientEnv(), RAGNOS_VAULT_APP: 'routing', ...env },
    ...options
  })
  return { out: result.code === 0 ? parseJsonOutput(result) : null, result }
}

const KEYS = ['OPENAI_API_KEY', 'GITHUB_TOKEN', 'STRIPE_SECRET']
const ENV = { OPENAI_API_KEY: 'env-openai', GITHUB_TOKEN: 'env-github' }

test('off mode serves the environment untouched', async (t) => {
  const { out, result } = await printEnv(t, [...KEYS, 'DB'], {
    ...ENV,
    RAGNOS_VAULT_MODE: 'off',
    DB: 'vault:secret/refs/db#url'
  })
  t.is(result.stderr, '')
  t.deepEqual(out, {
    OPENAI_API_KEY: 'env-openai',
    GITHUB_TOKEN: 'env-github',
    STRIPE_SECRET: null,
    DB: 'vault:secret/refs/db#url'
  })
})

test('shadow mode serves env values and resolves references', async (t) => {
  const { out, result } = await printEnv(t, [...KEYS, 'DB'], {
    ...ENV,
    RAGNOS_VAULT_MODE: 'shadow',
    DB: 'vault:secret/refs/db#url'
  })
  t.is(result.stderr, '')
  t.deepEqual(out, {
    OPENAI_API_KEY: 'env-openai',
    GITHUB_TOKEN: 'env-github',
    STRIPE_SECRET: null,
    DB: 'postgres://vault-ref@db/app'
  })
})

test('shadow is the default mode when an address is set', async (t) => {
  const { out } = await printEnv(t, ['OPENAI_API_KEY', 'STRIPE_SECRET'], ENV)
  t.is(out.OPENAI_API_KEY, 'env-openai')
  t.is(out.STRIPE_SECRET, null)
})

test('vault mode serves the Vault value over env', async (t) => {
  const { out, result } = await printEnv(t, KEYS, { ...ENV, RAGNOS_VAULT_MODE: 'vault' })
  t.is(result.stderr, '')
  t.deepEqual(out, VAULT)
})

test('vault mode falls back to env for keys Vault lacks', async (t) => {
  const { out, result } = await printEnv(t, ['SLACK_TOKEN', 'OPENAI_API_KEY'], {
    RAGNOS_VAULT_MODE: 'vault',
    SLACK_TOKEN: 'env-slack'
  })
  t.is(out.SLACK_TOKEN, 'env-slack')
  t.is(out.OPENAI_API_KEY, VAULT.OPENAI_API_KEY)
  t.regex(result.stderr, /no Vault value for SLACK_TOKEN; serving environment values/)
  t.is(result.stderr.trim().split('\n').length, 1)
})

function inCanary(salt, key, percent) {
  const digest = crypto.createHash('sha256').update(`${salt}\0${key}`).digest()
  return digest.readUInt32BE(0) % 10000 < percent * 100
}

test('dual mode serves the canary keys from Vault', async (t) => {
  const env = Object.fromEntries(CANARY_KEYS.map((k) => [k, `env-${k}`]))
  const settings = {
    ...env,
    RAGNOS_VAULT_MODE: 'dual',
    RAGNOS_VAULT_APP: 'canary',
    RAGNOS_VAULT_CANARY_PERCENT: '50',
    RAGNOS_VAULT_CANARY_SALT: 'rollout-1'
  }
  const first = await printEnv(t, CANARY_KEYS, settings)
  const second = await printEnv(t, CANARY_KEYS, settings)
  const expected = Object.fromEntries(
    CANARY_KEYS.map((k) => [k, inCanary('rollout-1', k, 50) ? `vault-${k}` : `env-${k}`])
  )
  t.deepEqual(first.out, expected)
  t.deepEqual(second.out, first.out)
  const fromVault = Object.values(first.out).filter((v) => v.startsWith('vault-')).length
  t.true(fromVault > 0 && fromVault < CANARY_KEYS.length, `${fromVault} of ${CANARY_KEYS.length}`)
})

test('dual mode with canary 0 and 100', async (t) => {
  const env = { RAGNOS_VAULT_MODE: 'dual', RAGNOS_VAULT_APP: 'canary', [CANARY_KEYS[0]]: 'env-0' }
  const none = await printEnv(t, [CANARY_KEYS[0], CANARY_KEYS[1]], { ...env, RAGNOS_VAULT_CANARY_PERCENT: '0' })
  t.deepEqual(none.out, { [CANARY_KEYS[0]]: 'env-0', [CANARY_KEYS[1]]: null })
  const all = await printEnv(t, [CANARY_KEYS[0], CANARY_KEYS[1]], { ...env, RAGNOS_VAULT_CANARY_PERCENT: '100' })
  t.deepEqual(all.out, { [CANARY_KEYS[0]]: `vault-${CANARY_KEYS[0]}`, [CANARY_KEYS[1]]: `vault-${CANARY_KEYS[1]}` })
})

test('references resolve in both KV v2 spellings', async (t) => {
  const { out } = await printEnv(t, ['A', 'B', 'PORT'], {
    RAGNOS_VAULT_MODE: 'vault',
    A: 'vault:secret/refs/db#url',
    B: 'vault:secret/data/refs/db#url',
    PORT: 'vault:secret/refs/db#port'
  })
  t.deepEqual(out, { A: 'postgres://vault-ref@db/app', B: 'postgres://vault-ref@db/app', PORT: '5432' })
})

test('KV v1 mounts are read without the data segment', async (t) => {
  const { out } = await printEnv(t, ['LEGACY_TOKEN', 'REF'], {
    RAGNOS_VAULT_MODE: 'vault',
    RAGNOS_VAULT_KV_MOUNT: 'legacy',
    REF: 'vault:legacy/mcp/routing#LEGACY_TOKEN'
  })
  t.deepEqual(out, { LEGACY_TOKEN: 'legacy-vault-d4', REF: 'legacy-vault-d4' })
})

test('unresolved reference reads as unset, never as the reference', async (t) => {
  const { out, result } = await printEnv(t, ['MISSING', 'BROKEN'], {
    RAGNOS_VAULT_MODE: 'vault',
    MISSING: 'vault:secret/refs/db#nope',
    BROKEN: 'vault:secret/refs/db'
  })
  t.deepEqual(out, { MISSING: null, BROKEN: null })
  t.regex(result.stderr, /invalid reference "vault:secret\/refs\/db" in BROKEN: missing #<field>.*reads as unset/)
  t.regex(result.stderr, /no Vault value for MISSING \(secret\/refs\/db#nope\); these references read as unset/)
})

test('mapping table from the config file and the variable', async (t) => {
  const dir = freeDir()
  fs.writeFileSync(
    path.join(dir, 'ragnos-vault.json'),
    JSON.stringify({ mode: 'vault', secrets: { DATABASE_URL: 'secret/refs/db#url' } })
  )
  const fromFile = await printEnv(t, ['DATABASE_URL'], {}, { cwd: dir })
  t.deepEqual(fromFile.out, { DATABASE_URL: 'postgres://vault-ref@db/app' })

  const fromVariable = await printEnv(t, ['CONN'], {
    RAGNOS_VAULT_MODE: 'vault',
    RAGNOS_VAULT_SECRETS: JSON.stringify({ CONN: 'vault:secret/data/refs/db#port' })
  })
  t.deepEqual(fromVariable.out, { CONN: '5432' })
})

test('environment settings win over the config file', async (t) => {
  const dir = freeDir()
  fs.writeFileSync(path.join(dir, 'ragnos-vault.json'), JSON.stringify({ mode: 'vault' }))
  const { out } = await printEnv(t, ['OPENAI_API_KEY'], { ...ENV, RAGNOS_VAULT_MODE: 'shadow' }, { cwd: dir })
  t.is(out.OPENAI_API_KEY, 'env-openai')
})

test('strict mode exits 78 naming the missing keys', async (t) => {
  const { result } = await printEnv(t, ['OPENAI_API_KEY'], {
    RAGNOS_VAULT_MODE: 'vault',
    RAGNOS_VAULT_STRICT: 'true',
    SLACK_TOKEN: 'env-slack-value',
    ZOOM_API_KEY: 'env-zoom-value'
  })
  t.is(result.code, 78)
  t.is(result.stdout, '')
  t.regex(result.stderr, /strict mode: no Vault value for SLACK_TOKEN, ZOOM_API_KEY; exiting with code 78/)
  t.false(result.stderr.includes('env-slack-value'))
  t.is(result.stderr.trim().split('\n').length, 1)
})

test('strict mode passes when every key has a Vault value', async (t) => {
  const { out, result } = await printEnv(t, ['OPENAI_API_KEY'], {
    RAGNOS_VAULT_MODE: 'vault',
    RAGNOS_VAULT_STRICT: '1'
  })
  t.is(result.code, 0)
  t.is(out.OPENAI_API_KEY, VAULT.OPENAI_API_KEY)
})

test('one read per KV path, never one per key', async (t) => {
  const relay = await startRelay(t.context.bao.addr)
  t.teardown(() => relay.close())
  const { out } = await printEnv(t, KEYS, {
    RAGNOS_VAULT_MODE: 'vault',
    VAULT_ADDR: relay.addr,
    DB: 'vault:secret/refs/db#url',
    PORT: 'vault:secret/data/refs/db#port'
  })
  t.deepEqual(out, VAULT)
  const paths = relay.requests.map((r) => r.path.replace(/\?$/, ''))
  const reads = paths.filter((p) => p.startsWith('/v1/secret/data/'))
  t.deepEqual(reads.sort(), [
    '/v1/secret/data/mcp/routing',
    '/v1/secret/data/mcp/shared',
    '/v1/secret/data/refs/db'
  ])
  const other = paths.filter((p) => !p.startsWith('/v1/secret/data/'))
  // The token lookup and the one mount lookup go out together, in either
  // order.
  t.is(other.length, 2, other.join(', '))
  t.true(other.includes('/v1/auth/token/lookup-self'), other.join(', '))
  t.is(other.filter((p) => p.startsWith('/v1/sys/internal/ui/mounts/secret/')).length, 1, other.join(', '))
})

test('startup gives up after the timeout and values arrive later', async (t) => {
  const relay = await startRelay(t.context.bao.addr, { delayMs: 1500 })
  t.teardown(() => relay.close())
  const started = Date.now()
  const result = await runNode({
    eval: `const early = process.env.OPENAI_API_KEY
           const t0 = process.hrtime.bigint()
           for (let i = 0; i < 1000; i++) process.env.OPENAI_API_KEY
           const readNs = Number(process.hrtime.bigint() - t0) / 1000
           setTimeout(() => {
             console.log(JSON.stringify({ early, late: process.env.OPENAI_API_KEY, readNs }))
           }, 6000)`,
    env: {
      ...t.context.bao.clientEnv(),
      VAULT_ADDR: relay.addr,
      RAGNOS_VAULT_APP: 'routing',
      RAGNOS_VAULT_MODE: 'vault',
      RAGNOS_VAULT_STARTUP_TIMEOUT_MS: '300',
      OPENAI_API_KEY: 'env-openai'
    }
  })
  const out = parseJsonOutput(result)
  t.is(out.early, 'env-openai')
  t.is(out.late, VAULT.OPENAI_API_KEY)
  // Gross bound only: a read that waited on the relay would take 1.5 s.
  t.true(out.readNs < 1e6, `${out.readNs} ns per read`)
  t.regex(result.stderr, /startup timed out after 300 ms/)
  t.true(Date.now() - started < 20000)
})
