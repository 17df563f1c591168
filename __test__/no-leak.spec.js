'use strict'

// No secret ever leaves process memory. Each scenario seeds distinctive
// values, runs a program that exercises every read path and API call with
// RAGNOS_VAULT_LOG=trace and an audit file, and scans everything the
// preloader could write to: stdout, stderr, the audit file, the API's
// reports and error messages (printed by the program), and the program's
// environment block, read from inside and from /proc/<pid>/environ while
// it runs.
//
// Values the scenario passes in the environment may sit in the
// environment block, because the program was started with them; nothing
// else may. No value may appear anywhere else.

const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const test = require('ava')
const { withOpenBao } = require('./helpers/openbao')
const { cleanEnv, fixture, freeDir, REPO_ROOT } = require('./helpers/run')

const RUN = crypto.randomBytes(6).toString('hex')
const value = (name) => `leak-${name}-${RUN}`

const VAULT = {
  OPENAI_API_KEY: value('vault-openai'),
  GITHUB_TOKEN: value('vault-github'),
  STRIPE_SECRET: value('vault-stripe'),
  SHARED_API_KEY: value('same-in-env-and-vault'),
  DATABASE_URL: `postgres://app:${value('vault-db-password')}@db/app`,
  REF: value('vault-reference')
}
const ENV = {
  OPENAI_API_KEY: value('env-openai'),
  SHARED_API_KEY: VAULT.SHARED_API_KEY,
  LOCAL_ONLY_TOKEN: value('env-only-token'),
  DATABASE_URL: `postgres://app:${value('env-db-password')}@db/app`
}
const KEYS = ['OPENAI_API_KEY', 'GITHUB_TOKEN', 'STRIPE_SECRET', 'SHARED_API_KEY', 'DATABASE_URL', 'LOCAL_ONLY_TOKEN', 'REF', 'DENIED_TOKEN']
const READER_POLICY = `
path "secret/data/mcp/*" { capabilities = ["read"] }
path "secret/data/refs/*" { capabilities = ["read"] }
`

const credentials = {}

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/leak', {
      OPENAI_API_KEY: VAULT.OPENAI_API_KEY,
      GITHUB_TOKEN: VAULT.GITHUB_TOKEN,
      STRIPE_SECRET: VAULT.STRIPE_SECRET,
      SHARED_API_KEY: VAULT.SHARED_API_KEY
    })
    await bao.kvPut('mcp/shared', { DATABASE_URL: VAULT.DATABASE_URL })
    await bao.kvPut('refs/leak', { value: VAULT.REF })
    await bao.kvPut('private/leak', { DENIED_TOKEN: value('vault-denied') })
    await bao.putPolicy('leak-reader', READER_POLICY)
    credentials.limitedToken = await bao.createToken({ policies: ['leak-reader'] })
    Object.assign(credentials, await approle(bao))
  }
})

// Enables AppRole, creates a role with the reader policy, and returns its
// role id and a fresh secret id.
async function approle(bao) {
  const ok = async (method, apiPath, body) => {
    const response = await bao.request(method, apiPath, body)
    if (response.status >= 300) throw new Error(`${method} ${apiPath}: HTTP ${response.status} ${response.text}`)
    return response.body
  }
  await ok('POST', '/v1/sys/auth/approle', { type: 'approle' })
  await ok('POST', '/v1/auth/approle/role/leak', { token_policies: ['leak-reader'], token_ttl: '10m' })
  const roleId = (await ok('GET', '/v1/auth/approle/role/leak/role-id')).data.role_id
  const secretId = (await ok('POST', '/v1/auth/approle/role/leak/secret-id', {})).data.secret_id
  return { roleId, secretId }
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

// Runs the program; reads /proc/<pid>/environ from outside once it is
// ready. Resolves to what it printed, its environment blocks and the
// audit file.
function runProgram(env) {
  const dir = freeDir('ragnos-leak-')
  const auditFile = path.join(dir, 'audit.jsonl')
  const environFile = path.join(dir, 'environ.bin')
  const child = spawn(
    process.execPath,
    ['-r', REPO_ROOT, fixture('no-leak-program.js'), REPO_ROOT, environFile, KEYS.join(',')],
    {
      cwd: dir,
      env: cleanEnv(dir, { RAGNOS_VAULT_LOG: 'trace', RAGNOS_VAULT_AUDIT_LOG: auditFile, ...env }),
      stdio: ['pipe', 'pipe', 'pipe']
    }
  )
  let stdout = ''
  let stderr = ''
  let outside = null
  child.stderr.on('data', (chunk) => (stderr += chunk))
  child.stdout.on('data', (chunk) => {
    stdout += chunk
    const ready = stdout.match(/^\{"ready":(\d+)\}\n/)
    if (ready && outside === null) {
      outside = fs.readFileSync(`/proc/${ready[1]}/environ`)
      child.stdin.write('go\n')
    }
  })
  child.stdin.on('error', () => {})
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the program timed out\n${stdout}\n${stderr}`))
    }, 60000)
    child.on('close', (code) => {
      clearTimeout(timer)
      const read = (file) => (fs.existsSync(file) ? fs.readFileSync(file) : Buffer.alloc(0))
      const lines = stdout.trim().split('\n')
      const report = lines.length > 1 ? JSON.parse(lines[lines.length - 1]) : null
      resolve({ code, stdout, stderr, report, outside, inside: read(environFile), audit: read(auditFile).toString('utf8') })
    })
  })
}

// The values a scenario must never show anywhere, and those it passed in
// the environment, which may sit only in the environment block. The
// credentials must be scrubbed from it too.
function forbidden(t, env) {
  const given = new Set(Object.values(env))
  const credentialValues = [t.context.bao.token, credentials.secretId, credentials.roleId, credentials.limitedToken]
  const fromVault = [...Object.values(VAULT), value('vault-denied')]
  return {
    block: [...fromVault.filter((v) => !given.has(v)), ...credentialValues],
    outputs: [...new Set([...fromVault, ...Object.values(ENV), ...credentialValues])]
  }
}

function findIn(haystack, needles) {
  const text = Buffer.isBuffer(haystack) ? haystack.toString('latin1') : haystack
  return needles.filter((needle) => text.includes(needle))
}

function assertNoLeak(t, run, env) {
  const { block, outputs } = forbidden(t, env)
  t.deepEqual(findIn(run.stdout, outputs), [], 'stdout')
  t.deepEqual(findIn(run.stderr, outputs), [], 'stderr')
  t.deepEqual(findIn(run.audit, outputs), [], 'audit file')
  if (run.report) {
    for (const part of ['stats', 'status', 'settings', 'errors', 'events']) {
      t.deepEqual(findIn(JSON.stringify(run.report[part]), outputs), [], part)
    }
    t.deepEqual(findIn(run.inside, block), [], '/proc/self/environ read by the program')
    t.truthy(run.outside, 'the test read /proc/<pid>/environ')
    t.deepEqual(findIn(run.outside, block), [], '/proc/<pid>/environ read by the test')
  }
}

function sha256(text) {
  return crypto.createHash('sha256').update(text).digest('hex')
}

async function scenario(t, env, { code = 0 } = {}) {
  const run = await runProgram(env)
  t.is(run.code, code, run.stderr)
  t.not(run.stderr, '', 'trace logging wrote nothing')
  t.not(run.audit, '', 'the audit file is empty')
  for (const line of run.audit.trimEnd().split('\n')) JSON.parse(line)
  if (code === 0) {
    t.truthy(run.report, run.stdout)
    t.is(run.report.errors.length, 3, JSON.stringify(run.report.errors))
  }
  assertNoLeak(t, run, env)
  return run
}

function baseEnv(t, extra) {
  return {
    VAULT_ADDR: t.context.bao.addr,
    VAULT_TOKEN: t.context.bao.token,
    VAULT_SECRET_ID: credentials.secretId,
    RAGNOS_VAULT_APP: 'leak',
    REF: 'vault:secret/refs/leak#value',
    DENIED_TOKEN: 'env-denied-token',
    ...extra
  }
}

test('off mode leaks nothing', async (t) => {
  const env = baseEnv(t, { ...ENV, RAGNOS_VAULT_MODE: 'off' })
  const run = await scenario(t, env)
  t.is(run.report.first.OPENAI_API_KEY.sha256, sha256(ENV.OPENAI_API_KEY))
})

test('shadow mode with matches and mismatches leaks nothing', async (t) => {
  const env = baseEnv(t, { ...ENV, RAGNOS_VAULT_MODE: 'shadow' })
  const run = await scenario(t, env)
  const outcomes = Object.fromEntries(run.report.events.filter((e) => e.event === 'shadow').map((e) => [e.key, e.reason]))
  t.is(outcomes.OPENAI_API_KEY, 'mismatch')
  t.is(outcomes.SHARED_API_KEY, 'match')
  t.is(outcomes.LOCAL_ONLY_TOKEN, 'missing_in_vault')
  t.is(outcomes.GITHUB_TOKEN, 'missing_in_env')
  t.is(run.report.first.REF.sha256, sha256(VAULT.REF))
})

test('dual mode leaks nothing', async (t) => {
  const env = baseEnv(t, { ...ENV, RAGNOS_VAULT_MODE: 'dual', RAGNOS_VAULT_CANARY_PERCENT: '50' })
  const run = await scenario(t, env)
  t.true(run.report.stats.canary.keys > 0)
})

test('vault mode with every read audited leaks nothing', async (t) => {
  const env = baseEnv(t, { ...ENV, RAGNOS_VAULT_MODE: 'vault', RAGNOS_VAULT_AUDIT_EVERY_READ: 'true' })
  const run = await scenario(t, env)
  t.is(run.report.first.OPENAI_API_KEY.sha256, sha256(VAULT.OPENAI_API_KEY))
  t.is(run.report.worker.GITHUB_TOKEN, sha256(VAULT.GITHUB_TOKEN))
  t.is(run.report.child.DATABASE_URL, sha256(VAULT.DATABASE_URL))
  t.is(run.report.whileKilled.OPENAI_API_KEY.sha256, sha256(ENV.OPENAI_API_KEY))
})

test('AppRole login leaks neither role id nor secret id', async (t) => {
  const env = baseEnv(t, { ...ENV, RAGNOS_VAULT_MODE: 'vault', VAULT_TOKEN: undefined, VAULT_ROLE_ID: credentials.roleId })
  const run = await scenario(t, env)
  t.is(run.report.first.GITHUB_TOKEN.sha256, sha256(VAULT.GITHUB_TOKEN))
  t.is(run.report.settings.vault.auth_method, 'approle')
})

test('fallbacks leak nothing', async (t) => {
  const env = baseEnv(t, {
    ...ENV,
    RAGNOS_VAULT_MODE: 'vault',
    VAULT_TOKEN: credentials.limitedToken,
    RAGNOS_VAULT_SECRETS: JSON.stringify({ DENIED_TOKEN: 'secret/private/leak#DENIED_TOKEN' })
  })
  const run = await scenario(t, env)
  const reasons = Object.fromEntries(run.report.events.filter((e) => e.event === 'fallback').map((e) => [e.key, e.reason]))
  t.is(reasons.LOCAL_ONLY_TOKEN, 'missing_in_vault')
  t.is(reasons.DENIED_TOKEN, 'vault_unavailable')
  t.true(run.report.status.lastErrors.some((e) => e.kind === 'permission_denied'))
})

test('bad config leaks nothing', async (t) => {
  const env = baseEnv(t, { ...ENV, RAGNOS_VAULT_MODE: 'vault', RAGNOS_VAULT_CANARY_PERCENT: 'most' })
  const run = await scenario(t, env)
  t.false(run.report.status.active)
  t.regex(run.stderr, /invalid canary_percent "most"/)
})

test('Vault down leaks nothing', async (t) => {
  const port = await closedPort()
  const env = baseEnv(t, { ...ENV, RAGNOS_VAULT_MODE: 'vault', VAULT_ADDR: `http://127.0.0.1:${port}` })
  const run = await scenario(t, env)
  t.true(run.report.status.lastErrors.some((e) => e.kind === 'unreachable'))
})

test('strict failure leaks nothing', async (t) => {
  const env = baseEnv(t, { ...ENV, RAGNOS_VAULT_MODE: 'vault', RAGNOS_VAULT_STRICT: 'true' })
  const run = await scenario(t, env, { code: 78 })
  t.regex(run.stderr, /strict mode: no Vault value for/)
})
