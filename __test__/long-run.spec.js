'use strict'

// A program reads 20 managed keys every 10 ms for 60 s while Vault, with a
// 1 s cache TTL, is stopped and restarted twice on the same address and
// root token. No read throws or returns undefined: every key has an
// environment fallback, so each read is the Vault value, the same value
// stale, or the fallback. The heap does not grow across the outages.

const crypto = require('node:crypto')
const test = require('ava')
const { startOpenBao } = require('./helpers/openbao')
const { startReader, sleep } = require('./helpers/reader')
const { FAST, FAILURE_LINE, RECOVERY_LINE, finishReader, countLines } = require('./helpers/scenario')

const APP = 'longrun'
const RUN_MS = 60000
const OUTAGE_MS = 8000
// Heap growth allowed between warm-up and the end, both after a forced GC.
const HEAP_GROWTH_BYTES = 10 * 1024 * 1024
// Resident set growth allowed over the same span. It also counts the
// native allocations of the addon (cache, HTTP client, tokio runtime),
// which the GC does not see.
const RSS_GROWTH_BYTES = 32 * 1024 * 1024

// 14 pattern keys in the app's document, 3 in the shared one, and 3 mapped
// keys in a document of their own.
const APP_KEYS = Array.from({ length: 14 }, (_, i) => `LR_${String(i).padStart(2, '0')}_API_KEY`)
const SHARED_KEYS = ['LR_SHARED_0_TOKEN', 'LR_SHARED_1_TOKEN', 'LR_SHARED_2_TOKEN']
const MAPPED_KEYS = ['LR_MAPPED_0', 'LR_MAPPED_1', 'LR_MAPPED_2']
const KEYS = [...APP_KEYS, ...SHARED_KEYS, ...MAPPED_KEYS]

const suffix = crypto.randomBytes(4).toString('hex')
const VAULT = Object.fromEntries(KEYS.map((key) => [key, `vault-${key.toLowerCase()}-${suffix}`]))
const ENV = Object.fromEntries(KEYS.map((key) => [key, `env-${key.toLowerCase()}`]))

async function seed(bao) {
  await bao.kvPut(`mcp/${APP}`, Object.fromEntries(APP_KEYS.map((key) => [key, VAULT[key]])))
  await bao.kvPut('mcp/shared', Object.fromEntries(SHARED_KEYS.map((key) => [key, VAULT[key]])))
  await bao.kvPut('long/mapped', Object.fromEntries(MAPPED_KEYS.map((key, i) => [`field${i}`, VAULT[key]])))
}

test('20 keys stay readable across two Vault restarts', async (t) => {
  const servers = []
  t.teardown(() => Promise.all(servers.map((server) => server.stop())))
  let bao = await startOpenBao()
  servers.push(bao)
  await seed(bao)
  const { port, token } = bao

  const mapping = Object.fromEntries(MAPPED_KEYS.map((key, i) => [key, `secret/long/mapped#field${i}`]))
  const reader = startReader({
    keys: KEYS,
    intervalMs: 10,
    nodeArgs: ['--expose-gc'],
    timeoutMs: RUN_MS + 30000,
    env: {
      VAULT_ADDR: bao.addr,
      VAULT_TOKEN: token,
      ...FAST,
      ...ENV,
      RAGNOS_VAULT_APP: APP,
      RAGNOS_VAULT_SECRETS: JSON.stringify(mapping)
    }
  })
  t.teardown(() => reader.kill())
  const startedAt = Date.now()
  await reader.waitForValues('Vault values', VAULT, 5000)

  await sleep(8000)
  reader.send('gc')
  const warm = await reader.stats('warm')

  for (let outage = 1; outage <= 2; outage++) {
    await bao.stop()
    await reader.waitForValues(`env fallback in outage ${outage}`, ENV, OUTAGE_MS)
    await sleep(Math.max(0, OUTAGE_MS - 4000))
    bao = await startOpenBao({ port, token })
    servers.push(bao)
    await seed(bao)
    await reader.waitForValues(`Vault values after restart ${outage}`, VAULT, 10000)
    await sleep(5000)
  }

  await sleep(Math.max(0, RUN_MS - (Date.now() - startedAt)))
  reader.send('gc')
  const end = await reader.stats('end')
  t.deepEqual(reader.values(), VAULT)

  const allowed = Object.fromEntries(KEYS.map((key) => [key, [VAULT[key], ENV[key]]]))
  const final = await finishReader(t, reader, { allowed, secrets: [...Object.values(VAULT), token] })
  t.true(Date.now() - startedAt >= RUN_MS)
  // 20 keys every 10 ms for a minute is 120,000 reads. The margin is for a
  // loaded machine, which runs the timer late.
  t.true(final.reads > 40000, `${final.reads} reads`)
  t.true(end.heapUsed - warm.heapUsed < HEAP_GROWTH_BYTES, `heap grew from ${warm.heapUsed} to ${end.heapUsed} bytes`)
  t.true(end.rss - warm.rss < RSS_GROWTH_BYTES, `RSS grew from ${warm.rss} to ${end.rss} bytes`)
  t.log(`reads ${final.reads}, heap ${warm.heapUsed} -> ${end.heapUsed}, RSS ${warm.rss} -> ${end.rss}, delay p99 ${final.lagP99Ms} ms, max ${final.lagMaxMs} ms`)

  const failures = countLines(reader.stderr, FAILURE_LINE)
  t.true(failures >= 2 && failures <= 4, reader.stderr)
  t.is(countLines(reader.stderr, RECOVERY_LINE), 2, reader.stderr)
})
