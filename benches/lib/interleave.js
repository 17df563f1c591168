'use strict'

// Interleaved runs: each round runs every arm once, A B C A B C ..., with
// the starting arm rotated from round to round, so that drift in the
// machine's speed (other load, thermal state, caches) hits every arm alike.

/** Set when the run is being stopped (a signal): no new child starts. */
const state = { aborted: false }

/** Lets the event loop run (signal handlers, relay sockets) between children. */
function yieldToLoop() {
  return new Promise((resolve) => setImmediate(resolve))
}

/**
 * Calls `runOne(arm, round)` for every arm, round after round, and returns
 * { [arm.id]: [sample per round] }. Runs `rounds` rounds, or fewer when
 * `budgetMs` has run out, but never fewer than `minRounds`: a busy machine
 * makes a run take longer, not run forever.
 */
async function interleave(arms, rounds, runOne, { label = 'runs', log = () => {}, minRounds = rounds, budgetMs = Infinity } = {}) {
  const samples = {}
  for (const arm of arms) samples[arm.id] = []
  const deadline = Date.now() + budgetMs
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < arms.length; i++) {
      if (state.aborted) throw new Error('stopped')
      const arm = arms[(i + round) % arms.length]
      samples[arm.id].push(await runOne(arm, round))
      await yieldToLoop()
    }
    if (rounds <= 10 || (round + 1) % 5 === 0 || round + 1 === rounds) log(`${label}: round ${round + 1}/${rounds} done`)
    if (round + 1 >= minRounds && round + 1 < rounds && Date.now() > deadline) {
      log(`${label}: time budget spent; stopping after ${round + 1} rounds`)
      break
    }
  }
  return samples
}

module.exports = { interleave, state }
