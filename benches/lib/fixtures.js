'use strict'

// Sets up the secrets and environments that every suite shares. One local
// OpenBao dev server (127.0.0.1, a free port) stores 20 keys in 2 KV v2
// documents: secret/mcp/bench and secret/mcp/shared, the preloader's default
// search paths for app "bench". For the scale runs it stores 1,000 keys in 2
// documents at the same paths on a second mount, scale/.

const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const http = require('node:http')

const { startOpenBao } = require('../../scripts/openbao')
const { cleanEnv } = require('./child')

const APP = 'bench'
/** The ordinary variable that baselines read, as long as a secret. */
const PLAIN_KEY = 'BENCH_PLAIN'

function secretValue(prefix, i) {
  return `${prefix}-${String(i).padStart(4, '0')}-${crypto.randomBytes(16).toString('hex')}`
}

/** Two documents of count / 2 keys each, named as the include patterns want. */
function makeDocuments(count) {
  const width = count > 100 ? 4 : 2
  const app = {}
  const shared = {}
  for (let i = 0; i < count / 2; i++) {
    app[`SVC${String(i).padStart(width, '0')}_API_KEY`] = secretValue('sk', i)
    shared[`SHARED${String(i).padStart(width, '0')}_TOKEN`] = secretValue('tok', i)
  }
  return { [`mcp/${APP}`]: app, 'mcp/shared': shared }
}

/** Computes the canary bucket of a key as src/routing.rs does. */
function canaryBucket(salt, key) {
  const digest = crypto.createHash('sha256').update(salt).update(Buffer.from([0])).update(key).digest()
  return digest.readUInt32BE(0) % 10000
}

class Fixture {
  constructor(bao, dir) {
    this.bao = bao
    this.dir = dir
    this.home = path.join(dir, 'home')
    fs.mkdirSync(this.home, { recursive: true })
    this.app = APP
    this.plainKey = PLAIN_KEY
    this.plainValue = secretValue('plain', 0)
    this.sets = {}
  }

  /** A set of secrets stored under `mount`: { mount, documents, keys, values }. */
  addSet(name, mount, documents) {
    const values = {}
    for (const fields of Object.values(documents)) Object.assign(values, fields)
    this.sets[name] = { mount, documents, keys: Object.keys(values), values }
    return this.sets[name]
  }

  /** KV v2 API path -> field names, as the agent's templates want them. */
  apiDocuments(setName = 'standard') {
    const set = this.sets[setName]
    const out = {}
    for (const [p, fields] of Object.entries(set.documents)) out[`${set.mount}/data/${p}`] = Object.keys(fields)
    return out
  }

  /** A new empty folder under the fixture's temporary folder. */
  tempDir(prefix) {
    return fs.mkdtempSync(path.join(this.dir, prefix))
  }

  /**
   * A child's environment: PATH and HOME, `before` (variables placed first,
   * such as filler), the plain variable, then Vault settings for `mode`
   * unless mode is null, then `extra`.
   */
  env({ mode = 'vault', set = 'standard', addr, before = {}, extra = {} } = {}) {
    const vars = { ...before, [PLAIN_KEY]: this.plainValue }
    if (mode !== null) {
      Object.assign(vars, {
        VAULT_ADDR: addr || this.bao.addr,
        VAULT_TOKEN: this.bao.token,
        RAGNOS_VAULT_MODE: mode,
        RAGNOS_VAULT_APP: APP
      })
      const mount = this.sets[set].mount
      if (mount !== 'secret') vars.RAGNOS_VAULT_KV_MOUNT = mount
    }
    return cleanEnv(this.home, { ...vars, ...extra })
  }

  async stop() {
    try {
      await this.bao.stop()
    } finally {
      fs.rmSync(this.dir, { recursive: true, force: true })
    }
  }
}

/** PATCH /v1/<mount>/data/<path> with a JSON merge patch of `data`. */
function kv2Patch(bao, mount, secretPath, data) {
  const payload = JSON.stringify({ data })
  const url = new URL(`/v1/${mount}/data/${secretPath}`, bao.addr)
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: 'PATCH',
        agent: false,
        headers: {
          'Content-Type': 'application/merge-patch+json',
          'Content-Length': Buffer.byteLength(payload),
          'X-Vault-Token': bao.token
        }
      },
      (response) => {
        const chunks = []
        response.on('data', (c) => chunks.push(c))
        response.on('end', () => {
          if (response.statusCode >= 200 && response.statusCode < 300) resolve()
          else reject(new Error(`PATCH ${url.pathname}: HTTP ${response.statusCode} ${Buffer.concat(chunks)}`))
        })
      }
    )
    request.setTimeout(10000, () => request.destroy(new Error(`PATCH ${url.pathname} timed out`)))
    request.on('error', reject)
    request.end(payload)
  })
}

/**
 * Writes a document in pieces: OpenBao refuses request bodies with more
 * than a few hundred strings, so a 500-field document is written as one
 * POST and merge patches.
 */
async function writeDocument(bao, mount, secretPath, data, piece = 200) {
  const entries = Object.entries(data)
  await bao.kv2Put(mount, secretPath, Object.fromEntries(entries.slice(0, piece)))
  for (let i = piece; i < entries.length; i += piece) {
    await kv2Patch(bao, mount, secretPath, Object.fromEntries(entries.slice(i, i + piece)))
  }
}

/** Starts the server and stores both sets of secrets. */
async function createFixture() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragnos-bench-'))
  let bao = null
  try {
    bao = await startOpenBao()
    const fixture = new Fixture(bao, dir)
    const standard = fixture.addSet('standard', 'secret', makeDocuments(20))
    for (const [p, data] of Object.entries(standard.documents)) await writeDocument(bao, 'secret', p, data)
    await bao.enableKvV2('scale')
    const scale = fixture.addSet('scale', 'scale', makeDocuments(1000))
    for (const [p, data] of Object.entries(scale.documents)) await writeDocument(bao, 'scale', p, data)
    const stored = await bao.kv2Get('scale', `mcp/${APP}`)
    if (Object.keys(stored).length !== 500) throw new Error(`scale/mcp/${APP} holds ${Object.keys(stored).length} fields, not 500`)
    return fixture
  } catch (error) {
    if (bao) await bao.stop().catch(() => {})
    fs.rmSync(dir, { recursive: true, force: true })
    throw error
  }
}

/** FILL_00000 .. : `count` ordinary variables of 24-character values. */
function fillerVariables(count) {
  const vars = {}
  for (let i = 0; i < count; i++) vars[`FILL_${String(i).padStart(5, '0')}`] = `filler-value-${String(i).padStart(11, '0')}`
  return vars
}

module.exports = { createFixture, canaryBucket, fillerVariables, PLAIN_KEY, APP }
