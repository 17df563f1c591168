'use strict'

// Memory runs: each sample is the RSS that children/memory.js reports
// after startup and a settle.

const { builtinModules } = require('node:module')
const path = require('node:path')

const { CHILDREN, runNode, lastJson } = require('./child')
const { interleave } = require('./interleave')
const { median, round } = require('./stats')

const MEMORY_CHILD = path.join(CHILDREN, 'memory.js')

function once(ctx, env, arm, settleMs) {
  const options = { settleMs, preRequire: arm.preRequire || [] }
  return lastJson(runNode([MEMORY_CHILD, JSON.stringify(options)], { preload: arm.preload, env, cwd: ctx.fixture.home }))
}

function mb(bytes) {
  return round(bytes / 1e6, 2)
}

/**
 * Three interleaved arms: without the preloader, with it, and without it
 * but with the public built-in modules that the preloader's JavaScript
 * loads (found by a first pair of runs). The third splits the difference
 * into what those Node.js modules cost and what the rest costs (the
 * addon's code, its threads and heap, lib/*.js).
 */
async function measureMemory(ctx, env, { runs, minRuns = runs, budgetS = Infinity, settleMs, label }) {
  const probePlain = once(ctx, env, { preload: false }, settleMs)
  const probePreloader = once(ctx, env, { preload: true }, settleMs)
  const seen = new Set(probePlain.builtins)
  const builtins = probePreloader.builtins.filter((m) => !seen.has(m) && builtinModules.includes(m) && !m.startsWith('_'))
  const arms = [
    { id: 'plain', preload: false },
    { id: 'preloader', preload: true },
    { id: 'builtins', preload: false, preRequire: builtins }
  ]
  const outputs = { plain: [], preloader: [], builtins: [] }
  const samples = await interleave(
    arms,
    runs,
    (arm) => {
      const out = once(ctx, env, arm, settleMs)
      outputs[arm.id].push(out)
      return out.rss / 1e6
    },
    { label, log: ctx.log, minRounds: minRuns, budgetMs: budgetS * 1000 }
  )

  // Where the difference lives: medians per kind of mapping, in MB.
  const where = {}
  for (const kind of Object.keys(outputs.plain[0].kib || {})) {
    const at = (id) => (median(outputs[id].map((o) => o.kib[kind])) * 1024) / 1e6
    where[kind] = { plain: round(at('plain'), 2), preloader: round(at('preloader'), 2), added: round(at('preloader') - at('plain'), 2) }
  }
  const rss = (id) => median(samples[id])
  return {
    samples,
    where,
    builtins: {
      modules: builtins,
      addedMB: round(rss('builtins') - rss('plain'), 2),
      restMB: round(rss('preloader') - rss('builtins'), 2)
    },
    threads: { plain: median(outputs.plain.map((o) => o.threads)), preloader: median(outputs.preloader.map((o) => o.threads)) },
    heapUsedMB: { plain: mb(median(outputs.plain.map((o) => o.heapUsed))), preloader: mb(median(outputs.preloader.map((o) => o.heapUsed))) }
  }
}

module.exports = { measureMemory }
