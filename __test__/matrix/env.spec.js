'use strict'

// The process.env contract, the structured clone entry points and TZ on
// every Node.js version of the matrix, in real processes started with
// `node -r <package>`.

const test = require('ava')

const { withOpenBao } = require('../helpers/openbao')
const { runNode, parseJsonOutput, fixture } = require('../helpers/run')
const { VERSIONS, nodeBinary, major, limiter } = require('./node-versions')

// Twenty-five short runs; four at a time keep the machine responsive.
const slot = limiter(4)
const OPENAI = 'sk-vault-matrix-5e21'
const GITHUB = 'ghp-vault-matrix-0b7c'
const DATABASE = 'postgres://vault-matrix@db/app'
const REFERENCE = 'ref-matrix-value-9d04'

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/matrix', { OPENAI_API_KEY: OPENAI, GITHUB_TOKEN: GITHUB })
    await bao.kvPut('mcp/shared', { DATABASE_URL: DATABASE })
    await bao.kvPut('refs/matrix', { token: REFERENCE })
  }
})

function env(t) {
  return {
    ...t.context.bao.clientEnv(),
    RAGNOS_VAULT_MODE: 'vault',
    RAGNOS_VAULT_APP: 'matrix',
    REF_TOKEN: 'vault:secret/refs/matrix#token',
    DATABASE_URL: 'postgres://env@db/app',
    TZ: 'UTC'
  }
}

async function probe(t, version, script, options = {}) {
  const binary = nodeBinary(version)
  const result = await slot(() => runNode({ script: fixture(script), env: env(t), nodeBinary: binary, ...options }))
  t.is(result.code, 0, result.stderr)
  t.is(result.stderr, '', 'the preloader wrote to stderr')
  return parseJsonOutput(result)
}

// Starts a worker for each way of passing process.env as workerData. The
// worker posts its workerData back, and the parent prints what arrived.
const WORKER_DATA = `
  const { Worker } = require('worker_threads')
  const KEY = 'OPENAI_API_KEY'
  const ECHO = 'const w = require("worker_threads"); w.parentPort.postMessage(w.workerData)'
  function echo(workerData) {
    return new Promise((resolve, reject) => {
      const worker = new Worker(ECHO, { eval: true, workerData })
      worker.once('message', resolve)
      worker.once('error', reject)
    })
  }
  function errorName(fn) {
    try {
      fn()
      return 'no error'
    } catch (error) {
      return error.name
    }
  }
  async function main() {
    const out = {}
    out.direct = (await echo(process.env))[KEY]
    const nested = await echo({ env: process.env, n: 1 })
    out.nested = nested.env[KEY]
    out.sibling = nested.n
    out.array = (await echo([1, process.env]))[1][KEY]
    const both = await echo({ a: process.env, b: process.env })
    out.sameObject = both.a === both.b
    out.deeper = errorName(() => new Worker(ECHO, { eval: true, workerData: { outer: { env: process.env } } }))
    console.log(JSON.stringify(out))
  }
  main().catch((error) => {
    console.error(error)
    process.exitCode = 1
  })`

async function probeCode(t, version, code) {
  const binary = nodeBinary(version)
  const result = await slot(() => runNode({ eval: code, env: env(t), nodeBinary: binary, timeoutMs: 60000 }))
  t.is(result.code, 0, result.stderr)
  t.is(result.stderr, '', 'the preloader wrote to stderr')
  return parseJsonOutput(result)
}

for (const version of VERSIONS) {
  const name = `node ${major(version)}`

  test(`${name}: env contract holds`, async (t) => {
    const out = await probe(t, version, 'matrix/contract.js')
    t.is(out.get, OPENAI)
    t.true(out.has)
    t.true(out.listed)
    t.true(out.own)
    t.deepEqual(out.descriptor, { value: OPENAI, writable: true, enumerable: true, configurable: true })
    t.is(out.reference, REFERENCE)
    t.is(out.spread, OPENAI)
    t.is(out.json, OPENAI)
    t.is(out.entries, 1)
    t.is(typeof out.home, 'string')
    t.deepEqual(out.unset, [true, false])
    t.deepEqual(out.child, [OPENAI, GITHUB])
    t.is(out.written, 'written-by-app')
    t.deepEqual(out.childAfterWrite, [OPENAI, 'written-by-app'])
    t.true(out.deleted)
    t.deepEqual(out.afterDelete, { get: true, has: false, listed: false, descriptor: true })
  })

  test(`${name}: set coerces as without the preloader`, async (t) => {
    const withPreloader = await probe(t, version, 'matrix/contract.js')
    const without = await probe(t, version, 'matrix/contract.js', { preload: false })
    t.deepEqual(withPreloader.coerced, without.coerced)
    t.deepEqual(withPreloader.coerced, { 0: '42', 1: 'true', 2: 'null', 3: 'undefined', 4: '1.5', 5: 'obj' })
  })

  test(`${name}: structured clones copy the env`, async (t) => {
    const out = await probe(t, version, 'matrix/clone.js')
    const modern = major(version) >= 17
    t.is(out.structuredClone, modern ? OPENAI : 'absent')
    t.is(out.structuredCloneNested, modern ? OPENAI : 'absent')
    t.is(out.structuredCloneArray, modern ? OPENAI : 'absent')
    t.is(out.structuredClonePrototype, modern ? true : 'absent')
    t.is(out.v8, OPENAI)
    t.is(out.v8Nested, OPENAI)
    t.is(out.port, OPENAI)
    t.is(out.portNested, OPENAI)
    t.true(out.portSameObject)
    t.deepEqual(out.plainObject, { n: 1, list: [1, 2] })
    t.is(out.broadcastChannel, major(version) >= 16 ? OPENAI : 'absent')
    // Two levels down the proxy is not replaced, and the clone throws.
    t.is(out.portDeeper.error, 'DataCloneError')
  })

  test(`${name}: workerData copies a nested env`, async (t) => {
    const out = await probeCode(t, version, WORKER_DATA)
    t.is(out.direct, OPENAI)
    t.is(out.nested, OPENAI)
    t.is(out.sibling, 1)
    t.is(out.array, OPENAI)
    t.true(out.sameObject)
    // As with postMessage, two levels down the proxy is not replaced.
    t.is(out.deeper, 'DataCloneError')
  })

  test(`${name}: TZ write changes the time zone`, async (t) => {
    const out = await probe(t, version, 'matrix/clone.js')
    t.is(out.tz.before, 0)
    t.is(out.tz.after, -540)
    t.is(out.tz.zone, 'Asia/Tokyo')
  })
}
