'use strict'

// Worker threads on every Node.js version of the matrix. Each kind of
// worker environment reads Vault values, and every worker shares the one
// login and cache of the process. Workers that start and exit in a loop
// never crash or hang it.

const test = require('ava')

const { withOpenBao } = require('../helpers/openbao')
const { startRelay } = require('../helpers/relay')
const { runNode, parseJsonOutput, fixture } = require('../helpers/run')
const { VERSIONS, nodeBinary, major, limiter } = require('./node-versions')

// Each run starts up to eight workers, so two run at a time.
const slot = limiter(2)
const OPENAI = 'sk-vault-workers-41d8'
const REFERENCE = 'ref-workers-value-c3a9'

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/workers', { OPENAI_API_KEY: OPENAI })
    await bao.kvPut('refs/workers', { token: REFERENCE })
  }
})

function env(t, addr) {
  return {
    ...t.context.bao.clientEnv(),
    VAULT_ADDR: addr || t.context.bao.addr,
    RAGNOS_VAULT_MODE: 'vault',
    RAGNOS_VAULT_APP: 'workers',
    REF_TOKEN: 'vault:secret/refs/workers#token'
  }
}

function countBy(requests) {
  const counts = {}
  for (const request of requests) {
    const path = request.path.split('?')[0]
    counts[path] = (counts[path] || 0) + 1
  }
  return counts
}

function workerSawVault(t, report, label) {
  t.is(report.key, OPENAI, `${label}: key`)
  t.is(report.reference, REFERENCE, `${label}: reference`)
  t.is(report.token, null, `${label}: token`)
  t.is(report.message, OPENAI, `${label}: worker.postMessage(process.env)`)
}

for (const version of VERSIONS) {
  const name = `node ${major(version)}`

  test(`${name}: workers read Vault values over one login`, async (t) => {
    const relay = await startRelay(t.context.bao.addr)
    t.teardown(() => relay.close())
    const options = {
      script: fixture('matrix/workers.js'),
      env: env(t, relay.addr),
      nodeBinary: nodeBinary(version),
      timeoutMs: 60000
    }
    const result = await slot(() => runNode(options))
    t.is(result.code, 0, result.stderr)
    t.is(result.stderr, '')
    const out = parseJsonOutput(result)

    t.is(out.parent, OPENAI)
    workerSawVault(t, out.default, 'default env')
    workerSawVault(t, out.processEnv, 'env: process.env')
    workerSawVault(t, out.shareEnv, 'SHARE_ENV')
    workerSawVault(t, out.workerData, 'workerData')
    t.is(out.workerData.workerData, OPENAI)
    t.is(out.concurrent.length, 8)
    out.concurrent.forEach((report, i) => workerSawVault(t, report, `concurrent worker ${i}`))
    // The -r preload runs again in workers that inherit execArgv, and the
    // worker's own proxy clones for postMessage.
    t.true(out.default.active)
    t.is(out.default.postedBack, OPENAI)
    t.true(out.shareEnv.active)

    const counts = countBy(relay.requests)
    t.is(counts['/v1/auth/token/lookup-self'], 1, JSON.stringify(counts))
    t.is(counts['/v1/secret/data/mcp/workers'], 1, JSON.stringify(counts))
    t.is(counts['/v1/secret/data/refs/workers'], 1, JSON.stringify(counts))
  })

  test(`${name}: eight workers start and exit repeatedly`, async (t) => {
    const relay = await startRelay(t.context.bao.addr)
    t.teardown(() => relay.close())
    const options = {
      script: fixture('matrix/worker-churn.js'),
      args: ['5'],
      env: env(t, relay.addr),
      nodeBinary: nodeBinary(version),
      timeoutMs: 60000
    }
    const result = await slot(() => runNode(options))
    t.is(result.code, 0, result.stderr)
    t.is(result.signal, null)
    t.is(result.stderr, '')
    const out = parseJsonOutput(result)
    t.is(out.exits, 40)
    t.is(out.read, 20)
    t.deepEqual(out.distinct, [OPENAI])
    t.is(countBy(relay.requests)['/v1/auth/token/lookup-self'], 1)
  })
}
