'use strict'

// The process.env contract: the proxy behaves like Node's own process.env
// in every observable way except the values of managed keys.

const test = require('ava')
const { withOpenBao } = require('./helpers/openbao')
const { runNode, parseJsonOutput, REPO_ROOT } = require('./helpers/run')


const OPENAI = 'sk-vault-contract-7f3a'
const GITHUB = 'ghp-vault-contract-91bc'
const DATABASE = 'postgres://vault-contract@db/app'

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/contract', { OPENAI_API_KEY: OPENAI, GITHUB_TOKEN: GITHUB })
    await bao.kvPut('mcp/shared', { DATABASE_URL: DATABASE })
  }
})

function vaultEnv(t, extra = {}) {
  return {
    ...t.context.bao.clientEnv(),
    RAGNOS_VAULT_MODE: 'vault',
    RAGNOS_VAULT_APP: 'contract',
    ...extra
  }
}

async function probe(t, code, extra = {}, options = {}) {
  const result = await runNode({ eval: code, env: vaultEnv(t, extra), ...options })
  t.is(result.code, 0, result.stderr)
  return parseJsonOutput(result)
}

test('vault-only key agrees across get, has, keys and descriptor', async (t) => {
  const out = await probe(
    t,
    `const d = Object.getOwnPropertyDescriptor(process.env, 'OPENAI_API_KEY')
     console.log(JSON.stringify({
       get: process.env.OPENAI_API_KEY,
       has: 'OPENAI_API_KEY' in process.env,
       listed: Object.keys(process.env).includes('OPENAI_API_KEY'),
       own: Object.prototype.hasOwnProperty.call(process.env, 'OPENAI_API_KEY'),
       descriptor: d
     }))`
  )
  t.is(out.get, OPENAI)
  t.true(out.has)
  t.true(out.listed)
  t.true(out.own)
  t.deepEqual(out.descriptor, { value: OPENAI, writable: true, enumerable: true, configurable: true })
})

test('spread and JSON.stringify include Vault values', async (t) => {
  const out = await probe(
    t,
    `const copy = { ...process.env }
     const text = JSON.parse(JSON.stringify(process.env))
     const entries = Object.fromEntries(Object.entries(process.env))
     const forIn = []
     for (const k in process.env) forIn.push(k)
     console.log(JSON.stringify({ copy: copy.DATABASE_URL, text: text.GITHUB_TOKEN,
       entries: entries.OPENAI_API_KEY, forIn: forIn.includes('DATABASE_URL') }))`
  )
  t.is(out.copy, DATABASE)
  t.is(out.text, GITHUB)
  t.is(out.entries, OPENAI)
  t.true(out.forIn)
})

test('child with default environment receives Vault values', async (t) => {
  const out = await probe(
    t,
    `const { execFileSync } = require('child_process')
     const printed = execFileSync(process.execPath, ['-e',
       'console.log(JSON.stringify({ key: process.env.OPENAI_API_KEY || null, token: process.env.VAULT_TOKEN || null }))'
     ], { encoding: 'utf8' })
     console.log(printed.trim())`
  )
  t.is(out.key, OPENAI)
  t.is(out.token, null)
})

test('children env-only gives children the real environment', async (t) => {
  const out = await probe(
    t,
    `const { execFileSync, spawnSync } = require('child_process')
     const code = 'console.log(process.env.OPENAI_API_KEY || "unset")'
     const a = execFileSync(process.execPath, ['-e', code], { encoding: 'utf8' }).trim()
     const b = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' }).stdout.trim()
     console.log(JSON.stringify({ a, b, own: process.env.OPENAI_API_KEY }))`,
    { RAGNOS_VAULT_CHILDREN: 'env-only', OPENAI_API_KEY: 'env-value' }
  )
  t.is(out.a, 'env-value')
  t.is(out.b, 'env-value')
  t.is(out.own, OPENAI)
})

test('children env-only applies to promisified exec', async (t) => {
  const out = await probe(
    t,
    `const { exec, execFile } = require('child_process')
     const { promisify } = require('util')
     const code = 'process.stdout.write(process.env.OPENAI_API_KEY || "unset")'
     const command = JSON.stringify(process.execPath) + " -e '" + code + "'"
     Promise.all([promisify(exec)(command), promisify(execFile)(process.execPath, ['-e', code])])
       .then(([a, b]) => console.log(JSON.stringify({ a, b })))`,
    { RAGNOS_VAULT_CHILDREN: 'env-only', OPENAI_API_KEY: 'env-value' }
  )
  t.deepEqual(out.a, { stdout: 'env-value', stderr: '' })
  t.deepEqual(out.b, { stdout: 'env-value', stderr: '' })
})

test('children env-only keeps spawner name and length', async (t) => {
  const code = `const childProcess = require('child_process')
    const names = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']
    console.log(JSON.stringify(names.map((name) => [childProcess[name].name, childProcess[name].length])))`
  const wrapped = await probe(t, code, { RAGNOS_VAULT_CHILDREN: 'env-only' })
  const plain = await probe(t, code, {}, { preload: false })
  t.deepEqual(wrapped, plain)
  t.deepEqual(wrapped[2], ['exec', 3])
})

const COERCION = `
  const results = {}
  const inputs = [42, true, null, undefined, 1.5, { toString() { return 'obj' } }]
  inputs.forEach((v, i) => { process.env['COERCE_' + i] = v; results[i] = process.env['COERCE_' + i] })
  process.env.OPENAI_API_KEY = 7
  results.managed = process.env.OPENAI_API_KEY
  results.type = typeof process.env.OPENAI_API_KEY
  console.log(JSON.stringify(results))`

test('set coerces to a string exactly as Node does', async (t) => {
  const withPreloader = await probe(t, COERCION)
  const plain = await probe(t, COERCION, {}, { preload: false })
  t.deepEqual(withPreloader, plain)
  t.is(withPreloader.managed, '7')
  t.is(withPreloader.type, 'string')
})

test('app write to a managed key wins over Vault', async (t) => {
  const out = await probe(
    t,
    `const before = process.env.GITHUB_TOKEN
     process.env.GITHUB_TOKEN = 'written-by-app'
     const { execFileSync } = require('child_process')
     const child = execFileSync(process.execPath, ['-e', 'console.log(process.env.GITHUB_TOKEN)'], { encoding: 'utf8' }).trim()
     console.log(JSON.stringify({ before, after: process.env.GITHUB_TOKEN, child }))`
  )
  t.is(out.before, GITHUB)
  t.is(out.after, 'written-by-app')
  t.is(out.child, 'written-by-app')
})

test('delete hides a managed key from every view', async (t) => {
  const out = await probe(
    t,
    `const deleted = delete process.env.DATABASE_URL
     console.log(JSON.stringify({
       deleted,
       get: process.env.DATABASE_URL === undefined,
       has: 'DATABASE_URL' in process.env,
       listed: Object.keys(process.env).includes('DATABASE_URL'),
       descriptor: Object.getOwnPropertyDescriptor(process.env, 'DATABASE_URL') === undefined
     }))`,
    { DATABASE_URL: 'postgres://env@db/app' }
  )
  t.true(out.deleted)
  t.true(out.get)
  t.false(out.has)
  t.false(out.listed)
  t.true(out.descriptor)
})

test('symbols pass through and util.inspect works', async (t) => {
  const out = await probe(
    t,
    `const util = require('util')
     const sym = Symbol('probe')
     const text = util.inspect(process.env)
     console.log(JSON.stringify({
       iterator: process.env[Symbol.iterator] === undefined,
       toStringTag: Object.prototype.toString.call(process.env),
       symbolIn: sym in process.env,
       inspected: typeof text === 'string' && text.includes('PATH'),
       leaked: text.includes(${JSON.stringify(OPENAI)})
     }))`
  )
  t.true(out.iterator)
  t.is(out.toStringTag, '[object Object]')
  t.false(out.symbolIn)
  t.true(out.inspected)
  t.false(out.leaked)
})

test('installing twice wraps once and uninstall restores', async (t) => {
  const out = await probe(
    t,
    `const { types } = require('util')
     const first = require(${JSON.stringify(REPO_ROOT)})
     const second = require(${JSON.stringify(REPO_ROOT)} + '/index.js')
     const proxied = process.env
     const target = types.isProxy(proxied)
     first.uninstall()
     console.log(JSON.stringify({
       same: first === second,
       proxied: target,
       restored: !types.isProxy(process.env),
       value: process.env.OPENAI_API_KEY || null,
       statusAfter: first.status().active
     }))`
  )
  t.true(out.same)
  t.true(out.proxied)
  t.true(out.restored)
  t.is(out.value, null)
  t.false(out.statusAfter)
})

test('credentials are scrubbed after login', async (t) => {
  const out = await probe(
    t,
    `const fs = require('fs')
     const block = fs.readFileSync('/proc/self/environ', 'utf8')
     console.log(JSON.stringify({
       token: process.env.VAULT_TOKEN || null,
       bao: process.env.BAO_TOKEN || null,
       key: process.env.OPENAI_API_KEY,
       block
     }))`,
    { BAO_TOKEN: 'unused-bao-token-5c1e' }
  )
  t.is(out.token, null)
  t.is(out.bao, null)
  t.is(out.key, OPENAI)
  t.false(out.block.includes(t.context.bao.token))
  t.false(out.block.includes('unused-bao-token-5c1e'))
})

test('secret values never reach the real environment block', async (t) => {
  const out = await probe(
    t,
    `const fs = require('fs')
     const reads = [process.env.OPENAI_API_KEY, process.env.GITHUB_TOKEN, process.env.DATABASE_URL]
     const copy = { ...process.env }
     require('child_process').execFileSync(process.execPath, ['-e', '0'])
     console.log(JSON.stringify({ reads, block: fs.readFileSync('/proc/self/environ', 'utf8') }))`
  )
  t.deepEqual(out.reads, [OPENAI, GITHUB, DATABASE])
  for (const secret of [OPENAI, GITHUB, DATABASE]) {
    t.false(out.block.includes(secret), `${secret} found in /proc/self/environ`)
  }
})

test('keys outside the patterns pass through untouched', async (t) => {
  const out = await probe(
    t,
    `process.env.PLAIN_SETTING = 'changed'
     console.log(JSON.stringify({ home: process.env.HOME, plain: process.env.PLAIN_SETTING,
       missing: process.env.NOT_SET_ANYWHERE === undefined, inMissing: 'NOT_SET_ANYWHERE' in process.env }))`,
    { PLAIN_SETTING: 'original' }
  )
  t.is(out.plain, 'changed')
  t.true(out.missing)
  t.false(out.inMissing)
  t.is(typeof out.home, 'string')
})
