'use strict'

// Vault faults under a running program, each against its own OpenBao dev
// server: a program reads managed keys in a loop while Vault is down,
// stopped, sealed, slow, denies the token or the path, or rotates a value.
// Every read must return the Vault value, the same value stale, or the
// environment fallback, and no exception reaches the program. stderr gets
// one line per state change, and Vault values come back without a restart.
// The scenarios run one at a time because each measures event-loop delay.

const crypto = require('node:crypto')
const test = require('ava')
const { startOpenBao, findFreePort } = require('./helpers/openbao')
const { startRelay } = require('./helpers/relay')
const { startReader, sleep } = require('./helpers/reader')
const { FAST, FAILURE_LINE, RECOVERY_LINE, finishReader, countLines } = require('./helpers/scenario')

const KEYS = ['SVC_API_KEY', 'SVC_TOKEN', 'SHARED_SECRET', 'REF']
const ENV_VALUES = {
  SVC_API_KEY: 'env-svc-api-key',
  SVC_TOKEN: 'env-svc-token',
  SHARED_SECRET: 'env-shared-secret'
}
const READER_POLICY = `
path "secret/data/mcp/*" { capabilities = ["read"] }
path "secret/data/refs/*" { capabilities = ["read"] }
`

/** Returns Vault values for one scenario, distinct per app so that no test passes on another's data. */
function vaultValues(app) {
  return {
    SVC_API_KEY: `vault-${app}-api-key-${crypto.randomBytes(4).toString('hex')}`,
    SVC_TOKEN: `vault-${app}-token-${crypto.randomBytes(4).toString('hex')}`,
    SHARED_SECRET: `vault-${app}-shared-${crypto.randomBytes(4).toString('hex')}`,
    REF: `vault-${app}-ref-${crypto.randomBytes(4).toString('hex')}`
  }
}

async function seed(bao, app, values) {
  await bao.kvPut(`mcp/${app}`, { SVC_API_KEY: values.SVC_API_KEY, SVC_TOKEN: values.SVC_TOKEN })
  await bao.kvPut('mcp/shared', { SHARED_SECRET: values.SHARED_SECRET })
  await bao.kvPut(`refs/${app}`, { field: values.REF })
}

function readerEnv(app, addr, auth, extra = {}) {
  return {
    VAULT_ADDR: addr,
    ...auth,
    ...FAST,
    ...ENV_VALUES,
    RAGNOS_VAULT_APP: app,
    REF: `vault:secret/refs/${app}#field`,
    ...extra
  }
}

/** Starts a dev server that the test's teardown stops, also after a restart. */
async function ownServer(t, options = {}) {
  const servers = []
  t.teardown(() => Promise.all(servers.map((server) => server.stop())))
  const start = async (extra = {}) => {
    const server = await startOpenBao({ ...options, ...extra })
    servers.push(server)
    return server
  }
  return { first: await start(), restart: (bao) => bao.stop().then(() => start({ port: bao.port, token: bao.token })) }
}

function ownReader(t, options) {
  const reader = startReader({ timeoutMs: 60000, ...options })
  t.teardown(() => reader.kill())
  return reader
}

async function ownRelay(t, addr) {
  const relay = await startRelay(addr)
  t.teardown(() => relay.close())
  return relay
}

/** Resolves once `condition()` returns true, or rejects naming `what` after `timeoutMs`. */
async function waitUntil(what, condition, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`)
    await sleep(25)
  }
}

async function okRequest(bao, method, apiPath, body) {
  const response = await bao.request(method, apiPath, body)
  if (response.status >= 300) throw new Error(`${method} ${apiPath}: HTTP ${response.status} ${response.text}`)
  return response.body
}

/** Enables AppRole, creates a role and resolves to its login variables. */
async function appRole(bao, role, options) {
  await okRequest(bao, 'POST', '/v1/sys/auth/approle', { type: 'approle' })
  await okRequest(bao, 'POST', `/v1/auth/approle/role/${role}`, { token_ttl: '10m', ...options })
  const roleId = (await okRequest(bao, 'GET', `/v1/auth/approle/role/${role}/role-id`)).data.role_id
  const secretId = (await okRequest(bao, 'POST', `/v1/auth/approle/role/${role}/secret-id`)).data.secret_id
  return { VAULT_ROLE_ID: roleId, VAULT_SECRET_ID: secretId }
}

/** Revokes every token that an AppRole login issued and resolves to their count. */
async function revokeAppRoleTokens(bao) {
  const listed = await okRequest(bao, 'LIST', '/v1/auth/token/accessors')
  let revoked = 0
  for (const accessor of listed.data.keys) {
    const token = await okRequest(bao, 'POST', '/v1/auth/token/lookup-accessor', { accessor })
    if (token.data.path === 'auth/approle/login') {
      await okRequest(bao, 'POST', '/v1/auth/token/revoke-accessor', { accessor })
      revoked++
    }
  }
  return revoked
}

function logins(relay) {
  return relay.requests.filter((r) => r.path === '/v1/auth/approle/login').length
}

/** Returns the values each key may read: its Vault values and its fallback (unset for the reference). */
function allowedReads(vault) {
  const allowed = {}
  for (const key of KEYS) {
    const fallback = key === 'REF' ? null : ENV_VALUES[key]
    allowed[key] = [...vault.map((v) => v[key]), fallback]
  }
  return allowed
}

const ENV_READS = { ...ENV_VALUES, REF: null }

test.serial('unreachable at start serves env until Vault starts', async (t) => {
  const app = 'unreachable'
  const vault = vaultValues(app)
  const port = await findFreePort()
  const token = `root-${crypto.randomBytes(12).toString('hex')}`
  const reader = ownReader(t, { keys: KEYS, env: readerEnv(app, `http://127.0.0.1:${port}`, { VAULT_TOKEN: token }) })

  await reader.waitFor('first read', (r) => r.values() !== null)
  t.deepEqual(reader.values(), ENV_READS)
  await sleep(1500)
  t.deepEqual(reader.values(), ENV_READS)

  const servers = await ownServer(t, { port, token })
  await seed(servers.first, app, vault)
  await reader.waitForValues('Vault values', vault, 10000)

  await finishReader(t, reader, { allowed: allowedReads([vault]), secrets: [...Object.values(vault), token] })
  t.is(countLines(reader.stderr, /warn: vault unreachable at .*; serving (environment values|cached values until they expire, then environment values)$/), 1, reader.stderr)
  t.is(countLines(reader.stderr, RECOVERY_LINE), 1, reader.stderr)
})

test.serial('stopped Vault serves stale, then env, then Vault again', async (t) => {
  const app = 'stopped'
  const vault = vaultValues(app)
  const servers = await ownServer(t)
  const bao = servers.first
  await seed(bao, app, vault)
  const reader = ownReader(t, { keys: KEYS, env: readerEnv(app, bao.addr, { VAULT_TOKEN: bao.token }) })
  await reader.waitForValues('Vault values', vault, 5000)

  await bao.stop()
  const stoppedAt = Date.now()
  // refresh() resolves while Vault is down, once its requests fail.
  reader.send('refresh')
  await reader.waitFor('refresh() to resolve', (r) => r.records.some((x) => x.type === 'done' && x.command === 'refresh'), 3000)
  await reader.waitForValues('env fallback', ENV_READS, 8000)
  // The cached values stay readable for at least max_stale_ms (2 s) past a
  // TTL that started less than 0.9 s before the stop.
  t.true(Date.now() - stoppedAt >= 1500, `env after ${Date.now() - stoppedAt} ms`)

  const restarted = await servers.restart(bao)
  await seed(restarted, app, vault)
  await reader.waitForValues('Vault values after the restart', vault, 10000)

  await finishReader(t, reader, { allowed: allowedReads([vault]), secrets: [...Object.values(vault), bao.token] })
  const failures = countLines(reader.stderr, FAILURE_LINE)
  t.true(failures >= 1 && failures <= 2, reader.stderr)
  t.is(countLines(reader.stderr, RECOVERY_LINE), 1, reader.stderr)
})

test.serial('sealed Vault serves stale, then env, then Vault after unseal', async (t) => {
  const app = 'sealed'
  const vault = vaultValues(app)
  const bao = (await ownServer(t)).first
  await seed(bao, app, vault)
  await waitUntil('unseal key in the server output', () => /Unseal Key: \S+/.test(bao.output()), 5000)
  const unsealKey = bao.output().match(/Unseal Key: (\S+)/)[1]
  const reader = ownReader(t, { keys: KEYS, env: readerEnv(app, bao.addr, { VAULT_TOKEN: bao.token }) })
  await reader.waitForValues('Vault values', vault, 5000)

  t.is((await bao.request('PUT', '/v1/sys/seal')).status, 204)
  const sealedAt = Date.now()
  await reader.waitForValues('env fallback', ENV_READS, 8000)
  t.true(Date.now() - sealedAt >= 1500, `env after ${Date.now() - sealedAt} ms`)

  const unsealed = await bao.request('PUT', '/v1/sys/unseal', { key: unsealKey })
  t.is(unsealed.status, 200)
  t.false(unsealed.body.sealed)
  await reader.waitForValues('Vault values after unseal', vault, 10000)

  await finishReader(t, reader, { allowed: allowedReads([vault]), secrets: [...Object.values(vault), bao.token] })
  t.is(countLines(reader.stderr, /warn: vault is sealed at \S+; serving (environment values|cached values until they expire, then environment values)$/), 1, reader.stderr)
  t.is(countLines(reader.stderr, FAILURE_LINE), 1, reader.stderr)
  t.is(countLines(reader.stderr, RECOVERY_LINE), 1, reader.stderr)
})

test.serial('revoked token serves stale, then env', async (t) => {
  const app = 'revoked'
  const vault = vaultValues(app)
  const bao = (await ownServer(t)).first
  await seed(bao, app, vault)
  await bao.putPolicy('reader', READER_POLICY)
  const token = await bao.createToken({ policies: ['reader'], ttl: '10m' })
  const reader = ownReader(t, { keys: KEYS, env: readerEnv(app, bao.addr, { VAULT_TOKEN: token }) })
  await reader.waitForValues('Vault values', vault, 5000)

  t.is((await bao.request('POST', '/v1/auth/token/revoke', { token })).status, 204)
  const revokedAt = Date.now()
  await reader.waitForValues('env fallback', ENV_READS, 8000)
  t.true(Date.now() - revokedAt >= 1500, `env after ${Date.now() - revokedAt} ms`)

  await finishReader(t, reader, { allowed: allowedReads([vault]), secrets: [...Object.values(vault), token, bao.token] })
  t.is(countLines(reader.stderr, /warn: vault rejected the token at \S+ \(status 403\); serving (environment values|cached values until they expire, then environment values)$/), 1, reader.stderr)
  t.is(countLines(reader.stderr, FAILURE_LINE), 1, reader.stderr)
})

test.serial('revoked AppRole token gets one login and values continue', async (t) => {
  const app = 'approle'
  const vault = vaultValues(app)
  const bao = (await ownServer(t)).first
  await seed(bao, app, vault)
  await bao.putPolicy('reader', READER_POLICY)
  const credentials = await appRole(bao, app, { token_policies: ['reader'] })
  const relay = await ownRelay(t, bao.addr)
  const reader = ownReader(t, { keys: KEYS, env: readerEnv(app, relay.addr, credentials) })
  await reader.waitForValues('Vault values', vault, 5000)
  t.is(logins(relay), 1)

  t.is(await revokeAppRoleTokens(bao), 1)
  await waitUntil('a second login', () => logins(relay) === 2, 5000)
  // Several refreshes with the new token, and no further login.
  await sleep(2500)
  t.is(logins(relay), 2)

  await finishReader(t, reader, {
    // Never stale long enough to expire: every read is the Vault value.
    allowed: Object.fromEntries(KEYS.map((key) => [key, [vault[key]]])),
    secrets: [...Object.values(vault), credentials.VAULT_SECRET_ID, bao.token]
  })
  t.is(countLines(reader.stderr, /warn:/), 0, reader.stderr)
})

test.serial('path without a policy never starts a login', async (t) => {
  const app = 'policy'
  const vault = vaultValues(app)
  const bao = (await ownServer(t)).first
  await seed(bao, app, vault)
  await bao.putPolicy('reader', READER_POLICY)
  const credentials = await appRole(bao, app, { token_policies: ['reader'] })
  const relay = await ownRelay(t, bao.addr)
  const reader = ownReader(t, { keys: KEYS, env: readerEnv(app, relay.addr, credentials) })
  await reader.waitForValues('Vault values', vault, 5000)

  // The policy loses the app's document and keeps the shared one and the
  // reference. SHARED_SECRET falls back too, because the app's document,
  // searched first, could hold a value that wins over the shared one.
  await bao.putPolicy('reader', `
    path "secret/data/mcp/shared" { capabilities = ["read"] }
    path "secret/data/refs/*" { capabilities = ["read"] }
  `)
  const deniedAt = Date.now()
  const denied = { ...ENV_VALUES, REF: vault.REF }
  await reader.waitForValues('env fallback for the denied path', denied, 8000)
  t.true(Date.now() - deniedAt >= 1500, `env after ${Date.now() - deniedAt} ms`)
  // Retries keep meeting the 403 for a few seconds.
  await sleep(3000)
  t.is(logins(relay), 1)

  await bao.putPolicy('reader', READER_POLICY)
  await reader.waitForValues('Vault values once the policy is back', vault, 8000)
  t.is(logins(relay), 1)

  await finishReader(t, reader, {
    allowed: { ...allowedReads([vault]), REF: [vault.REF] },
    secrets: [...Object.values(vault), credentials.VAULT_SECRET_ID, bao.token]
  })
  const deniedLine = new RegExp(`warn: vault denied secret/mcp/${app} \\(status 403, the token lacks a policy for it\\); serving (environment values|cached values until they expire, then environment values)$`)
  t.is(countLines(reader.stderr, deniedLine), 1, reader.stderr)
  t.is(countLines(reader.stderr, FAILURE_LINE), 1, reader.stderr)
  t.is(countLines(reader.stderr, RECOVERY_LINE), 1, reader.stderr)
})

test.serial('token that cannot look itself up logs in once per episode', async (t) => {
  const app = 'nodefault'
  const vault = vaultValues(app)
  const bao = (await ownServer(t)).first
  await seed(bao, app, vault)
  // Without the default policy a token gets a 403 on its own lookup too, so
  // the lookup cannot tell a missing policy from a rejected token.
  await bao.putPolicy('reader', READER_POLICY)
  const credentials = await appRole(bao, app, { token_policies: ['reader'], token_no_default_policy: true })
  const relay = await ownRelay(t, bao.addr)
  const reader = ownReader(t, { keys: KEYS, env: readerEnv(app, relay.addr, credentials) })
  await reader.waitForValues('Vault values', vault, 5000)
  t.is(logins(relay), 1)

  await bao.putPolicy('reader', 'path "secret/data/mcp/shared" { capabilities = ["read"] }')
  await reader.waitForValues('env fallback', ENV_READS, 8000)
  // Retries, at most a second apart, keep meeting the 403 for four seconds:
  // one fresh login for the episode, none for each retry.
  await sleep(4000)
  t.is(logins(relay), 2)

  await bao.putPolicy('reader', READER_POLICY)
  await reader.waitForValues('Vault values once the policy is back', vault, 8000)
  t.is(logins(relay), 2)

  await finishReader(t, reader, {
    allowed: allowedReads([vault]),
    secrets: [...Object.values(vault), credentials.VAULT_SECRET_ID, bao.token]
  })
  t.is(countLines(reader.stderr, RECOVERY_LINE), 1, reader.stderr)
})

test.serial('deleted path falls back to env and returns', async (t) => {
  const app = 'deleted'
  const vault = vaultValues(app)
  const bao = (await ownServer(t)).first
  await seed(bao, app, vault)
  const reader = ownReader(t, { keys: KEYS, env: readerEnv(app, bao.addr, { VAULT_TOKEN: bao.token }) })
  await reader.waitForValues('Vault values', vault, 5000)

  await bao.kvDelete(`mcp/${app}`)
  const deleted = { SVC_API_KEY: ENV_VALUES.SVC_API_KEY, SVC_TOKEN: ENV_VALUES.SVC_TOKEN, SHARED_SECRET: vault.SHARED_SECRET, REF: vault.REF }
  await reader.waitForValues('env fallback for the deleted path', deleted, 5000)
  await sleep(1500)
  t.deepEqual(reader.values(), deleted)

  await seed(bao, app, vault)
  await reader.waitForValues('Vault values once the path is back', vault, 5000)

  await finishReader(t, reader, {
    allowed: { ...allowedReads([vault]), SHARED_SECRET: [vault.SHARED_SECRET], REF: [vault.REF] },
    secrets: [...Object.values(vault), bao.token]
  })
  t.is(countLines(reader.stderr, /^ragnos-vault: warn: no Vault value for SVC_API_KEY, SVC_TOKEN; serving environment values$/), 1, reader.stderr)
  t.is(countLines(reader.stderr, /^ragnos-vault: warn: vault has values again for SVC_API_KEY, SVC_TOKEN; serving Vault values$/), 1, reader.stderr)
  t.is(countLines(reader.stderr, /warn:/), 2, reader.stderr)
})

test.serial('slow Vault times out, serves stale, then env, then Vault', async (t) => {
  const app = 'slow'
  const vault = vaultValues(app)
  const bao = (await ownServer(t)).first
  await seed(bao, app, vault)
  const relay = await ownRelay(t, bao.addr)
  const reader = ownReader(t, { keys: KEYS, env: readerEnv(app, relay.addr, { VAULT_TOKEN: bao.token }) })
  await reader.waitForValues('Vault values', vault, 5000)

  // Longer than the 400 ms request timeout.
  relay.setDelay(1500)
  const slowAt = Date.now()
  await reader.waitForValues('env fallback', ENV_READS, 8000)
  t.true(Date.now() - slowAt >= 1500, `env after ${Date.now() - slowAt} ms`)

  relay.setDelay(0)
  await reader.waitForValues('Vault values once Vault is fast', vault, 8000)

  await finishReader(t, reader, { allowed: allowedReads([vault]), secrets: [...Object.values(vault), bao.token] })
  t.is(countLines(reader.stderr, /warn: .*timed out.*; serving (environment values|cached values until they expire, then environment values)$/), 1, reader.stderr)
  t.is(countLines(reader.stderr, FAILURE_LINE), 1, reader.stderr)
  t.is(countLines(reader.stderr, RECOVERY_LINE), 1, reader.stderr)
})

test.serial('rotated value is read and announced by key name', async (t) => {
  const app = 'rotated'
  const before = vaultValues(app)
  const after = { ...before, SVC_API_KEY: `${before.SVC_API_KEY}-v2`, REF: `${before.REF}-v2` }
  const bao = (await ownServer(t)).first
  await seed(bao, app, before)
  const reader = ownReader(t, { keys: KEYS, env: readerEnv(app, bao.addr, { VAULT_TOKEN: bao.token }) })
  await reader.waitForValues('first Vault values', before, 5000)

  await seed(bao, app, after)
  await reader.waitForValues('rotated values', after, 5000)
  await reader.waitFor('rotated events for both keys', (r) => {
    const named = r.events('rotated').flatMap((e) => e.payload.keys)
    return named.includes('SVC_API_KEY') && named.includes('REF')
  }, 3000)

  const events = reader.events('rotated')
  const named = events.flatMap((e) => e.payload.keys).sort()
  t.deepEqual(named, ['REF', 'SVC_API_KEY'])
  for (const event of events) {
    t.deepEqual(Object.keys(event.payload), ['keys'])
    for (const value of [...Object.values(before), ...Object.values(after)]) {
      t.false(JSON.stringify(event).includes(value), 'an event carries a value')
    }
  }
  // Once a rotated value is read, the old one never comes back.
  const firstNew = reader.states().findIndex((s) => s.values.SVC_API_KEY === after.SVC_API_KEY)
  t.true(reader.states().slice(firstNew).every((s) => s.values.SVC_API_KEY === after.SVC_API_KEY))

  await finishReader(t, reader, {
    allowed: Object.fromEntries(KEYS.map((key) => [key, [before[key], after[key]]])),
    secrets: [...Object.values(before), ...Object.values(after), bao.token]
  })
  t.is(countLines(reader.stderr, /warn:/), 0, reader.stderr)
})

test.serial('refresh() reads a rotation at once', async (t) => {
  const app = 'refreshed'
  const before = vaultValues(app)
  const after = { ...before, SVC_TOKEN: `${before.SVC_TOKEN}-v2` }
  const bao = (await ownServer(t)).first
  await seed(bao, app, before)
  // A TTL of a minute: no background refresh comes during the test.
  const env = readerEnv(app, bao.addr, { VAULT_TOKEN: bao.token }, { RAGNOS_VAULT_CACHE_TTL_MS: '60000' })
  const reader = ownReader(t, { keys: KEYS, env })
  await reader.waitForValues('first Vault values', before, 5000)

  await seed(bao, app, after)
  await sleep(500)
  t.deepEqual(reader.values(), before)
  reader.send('refresh')
  await reader.waitFor('refresh() to resolve', (r) => r.records.some((x) => x.type === 'done' && x.command === 'refresh'), 3000)
  const resolvedAt = reader.records.find((x) => x.type === 'done').at
  // The reader reads every 20 ms, so the read after the promise resolved
  // already returns the rotated value.
  await reader.waitForValues('rotated values', after, 1000)
  const firstNew = reader.states().find((s) => s.values.SVC_TOKEN === after.SVC_TOKEN)
  t.true(firstNew.at <= resolvedAt + 100, `rotated value read at ${firstNew.at} ms, refresh() resolved at ${resolvedAt} ms`)
  await reader.waitFor('the rotated event', (r) => r.events('rotated').length === 1, 2000)
  t.deepEqual(reader.events('rotated')[0].payload, { keys: ['SVC_TOKEN'] })

  await finishReader(t, reader, {
    allowed: Object.fromEntries(KEYS.map((key) => [key, [before[key], after[key]]])),
    secrets: [...Object.values(before), ...Object.values(after), bao.token]
  })
})
