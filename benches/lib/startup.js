'use strict'

// Startup runs: each sample is the wall time of one command, from spawn to
// exit, measured around spawnSync. The spawn's own overhead is the same
// for every arm and cancels out of the differences.

const { run, describe } = require('./child')
const { interleave } = require('./interleave')

/** arms: [{ id, command, args, env, cwd }]; returns { [id]: [ms] }. */
async function measureStartup(ctx, arms, { runs, minRuns = runs, budgetS = Infinity, label, warmup = 1 }) {
  for (const arm of arms) {
    for (let i = 0; i < warmup; i++) once(arm)
  }
  return interleave(arms, runs, (arm) => once(arm).wallMs, { label, log: ctx.log, minRounds: minRuns, budgetMs: budgetS * 1000 })

  function once(arm) {
    const result = run(arm.command, arm.args, { env: arm.env, cwd: arm.cwd || ctx.fixture.home, timeoutMs: 60000 })
    if (result.code !== 0 || result.error) throw new Error(`${arm.id}: ${describe(result)}`)
    return result
  }
}

/** Runs `arm` once with `args` swapped for `checkArgs`, and fails unless it exits 0. */
function verify(ctx, arm, checkArgs) {
  const result = run(arm.command, checkArgs, { env: arm.env, cwd: arm.cwd || ctx.fixture.home, timeoutMs: 60000 })
  if (result.code !== 0 || result.error) throw new Error(`${arm.id} does not deliver the secrets: ${describe(result)}`)
  return result
}

module.exports = { measureStartup, verify }
