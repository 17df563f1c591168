'use strict'

// Runs __test__/fixtures/reader.js under the preloader as a long-lived
// child and follows its JSON lines while it runs, for fault scenarios that
// change Vault under a running program.

const { spawn } = require('node:child_process')
const { REPO_ROOT, cleanEnv, fixture, freeDir } = require('./run')

const POLL_MS = 25
const STOP_TIMEOUT_MS = 5000

const children = new Set()
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Starts the reader. Options: keys (names to read), env (added to a clean
 * environment), intervalMs (between reads, default 20), nodeArgs (before
 * `-r`), timeoutMs (the child is killed after this long, default 60000).
 */
function startReader({ keys, env = {}, intervalMs = 20, nodeArgs = [], timeoutMs = 60000 }) {
  const home = freeDir('ragnos-reader-')
  const args = [...nodeArgs, '-r', REPO_ROOT, fixture('reader.js'), keys.join(','), String(intervalMs)]
  const child = spawn(process.execPath, args, {
    cwd: home,
    env: cleanEnv(home, env),
    stdio: ['pipe', 'pipe', 'pipe']
  })
  children.add(child)

  const records = []
  const junk = []
  let stderr = ''
  let pending = ''
  let exited = null
  const exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child)
      exited = { code, signal }
      resolve(exited)
    })
  })
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)

  child.stdout.on('data', (chunk) => {
    pending += chunk.toString('utf8')
    const lines = pending.split('\n')
    pending = lines.pop()
    for (const line of lines) {
      try {
        records.push(JSON.parse(line))
      } catch {
        junk.push(line)
      }
    }
  })
  child.stderr.on('data', (chunk) => {
    stderr += chunk.toString('utf8')
  })
  child.stdin.on('error', () => {})

  const reader = {
    child,
    records,
    /** stdout lines that are not JSON: the preloader must never write there. */
    junk,
    get stderr() {
      return stderr
    },
    states: () => records.filter((r) => r.type === 'state'),
    errors: () => records.filter((r) => r.type === 'error'),
    events: (name) => records.filter((r) => r.type === 'event' && r.name === name),
    /** Returns the values of the last read, or null before the first. */
    values() {
      const states = reader.states()
      return states.length > 0 ? states[states.length - 1].values : null
    },
    /** Writes one command line to the reader's stdin. */
    send(line) {
      child.stdin.write(`${line}\n`)
    },
    /** Resolves once `predicate(reader)` returns true, or rejects with the output after `timeoutMs`. */
    async waitFor(what, predicate, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        if (predicate(reader)) return
        if (exited) break
        await sleep(POLL_MS)
      }
      if (predicate(reader)) return
      throw new Error(`reader: ${what} not seen within ${timeoutMs} ms (exit ${JSON.stringify(exited)})\n${reader.describe()}`)
    },
    /** Waits until the last read returns `expected` for every key it names. */
    waitForValues(what, expected, timeoutMs) {
      return reader.waitFor(what, () => matches(reader.values(), expected), timeoutMs)
    },
    /** Sends `stats <id>` and resolves to the stats record it prints. */
    async stats(id) {
      reader.send(`stats ${id}`)
      await reader.waitFor(`stats ${id}`, () => records.some((r) => r.type === 'stats' && r.id === id), 5000)
      return records.find((r) => r.type === 'stats' && r.id === id)
    },
    /** Ends the reader with `exit` and resolves to its final stats and exit status. */
    async stop() {
      if (!exited) {
        reader.send('exit')
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
        await exit
        clearTimeout(timer)
      }
      clearTimeout(killer)
      const final = records.find((r) => r.type === 'stats' && r.id === 'final') || null
      return { ...exited, final }
    },
    /** Kills the reader if it still runs, for teardown. */
    kill() {
      clearTimeout(killer)
      if (!exited) child.kill('SIGKILL')
      return exit
    },
    describe() {
      const tail = records.slice(-15).map((r) => JSON.stringify(r)).join('\n')
      return `--- last stdout records ---\n${tail}\n--- stderr ---\n${stderr}`
    }
  }
  return reader
}

function matches(values, expected) {
  if (!values) return false
  return Object.keys(expected).every((key) => values[key] === expected[key])
}

/**
 * Returns the keys of `states` whose values fall outside `allowed`, a map
 * of key to the list of values a read may return, as "KEY=value at ms".
 */
function unexpectedReads(states, allowed) {
  const problems = []
  for (const state of states) {
    for (const [key, choices] of Object.entries(allowed)) {
      if (!choices.includes(state.values[key])) {
        problems.push(`${key}=${JSON.stringify(state.values[key])} at ${state.at} ms`)
      }
    }
  }
  return problems
}

module.exports = { startReader, unexpectedReads, sleep }
