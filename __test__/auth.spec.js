'use strict'

// Login methods against a real OpenBao server: AppRole with the secret id
// as a value or a file, JWT, and Kubernetes. OpenBao checks a Kubernetes
// token by calling the cluster's TokenReview API; no cluster runs here, so
// a loopback HTTP server answers that one call.

const { execFileSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const test = require('ava')
const { withOpenBao } = require('./helpers/openbao')
const { runNode, parseJsonOutput, freeDir } = require('./helpers/run')

const SECRET = 'sk-vault-auth-5e21'
const READER = 'path "secret/data/mcp/*" { capabilities = ["read"] }'

async function ok(bao, method, apiPath, body) {
  const response = await bao.request(method, apiPath, body)
  if (response.status >= 300) throw new Error(`${method} ${apiPath}: ${response.status} ${response.text}`)
  return response.body
}

function base64url(value) {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
}

function signJwt(privateKey, claims) {
  const head = base64url({ alg: 'RS256', typ: 'JWT' })
  const body = base64url(claims)
  const signature = crypto.sign('sha256', Buffer.from(`${head}.${body}`), privateKey)
  return `${head}.${body}.${signature.toString('base64url')}`
}

function startTokenReview(expectedJwt) {
  const requests = []
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString() || '{}')
      requests.push(req.url)
      const valid = review.spec && review.spec.token === expectedJwt
      res.setHeader('Content-Type', 'application/json')
      res.end(
        JSON.stringify({
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          status: valid
            ? { authenticated: true, user: { username: 'system:serviceaccount:apps:mcp', uid: 'uid-mcp-1', groups: [] } }
            : { authenticated: false, error: 'invalid token' }
        })
      )
    })
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, requests, url: `http://127.0.0.1:${server.address().port}` }))
  })
}

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/auth', { OPENAI_API_KEY: SECRET })
    await bao.putPolicy('auth-reader', READER)
  }
})

async function readKey(t, env) {
  const result = await runNode({
    eval: `console.log(JSON.stringify({
      key: process.env.OPENAI_API_KEY || null,
      secretId: process.env.VAULT_SECRET_ID || null,
      roleId: process.env.VAULT_ROLE_ID || null,
      block: require('fs').readFileSync('/proc/self/environ', 'utf8')
    }))`,
    env: { VAULT_ADDR: t.context.bao.addr, RAGNOS_VAULT_MODE: 'vault', RAGNOS_VAULT_APP: 'auth', ...env }
  })
  t.is(result.code, 0, result.stderr)
  return { out: parseJsonOutput(result), stderr: result.stderr }
}

async function approle(bao) {
  await bao.request('POST', '/v1/sys/auth/approle', { type: 'approle' })
  await ok(bao, 'POST', '/v1/auth/approle/role/mcp', { token_policies: ['auth-reader'], token_ttl: '1h' })
  const roleId = (await ok(bao, 'GET', '/v1/auth/approle/role/mcp/role-id')).data.role_id
  const secretId = (await ok(bao, 'POST', '/v1/auth/approle/role/mcp/secret-id', {})).data.secret_id
  return { roleId, secretId }
}

test.serial('AppRole with the secret id in the environment', async (t) => {
  const { roleId, secretId } = await approle(t.context.bao)
  const { out, stderr } = await readKey(t, { VAULT_ROLE_ID: roleId, VAULT_SECRET_ID: secretId })
  t.is(out.key, SECRET)
  t.is(stderr, '')
  t.is(out.secretId, null)
  t.is(out.roleId, null)
  t.false(out.block.includes(secretId))
})

test.serial('AppRole with the secret id in a file', async (t) => {
  const { roleId, secretId } = await approle(t.context.bao)
  const file = path.join(freeDir(), 'secret-id')
  fs.writeFileSync(file, `${secretId}\n`)
  const { out } = await readKey(t, { VAULT_ROLE_ID: roleId, RAGNOS_VAULT_SECRET_ID_FILE: file })
  t.is(out.key, SECRET)
})

test.serial('AppRole with a wrong secret id falls back with one line', async (t) => {
  const { roleId } = await approle(t.context.bao)
  const wrong = 'f00dfeed-0000-4000-8000-000000000000'
  const { out, stderr } = await readKey(t, { VAULT_ROLE_ID: roleId, VAULT_SECRET_ID: wrong, OPENAI_API_KEY: 'env-value' })
  t.is(out.key, 'env-value')
  t.regex(stderr, /^ragnos-vault: warn: vault login with approle at auth\/approle failed: status 400: .*; serving environment values\n$/)
  t.false(stderr.includes(wrong))
})

test.serial('AppRole without a secret id is a bad setting', async (t) => {
  const { out, stderr } = await readKey(t, { RAGNOS_VAULT_AUTH_METHOD: 'approle', VAULT_ROLE_ID: 'r', OPENAI_API_KEY: 'env-value' })
  t.is(out.key, 'env-value')
  t.regex(stderr, /AppRole login needs VAULT_SECRET_ID or RAGNOS_VAULT_SECRET_ID_FILE; preloader off, serving environment values/)
})

test.serial('JWT login with a token from a file', async (t) => {
  const bao = t.context.bao
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  await bao.request('POST', '/v1/sys/auth/jwt', { type: 'jwt' })
  await ok(bao, 'POST', '/v1/auth/jwt/config', {
    jwt_validation_pubkeys: [publicKey.export({ type: 'spki', format: 'pem' })]
  })
  await ok(bao, 'POST', '/v1/auth/jwt/role/mcp', {
    role_type: 'jwt',
    bound_audiences: ['ragnos-test'],
    user_claim: 'sub',
    token_policies: ['auth-reader']
  })
  const now = Math.floor(Date.now() / 1000)
  const jwt = signJwt(privateKey, { sub: 'mcp-server', aud: 'ragnos-test', iat: now, nbf: now - 5, exp: now + 600 })
  const file = path.join(freeDir(), 'jwt')
  fs.writeFileSync(file, jwt)
  const { out, stderr } = await readKey(t, {
    RAGNOS_VAULT_AUTH_METHOD: 'jwt',
    RAGNOS_VAULT_AUTH_ROLE: 'mcp',
    RAGNOS_VAULT_JWT_FILE: file
  })
  t.is(out.key, SECRET)
  t.is(stderr, '')
})

test.serial('Kubernetes login with a service account token file', async (t) => {
  const bao = t.context.bao
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  const now = Math.floor(Date.now() / 1000)
  const jwt = signJwt(privateKey, {
    iss: 'kubernetes/serviceaccount',
    'kubernetes.io/serviceaccount/namespace': 'apps',
    'kubernetes.io/serviceaccount/service-account.name': 'mcp',
    'kubernetes.io/serviceaccount/service-account.uid': 'uid-mcp-1',
    sub: 'system:serviceaccount:apps:mcp',
    iat: now
  })
  const review = await startTokenReview(jwt)
  t.teardown(() => review.server.close())
  await bao.request('POST', '/v1/sys/auth/kubernetes', { type: 'kubernetes' })
  // The CA is never used for an http:// host, but OpenBao requires one
  // when it may not read the pod's own CA file.
  const dir = freeDir()
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=cluster-ca', '-days', '1',
    '-keyout', path.join(dir, 'ca.key'), '-out', path.join(dir, 'ca.crt')], { stdio: 'ignore' })
  await ok(bao, 'POST', '/v1/auth/kubernetes/config', {
    kubernetes_host: review.url,
    disable_local_ca_jwt: true,
    kubernetes_ca_cert: fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8')
  })
  await ok(bao, 'POST', '/v1/auth/kubernetes/role/mcp', {
    bound_service_account_names: ['mcp'],
    bound_service_account_namespaces: ['apps'],
    token_policies: ['auth-reader']
  })
  const file = path.join(freeDir(), 'token')
  fs.writeFileSync(file, jwt)
  const { out, stderr } = await readKey(t, {
    RAGNOS_VAULT_AUTH_METHOD: 'kubernetes',
    RAGNOS_VAULT_AUTH_ROLE: 'mcp',
    RAGNOS_VAULT_JWT_FILE: file
  })
  t.is(out.key, SECRET, stderr)
  t.is(stderr, '')
  t.true(review.requests.some((url) => url.includes('tokenreviews')))
})
