'use strict'

// Figure 1: the cost of one read of process.env.KEY, in ns, over millions
// of reads, with its baseline measured in the same interleaved run.
// A key served from the preloader's cache is compared with a native
// process.env read of an ordinary variable with no preloader (target ≤ 1.5×).
// A key that passes through the proxy to the real environment (an unmanaged
// key, or a managed key served from the environment) is compared with the
// floor: a Proxy over process.env whose get trap only returns target[key]
// (target ≤ 1.25×). Both are measured in vault, shadow and dual modes, and
// with audit on.

const fs = require('node:fs')
const path = require('node:path')

const { canaryBucket } = require('../lib/fixtures')
const { measureReads } = require('../lib/reads')
const { ratioFigure } = require('../lib/figure')
const { median, round } = require('../lib/stats')

const CACHE_TARGET = 1.5
const PASS_TARGET = 1.25

/** Picks one key served from Vault and one served from the environment in dual mode at `percent`. */
function dualKeys(keys, percent) {
  const inside = keys.find((k) => canaryBucket('', k) < percent * 100)
  const outside = keys.find((k) => canaryBucket('', k) >= percent * 100)
  return { inside, outside }
}

/**
 * Builds the arms of one read run over the secrets `setName` of `fixture`:
 * the two baselines and the preloader in vault mode. The variables
 * in `before` come first in every environment (filler for the scale run).
 */
function coreArms(fixture, { setName = 'standard', before = {}, key }) {
  const set = fixture.sets[setName]
  const managedKey = key || set.keys[Math.floor(set.keys.length / 2)]
  const plain = fixture.plainKey
  const plainValue = fixture.plainValue
  const vaultEnv = fixture.env({ mode: 'vault', set: setName, before })
  return {
    managedKey,
    arms: [
      { id: 'native', key: plain, setup: 'plain', env: fixture.env({ mode: null, before }), expect: plainValue },
      { id: 'floor', key: plain, setup: 'floor', env: fixture.env({ mode: null, before }), expect: plainValue },
      { id: 'vault.managed', key: managedKey, setup: 'preloader', env: vaultEnv, expect: set.values[managedKey] },
      { id: 'vault.unmanaged', key: plain, setup: 'preloader', env: vaultEnv, expect: plainValue }
    ]
  }
}

async function run(ctx) {
  const { fixture, config } = ctx
  const set = fixture.sets.standard
  const { managedKey, arms } = coreArms(fixture, {})
  const { inside, outside } = dualKeys(set.keys, 50)
  // In shadow and dual modes the secrets are still in the environment too:
  // that is what those modes are for.
  const envCopies = {}
  for (const k of [managedKey, inside, outside]) envCopies[k] = `env-${set.values[k].split('').reverse().join('')}`
  const shadowEnv = fixture.env({ mode: 'shadow', extra: envCopies })
  const dualEnv = fixture.env({ mode: 'dual', extra: { ...envCopies, RAGNOS_VAULT_CANARY_PERCENT: '50' } })
  const auditDir = fixture.tempDir('audit-')
  const auditLog = path.join(auditDir, 'audit.log')
  const auditEnv = fixture.env({ mode: 'vault', extra: { RAGNOS_VAULT_AUDIT_LOG: auditLog } })
  const auditEveryEnv = fixture.env({ mode: 'vault', extra: { RAGNOS_VAULT_AUDIT_LOG: path.join(auditDir, 'every.log'), RAGNOS_VAULT_AUDIT_EVERY_READ: 'true' } })
  const plain = fixture.plainKey

  const vaultShadowedEnv = fixture.env({ mode: 'vault', extra: envCopies })
  arms.push(
    { id: 'vault.managed.envset', key: managedKey, setup: 'preloader', env: vaultShadowedEnv, expect: set.values[managedKey] },
    { id: 'shadow.managed', key: managedKey, setup: 'preloader', env: shadowEnv, expect: envCopies[managedKey] },
    { id: 'shadow.unmanaged', key: plain, setup: 'preloader', env: shadowEnv, expect: fixture.plainValue },
    { id: 'dual.canary', key: inside, setup: 'preloader', env: dualEnv, expect: set.values[inside] },
    { id: 'dual.outside', key: outside, setup: 'preloader', env: dualEnv, expect: envCopies[outside] },
    { id: 'dual.unmanaged', key: plain, setup: 'preloader', env: dualEnv, expect: fixture.plainValue },
    { id: 'audit.managed', key: managedKey, setup: 'preloader', env: auditEnv, expect: set.values[managedKey] },
    { id: 'audit.unmanaged', key: plain, setup: 'preloader', env: auditEnv, expect: fixture.plainValue },
    { id: 'audit.every', key: managedKey, setup: 'preloader', env: auditEveryEnv, expect: set.values[managedKey] },
    // Diagnostics: a get trap that returns a constant, over process.env and
    // over an empty object. The difference is V8 checking the trap's result
    // against the target's own property, which for process.env calls Node's
    // environment interceptors (a lock and a getenv) on every read.
    { id: 'const.env', key: plain, setup: 'const-env', env: fixture.env({ mode: null }), constant: fixture.plainValue, expect: fixture.plainValue },
    { id: 'const.env.unset', key: 'BENCH_UNSET', setup: 'const-env', env: fixture.env({ mode: null }), constant: fixture.plainValue, expect: fixture.plainValue },
    { id: 'const.blank', key: plain, setup: 'const-blank', env: fixture.env({ mode: null }), constant: fixture.plainValue, expect: fixture.plainValue }
  )

  const { samples, runs } = await measureReads(ctx, arms, { ...config.read, label: 'read cost' })

  const auditBytes = fs.existsSync(auditLog) ? fs.statSync(auditLog).size : 0
  const auditNote =
    auditBytes > 0
      ? `audit on: the log got ${auditBytes} bytes over all runs (the first read of each key and each change of source)`
      : 'RAGNOS_VAULT_AUDIT_LOG wrote nothing: audit is not in this build yet, so this is the cost without audit; the figure will change when audit lands'

  const native = samples.native
  const floor = samples.floor
  const cached = (id, name, note) =>
    ratioFigure({ id: `1.${id}`, name, unit: 'ns/read', samples: samples[id], baseName: 'native process.env read, no preloader', baseSamples: native, maxRatio: CACHE_TARGET, note, detail: { vsFloor: ratioOf(samples[id], floor), runs: runs[id] } })
  const passing = (id, name, note) =>
    ratioFigure({ id: `1.${id}`, name, unit: 'ns/read', samples: samples[id], baseName: 'floor: Proxy over process.env, get trap returns target[key]', baseSamples: floor, maxRatio: PASS_TARGET, note, detail: { vsNative: ratioOf(samples[id], native), runs: runs[id] } })

  const figures = [
    cached('vault.managed', `vault mode: managed key from the cache (${managedKey})`),
    passing('vault.unmanaged', `vault mode: unmanaged key through the proxy (${plain})`),
    cached('vault.managed.envset', `vault mode: managed key from the cache, the variable also set in the environment, as during a migration (${managedKey})`),
    passing('shadow.managed', `shadow mode: managed key, served from the environment (${managedKey})`),
    passing('shadow.unmanaged', 'shadow mode: unmanaged key'),
    cached('dual.canary', `dual mode, 50% canary: managed key in the canary, from the cache (${inside})`),
    passing('dual.outside', `dual mode, 50% canary: managed key outside the canary, from the environment (${outside})`),
    passing('dual.unmanaged', 'dual mode: unmanaged key'),
    cached('audit.managed', 'vault mode, audit on: managed key from the cache', auditNote),
    passing('audit.unmanaged', 'vault mode, audit on: unmanaged key', auditNote),
    ratioFigure({
      id: '1.audit.every',
      name: 'vault mode, audit of every read (RAGNOS_VAULT_AUDIT_EVERY_READ=true, opt-in): managed key',
      unit: 'ns/read',
      samples: samples['audit.every'],
      baseName: 'native process.env read, no preloader',
      baseSamples: native,
      note: 'no target: an opt-in mode in which every read of a managed key calls into the addon to record an event',
      detail: { runs: runs['audit.every'] }
    })
  ]
  figures.push(
    ratioFigure({
      id: '1.const.env',
      name: `diagnostic: a get trap returning a constant, Proxy over process.env, reading a set variable (${plain})`,
      unit: 'ns/read',
      samples: samples['const.env'],
      baseName: 'native process.env read, no preloader',
      baseSamples: native,
      note: 'the trap touches no environment: the cost is V8 checking its result against the target, which asks Node for the real variable'
    }),
    ratioFigure({
      id: '1.const.env.unset',
      name: 'diagnostic: the same, reading a variable that is not set (BENCH_UNSET), as a key served only from Vault is',
      unit: 'ns/read',
      samples: samples['const.env.unset'],
      baseName: 'native process.env read, no preloader',
      baseSamples: native
    }),
    ratioFigure({
      id: '1.const.blank',
      name: 'diagnostic: the same trap, Proxy over an empty object',
      unit: 'ns/read',
      samples: samples['const.blank'],
      baseName: 'native process.env read, no preloader',
      baseSamples: native
    })
  )
  figures.push({
    id: '1.floor',
    name: 'reference: floor proxy against a native read (both baselines, no preloader)',
    unit: 'ns/read',
    value: figures[1].baseline.value,
    baseline: { name: 'native process.env read', value: figures[0].baseline.value },
    ratio: ratioOf(floor, native),
    target: null,
    pass: null,
    note: 'what a Proxy over process.env costs by itself',
    detail: {}
  })
  return { figures, extra: { managedKey, dualKeys: { inside, outside }, auditBytes } }
}

function ratioOf(a, b) {
  return round(median(a) / median(b), 2)
}

module.exports = { run, coreArms, CACHE_TARGET, PASS_TARGET }
