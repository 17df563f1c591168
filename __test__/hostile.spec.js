'use strict'

// A misbehaving server or proxy in front of the preloader: answers that no
// real Vault gives must neither crash the program nor leak its token.

const http = require('node:http')
const test = require('ava')
const { runNode, parseJsonOutput } = require('./helpers/run')

const TOKEN = 'hvs.hostile-token-6d2f'

function listen(handler) {
  const server = http.createServer(handler)
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, addr: `http://127.0.0.1:${server.address().port}` }))
  })
}

function json(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' })
  res.end(JSON.stringify(body))
}

test('mount answer that is not a prefix does not crash', async (t) => {
  const { server, addr } = await listen((req, res) => {
    if (req.url.startsWith('/v1/auth/token/lookup-self')) return json(res, 200, { data: { ttl: 0 } })
    if (req.url.startsWith('/v1/sys/internal/ui/mounts/')) {
      return json(res, 200, { data: { path: 'a-mount-name-longer-than-any-requested-path-at-all/', options: { version: '2' } } })
    }
    if (req.url.startsWith('/v1/secret/data/mcp/hostile')) {
      const metadata = { created_time: '', deletion_time: '', destroyed: false, version: 1 }
      return json(res, 200, { request_id: 'r', lease_id: '', renewable: false, lease_duration: 0, data: { data: { OPENAI_API_KEY: 'sk-hostile-value' }, metadata } })
    }
    json(res, 404, { errors: [] })
  })
  t.teardown(() => server.close())
  const result = await runNode({
    eval: `const vault = require(process.env.PKG)
           vault.refresh().then(() => console.log(JSON.stringify({ key: process.env.OPENAI_API_KEY || null })))`,
    env: { VAULT_ADDR: addr, VAULT_TOKEN: TOKEN, RAGNOS_VAULT_MODE: 'vault', RAGNOS_VAULT_APP: 'hostile', PKG: require('./helpers/run').REPO_ROOT }
  })
  t.is(result.code, 0, result.stderr)
  t.deepEqual(parseJsonOutput(result), { key: 'sk-hostile-value' })
  t.notRegex(result.stderr, /panicked/)
})

test('redirects are not followed, so the token stays home', async (t) => {
  const captured = []
  const capture = await listen((req, res) => {
    captured.push({ url: req.url, token: req.headers['x-vault-token'] || null })
    json(res, 200, { data: { ttl: 0 } })
  })
  t.teardown(() => capture.server.close())
  const redirector = await listen((req, res) => {
    res.writeHead(307, { Location: `${capture.addr}${req.url}` })
    res.end()
  })
  t.teardown(() => redirector.server.close())
  const result = await runNode({
    eval: 'console.log(JSON.stringify({ key: process.env.OPENAI_API_KEY || null }))',
    env: {
      VAULT_ADDR: redirector.addr,
      VAULT_TOKEN: TOKEN,
      RAGNOS_VAULT_MODE: 'vault',
      RAGNOS_VAULT_APP: 'hostile',
      OPENAI_API_KEY: 'env-value'
    }
  })
  t.is(result.code, 0)
  t.deepEqual(parseJsonOutput(result), { key: 'env-value' })
  t.deepEqual(captured, [])
  t.regex(result.stderr, /status 307/)
  t.false(result.stderr.includes(TOKEN))
})

test('server error with an HTML body is not called unreachable', async (t) => {
  const { server, addr } = await listen((req, res) => {
    if (req.url.startsWith('/v1/auth/token/lookup-self')) return json(res, 200, { data: { ttl: 0 } })
    res.writeHead(500, { 'Content-Type': 'text/html' })
    res.end('<html>oops</html>')
  })
  t.teardown(() => server.close())
  const result = await runNode({
    eval: 'console.log(JSON.stringify({ key: process.env.OPENAI_API_KEY || null }))',
    env: { VAULT_ADDR: addr, VAULT_TOKEN: TOKEN, RAGNOS_VAULT_MODE: 'vault', RAGNOS_VAULT_APP: 'hostile', OPENAI_API_KEY: 'env-value' }
  })
  t.deepEqual(parseJsonOutput(result), { key: 'env-value' })
  t.regex(result.stderr, /reading secret\/mcp\/\w+: status 500; serving environment values/)
  t.notRegex(result.stderr, /unreachable/)
})
