'use strict'

// Token renewal: a renewable token with a short TTL is renewed before it
// expires, so reads keep coming from Vault past the token's first TTL.

const test = require('ava')
const { withOpenBao } = require('./helpers/openbao')
const { startRelay } = require('./helpers/relay')
const { startReader, sleep } = require('./helpers/reader')

const SECRET = 'sk-vault-renewal-0b7e'

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/renewal', { OPENAI_API_KEY: SECRET })
  }
})

test('renewable token is renewed before it expires', async (t) => {
  const bao = t.context.bao
  const token = await bao.createToken({ policies: ['root'], ttl: '4s', explicit_max_ttl: '1h', renewable: true })
  const relay = await startRelay(bao.addr)
  t.teardown(() => relay.close())
  const reader = startReader({
    keys: ['OPENAI_API_KEY'],
    env: {
      VAULT_ADDR: relay.addr,
      VAULT_TOKEN: token,
      RAGNOS_VAULT_MODE: 'vault',
      RAGNOS_VAULT_APP: 'renewal',
      RAGNOS_VAULT_CACHE_TTL_MS: '1000',
      RAGNOS_VAULT_MAX_STALE_MS: '500',
      OPENAI_API_KEY: 'env-fallback'
    },
    timeoutMs: 30000
  })
  t.teardown(() => reader.kill())
  await reader.waitForValues('the Vault value', { OPENAI_API_KEY: SECRET }, 5000)

  // Three times the token's TTL: without renewal it would have expired,
  // reads would fail with 403 and the value would fall back to env.
  await sleep(12000)
  t.deepEqual(reader.values(), { OPENAI_API_KEY: SECRET })
  const renewals = relay.requests.filter((r) => r.path.startsWith('/v1/auth/token/renew-self'))
  t.true(renewals.length >= 3, `${renewals.length} renewals`)
  t.true(renewals.length <= 12, `${renewals.length} renewals`)
  const lookup = await bao.request('GET', '/v1/auth/token/lookup-self', undefined, token)
  t.is(lookup.status, 200)
  t.false(reader.stderr.includes(token))
})
