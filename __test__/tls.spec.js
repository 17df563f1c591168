'use strict'

// TLS to a real OpenBao server in its TLS dev mode: CA bundle, CA folder,
// server name, client certificate and VAULT_SKIP_VERIFY.

const fs = require('node:fs')
const path = require('node:path')
const test = require('ava')
const { startOpenBao } = require('./helpers/openbao')
const { runNode, parseJsonOutput, fixture, freeDir } = require('./helpers/run')

const SECRET = 'sk-vault-tls-93ad'

test.before(async (t) => {
  // Two servers, so each has a CA the other does not trust.
  const [bao, other] = await Promise.all([startOpenBao({ tls: true }), startOpenBao({ tls: true })])
  t.context.bao = bao
  t.context.other = other
  await bao.kvPut('mcp/tls', { OPENAI_API_KEY: SECRET })
})

test.after.always(async (t) => {
  await Promise.all([t.context.bao, t.context.other].filter(Boolean).map((s) => s.stop()))
})

async function read(t, env) {
  const result = await runNode({
    script: fixture('print-env.js'),
    args: ['OPENAI_API_KEY'],
    env: {
      VAULT_ADDR: t.context.bao.addr,
      VAULT_TOKEN: t.context.bao.token,
      RAGNOS_VAULT_MODE: 'vault',
      RAGNOS_VAULT_APP: 'tls',
      OPENAI_API_KEY: 'env-fallback',
      RAGNOS_VAULT_STARTUP_TIMEOUT_MS: '5000',
      ...env
    }
  })
  t.is(result.code, 0, result.stderr)
  return { value: parseJsonOutput(result).OPENAI_API_KEY, stderr: result.stderr }
}

test('CA bundle from VAULT_CACERT', async (t) => {
  const { value, stderr } = await read(t, { VAULT_CACERT: t.context.bao.caCert })
  t.is(value, SECRET)
  t.is(stderr, '')
})

test('CA bundle from BAO_CACERT', async (t) => {
  const { value } = await read(t, { BAO_CACERT: t.context.bao.caCert })
  t.is(value, SECRET)
})

test('CA folder from VAULT_CAPATH', async (t) => {
  const dir = freeDir()
  fs.copyFileSync(t.context.bao.caCert, path.join(dir, 'ca.pem'))
  const { value, stderr } = await read(t, { VAULT_CAPATH: dir })
  t.is(value, SECRET)
  t.is(stderr, '')
})

test('wrong CA falls back to env with one line', async (t) => {
  const { value, stderr } = await read(t, { VAULT_CACERT: t.context.other.caCert })
  t.is(value, 'env-fallback')
  const lines = stderr.trim().split('\n')
  t.is(lines.length, 1, stderr)
  t.regex(lines[0], /^ragnos-vault: warn: vault unreachable at https:\/\/127\.0\.0\.1:\d+ \(.*(certificate|issuer).*\); serving environment values$/i)
})

test('system roots do not trust the dev CA', async (t) => {
  const { value, stderr } = await read(t, {})
  t.is(value, 'env-fallback')
  t.regex(stderr, /vault unreachable at https:/)
})

test('missing CA file is named in the error', async (t) => {
  const { value, stderr } = await read(t, { VAULT_CACERT: '/nonexistent/ca.pem' })
  t.is(value, 'env-fallback')
  t.regex(stderr, /^ragnos-vault: warn: TLS setup for \/nonexistent\/ca\.pem: No such file or directory.*; serving environment values\n$/)
})

test('file that holds no certificate is rejected', async (t) => {
  const dir = freeDir()
  const bogus = path.join(dir, 'ca.pem')
  fs.writeFileSync(bogus, 'not a certificate\n')
  const { value, stderr } = await read(t, { VAULT_CACERT: bogus })
  t.is(value, 'env-fallback')
  t.regex(stderr, /TLS setup for .*ca\.pem: no certificate in the file; serving environment values/)
})

test('VAULT_TLS_SERVER_NAME verifies against that name', async (t) => {
  const good = await read(t, { VAULT_CACERT: t.context.bao.caCert, VAULT_TLS_SERVER_NAME: 'localhost' })
  t.is(good.value, SECRET)
  t.is(good.stderr, '')
  const bad = await read(t, { VAULT_CACERT: t.context.bao.caCert, VAULT_TLS_SERVER_NAME: 'vault.internal.test' })
  t.is(bad.value, 'env-fallback')
  t.regex(bad.stderr, /vault unreachable at https:.*(name|NotValidForName|certificate)/i)
})

test('VAULT_SKIP_VERIFY true connects and warns', async (t) => {
  const { value, stderr } = await read(t, { VAULT_SKIP_VERIFY: 'true' })
  t.is(value, SECRET)
  t.regex(stderr, /^ragnos-vault: warn: VAULT_SKIP_VERIFY is set: the Vault server's TLS certificate is not verified\n$/)
})

test('VAULT_SKIP_VERIFY false or unparsable keeps verification on', async (t) => {
  const off = await read(t, { VAULT_SKIP_VERIFY: 'false' })
  t.is(off.value, 'env-fallback')
  for (const value of ['', 'maybe']) {
    const result = await read(t, { VAULT_SKIP_VERIFY: value })
    t.is(result.value, 'env-fallback')
    t.regex(result.stderr, new RegExp(`invalid VAULT_SKIP_VERIFY "${value}": expected true or false; TLS certificates are verified`))
  }
})

test('client certificate and key are loaded', async (t) => {
  const { cert, key, caCert } = t.context.bao
  const good = await read(t, { VAULT_CACERT: caCert, VAULT_CLIENT_CERT: cert, VAULT_CLIENT_KEY: key })
  t.is(good.value, SECRET)
  const dir = freeDir()
  const badKey = path.join(dir, 'key.pem')
  fs.writeFileSync(badKey, 'garbage\n')
  const bad = await read(t, { VAULT_CACERT: caCert, VAULT_CLIENT_CERT: cert, VAULT_CLIENT_KEY: badKey })
  t.is(bad.value, 'env-fallback')
  t.regex(bad.stderr, /TLS setup for .*vault-cert\.pem: invalid client certificate or key/)
})
