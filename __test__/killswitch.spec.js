'use strict'

// The kill switch under a running program, against real OpenBao dev
// servers: opened by errors and closed by a probe, opened at start by
// RAGNOS_VAULT_KILL, by a kill file, and by kill() and revive(). While it
// is open, pattern keys read their environment values, references keep
// their last value, and no request goes out but the probe. Every change
// logs one warn line and raises one `killswitch` event.

const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const test = require('ava')
const { startOpenBao, findFreePort } = require('./helpers/openbao')
const { startRelay } = require('./helpers/relay')
const { freeDir } = require('./helpers/run')
const { startReader, sleep } = require('./helpers/reader')
const { FAST, finishReader, countLines } = require('./helpers/scenario')

const KEYS = ['SVC_API_KEY', 'SVC_TOKEN', 'REF']
const ENV_VALUES = { SVC_API_KEY: 'env-ks-api-key', SVC_TOKEN: 'env-ks-token' }
const OPEN_LINE = /^ragnos-vault: warn: kill switch open: .*; serving environment values$/
const CLOSED_LINE = /^ragnos-vault: warn: kill switch closed: .*; serving Vault values$/

function vaultValues(app) {
  const suffix = crypto.randomBytes(4).toString('hex')
  return {
    SVC_API_KEY: `vault-${app}-api-key-${suffix}`,
    SVC_TOKEN: `vault-${app}-token-${suffix}`,
    REF: `vault-${app}-ref-${suffix}`
  }
}

async function seed(bao, app, values) {
  await bao.kvPut(`mcp/${app}`, { SVC_API_KEY: values.SVC_API_KEY, SVC_TOKEN: values.SVC_TOKEN })
  await bao.kvPut(`refs/${app}`, { field: values.REF })
}

function readerEnv(app, addr, token, extra = {}) {
  return {
    VAULT_ADDR: addr,
    VAULT_TOKEN: token,
    ...FAST,
    ...ENV_VALUES,
    RAGNOS_VAULT_APP: app,
    REF: `vault:secret/refs/${app}#field`,
    ...extra
  }
}

async function setup(t, app, { port, token } = {}) {
  const servers = []
  t.teardown(() => Promise.all(servers.map((server) => server.stop())))
  const start = async (options) => {
    const server = await startOpenBao(options)
    servers.push(server)
    return server
  }
  const bao = port ? null : await start()
  const vault = vaultValues(app)
  if (bao) await seed(bao, app, vault)
  const relay = await startRelay(bao ? bao.addr : `http://127.0.0.1:${port}`)
  t.teardown(() => relay.close())
  const restart = async (stopped) => {
    if (stopped) await stopped.stop()
    const server = await start({ port: stopped ? stopped.port : port, token: stopped ? stopped.token : token })
    await seed(server, app, vault)
    return server
  }
  return { bao, vault, relay, restart }
}

function ownReader(t, options) {
  const reader = startReader({ timeoutMs: 60000, ...options })
  t.teardown(() => reader.kill())
  return reader
}

function switchEvents(reader) {
  return reader.events('killswitch').map((e) => e.payload)
}

/** Returns the reads under an open switch: pattern keys from the environment, the reference its Vault value. */
function killedReads(vault) {
  return { ...ENV_VALUES, REF: vault.REF }
}

function allowedReads(vault, refFallback = vault.REF) {
  return {
    SVC_API_KEY: [vault.SVC_API_KEY, ENV_VALUES.SVC_API_KEY],
    SVC_TOKEN: [vault.SVC_TOKEN, ENV_VALUES.SVC_TOKEN],
    REF: [vault.REF, refFallback]
  }
}

test.serial('errors open the switch and a probe closes it', async (t) => {
  const app = 'errors'
  const { bao, vault, relay, restart } = await setup(t, app)
  const settings = {
    RAGNOS_VAULT_KILL_SWITCH_MAX_ERRORS: '4',
    RAGNOS_VAULT_KILL_SWITCH_WINDOW_MS: '10000',
    RAGNOS_VAULT_KILL_SWITCH_COOLDOWN_MS: '1500',
    // Longer than the cooldown, so the probe comes before the next retry is due.
    RAGNOS_VAULT_RETRY_MAX_MS: '4000'
  }
  const reader = ownReader(t, { keys: KEYS, env: readerEnv(app, relay.addr, bao.token, settings) })
  await reader.waitForValues('Vault values', vault, 5000)

  await bao.stop()
  await reader.waitFor('the switch to open', (r) => switchEvents(r).length === 1, 8000)
  t.like(switchEvents(reader)[0], { open: true })
  t.regex(switchEvents(reader)[0].reason, /^4 vault errors within 10000 ms, the last: /)
  await reader.waitForValues('environment values', killedReads(vault), 2000)

  // Still down: each cooldown lets one probe out, which fails and keeps the
  // switch open. 4.5 s is three cooldowns and past the 3 s the cached
  // reference would last without the switch.
  const before = relay.requests.length
  await sleep(4500)
  const probes = relay.requests.length - before
  t.true(probes >= 1 && probes <= 4, `${probes} requests while open`)
  t.is(switchEvents(reader).length, 1)
  t.deepEqual(reader.values(), killedReads(vault))

  await restart(bao)
  await reader.waitFor('the switch to close', (r) => switchEvents(r).length === 2, 6000)
  t.deepEqual(switchEvents(reader)[1], { open: false, reason: 'probe succeeded' })
  await reader.waitForValues('Vault values after the probe', vault, 5000)

  await finishReader(t, reader, { allowed: allowedReads(vault), secrets: [...Object.values(vault), bao.token] })
  t.is(countLines(reader.stderr, OPEN_LINE), 1, reader.stderr)
  t.is(countLines(reader.stderr, CLOSED_LINE), 1, reader.stderr)
})

test.serial('probe logs in when Vault was down from the start', async (t) => {
  const app = 'startdown'
  const port = await findFreePort()
  const token = `root-${crypto.randomBytes(12).toString('hex')}`
  const { vault, relay, restart } = await setup(t, app, { port, token })
  const settings = {
    RAGNOS_VAULT_KILL_SWITCH_MAX_ERRORS: '3',
    RAGNOS_VAULT_KILL_SWITCH_WINDOW_MS: '10000',
    RAGNOS_VAULT_KILL_SWITCH_COOLDOWN_MS: '500',
    RAGNOS_VAULT_RETRY_MAX_MS: '4000'
  }
  const reader = ownReader(t, { keys: KEYS, env: readerEnv(app, relay.addr, token, settings) })
  await reader.waitFor('the switch to open', (r) => switchEvents(r).length === 1, 8000)
  t.true(switchEvents(reader)[0].open)
  t.deepEqual(reader.values(), { ...ENV_VALUES, REF: null })

  await restart(null)
  await reader.waitFor('the switch to close', (r) => switchEvents(r).length === 2, 6000)
  t.false(switchEvents(reader)[1].open)
  await reader.waitForValues('Vault values', vault, 5000)

  await finishReader(t, reader, { allowed: allowedReads(vault, null), secrets: [...Object.values(vault), token] })
  t.is(countLines(reader.stderr, OPEN_LINE), 1, reader.stderr)
  t.is(countLines(reader.stderr, CLOSED_LINE), 1, reader.stderr)
})

test.serial('RAGNOS_VAULT_KILL at start sends no request', async (t) => {
  const app = 'killenv'
  const { bao, vault, relay } = await setup(t, app)
  const reader = ownReader(t, { keys: KEYS, env: readerEnv(app, relay.addr, bao.token, { RAGNOS_VAULT_KILL: '1' }) })
  await reader.waitFor('first read', (r) => r.values() !== null)
  // Long enough for several refresh rounds, had the switch let them out.
  await sleep(2500)
  t.deepEqual(relay.requests, [])
  t.deepEqual(reader.values(), { ...ENV_VALUES, REF: null })
  t.is(countLines(reader.stderr, /^ragnos-vault: warn: kill switch open: RAGNOS_VAULT_KILL is set; serving environment values$/), 1, reader.stderr)

  reader.send('revive')
  await reader.waitForValues('Vault values after revive()', vault, 5000)
  t.true(relay.requests.length > 0)
  t.deepEqual(switchEvents(reader), [{ open: false, reason: 'revive() called' }])

  await finishReader(t, reader, { allowed: allowedReads(vault, null), secrets: [...Object.values(vault), bao.token] })
  t.is(countLines(reader.stderr, OPEN_LINE), 1, reader.stderr)
  t.is(countLines(reader.stderr, CLOSED_LINE), 1, reader.stderr)
})

test.serial('kill file opens the switch and its removal closes it', async (t) => {
  const app = 'killfile'
  const { bao, vault, relay } = await setup(t, app)
  const killFile = path.join(freeDir('ragnos-kill-'), 'kill')
  const reader = ownReader(t, { keys: KEYS, env: readerEnv(app, relay.addr, bao.token, { RAGNOS_VAULT_KILL_FILE: killFile }) })
  await reader.waitForValues('Vault values', vault, 5000)

  fs.writeFileSync(killFile, '')
  const createdAt = Date.now()
  await reader.waitFor('the switch to open', (r) => switchEvents(r).length === 1, 5000)
  t.true(Date.now() - createdAt < 5000)
  t.deepEqual(switchEvents(reader)[0], { open: true, reason: `kill file ${killFile} exists` })
  await reader.waitForValues('environment values', killedReads(vault), 2000)
  const before = relay.requests.length
  // Past the 3 s that the cached reference would last without the switch.
  await sleep(3500)
  t.is(relay.requests.length, before, 'a request went out while the switch was open')
  t.deepEqual(reader.values(), killedReads(vault))

  fs.rmSync(killFile)
  await reader.waitFor('the switch to close', (r) => switchEvents(r).length === 2, 5000)
  t.deepEqual(switchEvents(reader)[1], { open: false, reason: `kill file ${killFile} removed` })
  await reader.waitForValues('Vault values', vault, 5000)

  await finishReader(t, reader, { allowed: allowedReads(vault), secrets: [...Object.values(vault), bao.token] })
  t.is(countLines(reader.stderr, OPEN_LINE), 1, reader.stderr)
  t.is(countLines(reader.stderr, CLOSED_LINE), 1, reader.stderr)
})

test.serial('kill() and revive() switch and raise events', async (t) => {
  const app = 'api'
  const { bao, vault, relay } = await setup(t, app)
  const reader = ownReader(t, { keys: KEYS, env: readerEnv(app, relay.addr, bao.token) })
  await reader.waitForValues('Vault values', vault, 5000)
  const done = (command) => reader.records.filter((r) => r.type === 'done' && r.command === command).map((r) => r.result)

  reader.send('kill maintenance window')
  reader.send('kill again')
  await reader.waitFor('kill() results', () => done('kill').length === 2, 3000)
  t.deepEqual(done('kill'), [true, false])
  await reader.waitForValues('environment values', killedReads(vault), 2000)
  await reader.waitFor('the open event', (r) => switchEvents(r).length === 1, 2000)
  t.deepEqual(switchEvents(reader), [{ open: true, reason: 'maintenance window' }])
  const before = relay.requests.length
  await sleep(3500)
  t.is(relay.requests.length, before, 'a request went out while the switch was open')
  t.deepEqual(reader.values(), killedReads(vault))

  reader.send('revive')
  reader.send('revive')
  await reader.waitFor('revive() results', () => done('revive').length === 2, 3000)
  t.deepEqual(done('revive'), [true, false])
  await reader.waitForValues('Vault values', vault, 5000)
  await reader.waitFor('the close event', (r) => switchEvents(r).length === 2, 2000)
  t.deepEqual(switchEvents(reader)[1], { open: false, reason: 'revive() called' })

  await finishReader(t, reader, { allowed: allowedReads(vault), secrets: [...Object.values(vault), bao.token] })
  t.is(countLines(reader.stderr, /^ragnos-vault: warn: kill switch open: maintenance window; serving environment values$/), 1, reader.stderr)
  t.is(countLines(reader.stderr, /^ragnos-vault: warn: kill switch closed: revive\(\) called; serving Vault values$/), 1, reader.stderr)
  t.is(countLines(reader.stderr, /warn:/), 2, reader.stderr)
})
