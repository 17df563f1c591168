'use strict'

// Read-cost runs: each sample is one child process running
// children/read.js, whose fastest repetition (CPU ns per read) is the
// sample. Arms are interleaved round by round; figures are the medians.

const path = require('node:path')

const { CHILDREN, PACKAGE_DIR, runNode, lastJson } = require('./child')
const { interleave } = require('./interleave')

const READ_CHILD = path.join(CHILDREN, 'read.js')

/**
 * arms: [{ id, key, setup, env, expect }]; options: reads, reps, warmup,
 * repMs (with reads 0), rounds. Returns { samples: {id: [ns]}, runs: {id: [child output]} }.
 */
async function measureReads(ctx, arms, { rounds, minRounds = rounds, budgetS = Infinity, reads, reps, warmup, repMs, label }) {
  const runs = {}
  for (const arm of arms) runs[arm.id] = []
  const samples = await interleave(
    arms,
    rounds,
    (arm) => {
      const options = { key: arm.key, setup: arm.setup, reads, reps, warmup, repMs, packageDir: PACKAGE_DIR }
      if ('expect' in arm) options.expect = arm.expect
      if ('constant' in arm) options.constant = arm.constant
      const preload = arm.setup === 'preloader'
      const result = runNode([READ_CHILD, JSON.stringify(options)], {
        preload,
        env: arm.env,
        cwd: ctx.fixture.home,
        timeoutMs: 180000
      })
      const out = lastJson(result)
      if (preload && arm.mustBeActive !== false && !(out.status && out.status.active)) {
        throw new Error(`${arm.id}: the preloader did not activate (status ${JSON.stringify(out.status)}); stderr:\n${result.stderr}`)
      }
      runs[arm.id].push({ best: out.best, median: out.median, wallMedian: out.wallMedian, reads: out.reads, reps: out.reps, envSize: out.envSize, stderr: result.stderr.trim() || undefined })
      return out.best
    },
    { label, log: ctx.log, minRounds, budgetMs: budgetS * 1000 }
  )
  return { samples, runs }
}

module.exports = { measureReads }
