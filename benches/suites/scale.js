'use strict'

// Figure 5: how the read path and startup grow. The read, startup and
// memory runs are repeated with 1,000 managed keys in 2 KV documents, then
// with 10,000 ordinary variables and the usual 20 managed keys. The filler
// variables come before the plain variable, so a native read of it scans
// them all, as getenv does. Each run has its own baselines in the same
// environment.

const { fillerVariables } = require('../lib/fixtures')
const { measureReads } = require('../lib/reads')
const { measureStartup, verify } = require('../lib/startup')
const { measureMemory } = require('../lib/memory')
const { ratioFigure, addedFigure } = require('../lib/figure')
const { median, round } = require('../lib/stats')
const { coreArms, CACHE_TARGET, PASS_TARGET } = require('./read')
const { preloaderArms, writeExpected, ADDED_TARGET_MS } = require('./startup')

function readFigures(prefix, label, samples, runs, managedKey, plainKey) {
  const vs = (a, b) => round(median(samples[a]) / median(samples[b]), 2)
  const nativeBase = { unit: 'ns/read', baseName: 'native process.env read, same environment, no preloader', baseSamples: samples.native }
  const floorBase = { unit: 'ns/read', baseName: 'floor proxy, same environment', baseSamples: samples.floor }
  return [
    ratioFigure({ ...nativeBase, id: `${prefix}.managed`, name: `${label}: managed key from the cache (${managedKey})`, samples: samples['vault.managed'], maxRatio: CACHE_TARGET, detail: { vsFloor: vs('vault.managed', 'floor'), runs: runs['vault.managed'] } }),
    ratioFigure({ ...floorBase, id: `${prefix}.unmanaged`, name: `${label}: unmanaged key through the proxy (${plainKey})`, samples: samples['vault.unmanaged'], maxRatio: PASS_TARGET, detail: { vsNative: vs('vault.unmanaged', 'native'), runs: runs['vault.unmanaged'] } }),
    ratioFigure({ ...nativeBase, id: `${prefix}.floor`, name: `${label}: reference: floor proxy against a native read`, samples: samples.floor })
  ]
}

async function startupFigure(ctx, id, label, env, values) {
  const arms = preloaderArms(env)
  arms[1].check.push(writeExpected(ctx, values))
  verify(ctx, arms[1], arms[1].check)
  const samples = await measureStartup(ctx, arms, { runs: ctx.config.scale.startupRuns, label: `${label} startup` })
  return addedFigure({
    id,
    name: `${label}: node -r <package> -e 0`,
    unit: 'ms',
    samples: samples.preloader,
    baseName: 'node -e 0, same environment',
    baseSamples: samples.plain,
    note: `the 20-key target (≤ +${ADDED_TARGET_MS} ms) for reference`
  })
}

async function run(ctx) {
  const { fixture, config } = ctx
  const figures = []

  // 1,000 managed keys.
  {
    const label = '1,000 managed keys'
    const { managedKey, arms } = coreArms(fixture, { setName: 'scale' })
    const { samples, runs } = await measureReads(ctx, arms, {
      ...config.read,
      rounds: config.scale.readRounds,
      minRounds: config.scale.minReadRounds,
      budgetS: config.scale.readBudgetS,
      label: `${label} reads`
    })
    figures.push(...readFigures('5.keys1000', label, samples, runs, managedKey, fixture.plainKey))
    const env = fixture.env({ mode: 'vault', set: 'scale' })
    figures.push(await startupFigure(ctx, '5.keys1000.startup', label, env, fixture.sets.scale.values))
    const memory = await measureMemory(ctx, env, { runs: config.scale.memoryRuns, settleMs: config.memory.settleMs, label: `${label} memory` })
    figures.push(
      addedFigure({
        id: '5.keys1000.rss',
        name: `${label}: RSS after startup`,
        unit: 'MB',
        samples: memory.samples.preloader,
        baseName: 'without the preloader',
        baseSamples: memory.samples.plain,
        detail: { whereMB: memory.where, builtins: memory.builtins, jsHeapUsedMB: memory.heapUsedMB }
      })
    )
  }

  // 10,000 variables in the environment.
  {
    const label = '10,000 env variables'
    const before = fillerVariables(10000)
    const { managedKey, arms } = coreArms(fixture, { before })
    const { samples, runs } = await measureReads(ctx, arms, {
      reads: 0,
      repMs: config.scale.repMs,
      reps: config.scale.reps,
      warmup: 1,
      rounds: config.scale.readRounds,
      minRounds: config.scale.minReadRounds,
      budgetS: config.scale.readBudgetS,
      label: `${label} reads`
    })
    figures.push(...readFigures('5.env10000', label, samples, runs, managedKey, fixture.plainKey))
    const env = fixture.env({ mode: 'vault', before })
    figures.push(await startupFigure(ctx, '5.env10000.startup', label, env, fixture.sets.standard.values))
  }
  return { figures }
}

module.exports = { run }
