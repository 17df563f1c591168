'use strict'

// Bad input: each gets one stderr line that names the value and says what
// happens next, and the program keeps its environment values.

const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const test = require('ava')
const { withOpenBao } = require('./helpers/openbao')
const { runNode, parseJsonOutput, fixture, freeDir } = require('./helpers/run')

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/settings', { OPENAI_API_KEY: 'sk-vault-settings-e5' })
  }
})

const KEYS = ['OPENAI_API_KEY', 'DB']
const ENV_VALUES = { OPENAI_API_KEY: 'env-openai-settings', DB: 'postgres://env@db/app' }

async function run(t, env, options = {}) {
  const result = await runNode({
    script: fixture('print-env.js'),
    args: KEYS,
    env: {
      ...t.context.bao.clientEnv(),
      RAGNOS_VAULT_APP: 'settings',
      RAGNOS_VAULT_MODE: 'vault',
      ...ENV_VALUES,
      ...env
    },
    ...options
  })
  return result
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

// Checks the outcome every bad input shares: exit 0, the environment
// values, stdout untouched, and exactly one stderr line matching `pattern`.
function assertFallback(t, result, pattern) {
  t.is(result.code, 0, result.stderr)
  t.deepEqual(parseJsonOutput(result), ENV_VALUES)
  const lines = result.stderr.trim().split('\n')
  t.is(lines.length, 1, result.stderr)
  t.regex(lines[0], /^ragnos-vault: warn: /)
  t.regex(lines[0], pattern)
}

function writeConfig(text) {
  const dir = freeDir()
  fs.writeFileSync(path.join(dir, 'ragnos-vault.json'), text)
  return dir
}

test('malformed config file', async (t) => {
  const dir = writeConfig('{ "mode": "vault", }')
  const result = await run(t, {}, { cwd: dir })
  assertFallback(t, result, /config file .*ragnos-vault\.json: .*line 1 column \d+; preloader off, serving environment values$/)
})

test('config file with an unknown field', async (t) => {
  const dir = writeConfig('{ "mdoe": "vault" }')
  const result = await run(t, {}, { cwd: dir })
  assertFallback(t, result, /config file .*: unknown field "mdoe"; preloader off/)
})

test('unreadable config file', async (t) => {
  const dir = freeDir()
  const result = await run(t, { RAGNOS_VAULT_CONFIG: dir })
  assertFallback(t, result, /config file .*: not a regular file; preloader off, serving environment values$/)
})

test('missing config file named by RAGNOS_VAULT_CONFIG', async (t) => {
  const result = await run(t, { RAGNOS_VAULT_CONFIG: '/nonexistent/ragnos.json' })
  assertFallback(t, result, /config file \/nonexistent\/ragnos\.json: No such file or directory.*; preloader off/)
})

test('unknown mode', async (t) => {
  const result = await run(t, { RAGNOS_VAULT_MODE: 'bogus' })
  assertFallback(
    t,
    result,
    /invalid mode "bogus" from RAGNOS_VAULT_MODE: expected one of off, shadow, dual, vault; preloader off, serving environment values$/
  )
})

test('canary percent out of range', async (t) => {
  for (const value of ['150', '-1', 'half']) {
    const result = await run(t, { RAGNOS_VAULT_CANARY_PERCENT: value, RAGNOS_VAULT_MODE: 'dual' })
    assertFallback(t, result, new RegExp(`invalid canary_percent "${value}" from RAGNOS_VAULT_CANARY_PERCENT: expected .*; preloader off`))
  }
})

test('canary percent out of range in the config file', async (t) => {
  const dir = writeConfig('{ "mode": "dual", "canary_percent": 101 }')
  const result = await run(t, { RAGNOS_VAULT_MODE: '' }, { cwd: dir })
  assertFallback(t, result, /invalid canary_percent "101" from canary_percent in .*ragnos-vault\.json: expected 0 to 100; preloader off/)
})

test('invalid Vault address', async (t) => {
  const cases = [
    ['not a url', /not a URL/],
    ['ftp://127.0.0.1:21', /scheme "ftp" is not http or https/],
    ['http://', /not a URL|no host/],
    ['http://127.0.0.1:8200/?x=1', /no query or fragment/]
  ]
  for (const [address, reason] of cases) {
    const result = await run(t, { VAULT_ADDR: address })
    assertFallback(t, result, new RegExp(`invalid address "${address.replace(/[?.]/g, '\\$&')}" from VAULT_ADDR: `))
    t.regex(result.stderr, reason)
  }
})

test('malformed reference affects only its own key', async (t) => {
  const result = await runNode({
    script: fixture('print-env.js'),
    args: ['EXTRA_REF', 'OPENAI_API_KEY'],
    env: { ...t.context.bao.clientEnv(), RAGNOS_VAULT_APP: 'settings', RAGNOS_VAULT_MODE: 'vault', EXTRA_REF: 'vault:secret#field' }
  })
  t.is(result.code, 0)
  t.deepEqual(parseJsonOutput(result), { EXTRA_REF: null, OPENAI_API_KEY: 'sk-vault-settings-e5' })
  t.regex(result.stderr, /^ragnos-vault: warn: invalid reference "vault:secret#field" in EXTRA_REF: expected <mount>\/<path>.*; the key reads as unset\n$/)
})

test('vault unreachable at startup', async (t) => {
  const port = await closedPort()
  const result = await run(t, { VAULT_ADDR: `http://127.0.0.1:${port}` })
  assertFallback(
    t,
    result,
    new RegExp(`vault unreachable at http://127.0.0.1:${port} \\(.*[Cc]onnection refused.*\\); serving environment values$`)
  )
})

test('token rejected at startup', async (t) => {
  const result = await run(t, { VAULT_TOKEN: 'hvs.rejected-token-0d9e' })
  assertFallback(t, result, /vault rejected the token at http:\/\/127\.0\.0\.1:\d+ \(status 403\); serving environment values$/)
  t.false(result.stderr.includes('rejected-token-0d9e'))
})

test('bad setting in strict mode exits 78', async (t) => {
  const result = await run(t, { RAGNOS_VAULT_MODE: 'bogus', RAGNOS_VAULT_STRICT: 'true' })
  t.is(result.code, 78)
  t.is(result.stdout, '')
  t.regex(result.stderr, /^ragnos-vault: error: invalid mode "bogus" .*; strict mode, exiting with code 78\n$/)
})

test('vault unreachable in strict mode exits 78', async (t) => {
  const port = await closedPort()
  const result = await run(t, { VAULT_ADDR: `http://127.0.0.1:${port}`, RAGNOS_VAULT_STRICT: 'yes' })
  t.is(result.code, 78)
  t.regex(result.stderr, /strict mode: no Vault value for OPENAI_API_KEY; exiting with code 78/)
  t.false(result.stderr.includes('env-openai-settings'))
})

test('no address leaves the program alone', async (t) => {
  const result = await run(t, { VAULT_ADDR: undefined, VAULT_TOKEN: undefined })
  t.is(result.code, 0)
  t.is(result.stderr, '')
  t.deepEqual(parseJsonOutput(result), ENV_VALUES)
})

test('token from ~/.vault-token', async (t) => {
  const result = await runNode({
    eval: `require('fs').writeFileSync(require('os').homedir() + '/.vault-token', ${JSON.stringify(t.context.bao.token)})`,
    preload: false
  })
  t.is(result.code, 0)
  const home = result.home
  const fromFile = await run(t, { VAULT_TOKEN: undefined, HOME: home, OPENAI_API_KEY: undefined })
  t.is(fromFile.stderr, '')
  t.is(parseJsonOutput(fromFile).OPENAI_API_KEY, 'sk-vault-settings-e5')
})

test('BAO_ADDR and BAO_TOKEN work in place of VAULT_ADDR and VAULT_TOKEN', async (t) => {
  const { addr, token } = t.context.bao
  const result = await run(t, { VAULT_ADDR: undefined, VAULT_TOKEN: undefined, BAO_ADDR: addr, BAO_TOKEN: token })
  t.is(result.stderr, '')
  t.is(parseJsonOutput(result).OPENAI_API_KEY, 'sk-vault-settings-e5')
})
