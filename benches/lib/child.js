'use strict'

// Runs each measurement in a child process of its own, so the preloader can
// be present or absent, with an environment built from nothing: a
// developer's VAULT_*, BAO_* and RAGNOS_* variables never reach a child.

const { spawnSync } = require('node:child_process')
const path = require('node:path')

const REPO_ROOT = path.resolve(__dirname, '..', '..')
/**
 * The package under test: this checkout, or BENCH_PACKAGE_DIR to measure
 * another one (a base commit, say) with the same harness.
 */
const PACKAGE_DIR = process.env.BENCH_PACKAGE_DIR ? path.resolve(process.env.BENCH_PACKAGE_DIR) : REPO_ROOT
const CHILDREN = path.join(__dirname, '..', 'children')
const DEFAULT_TIMEOUT_MS = 120000

/** Wall-clock time in milliseconds, comparable across processes. */
function epochMs() {
  return performance.timeOrigin + performance.now()
}

/** PATH and HOME, then `extra`; a key set to undefined in `extra` is left out. */
function cleanEnv(home, extra = {}) {
  const env = { PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin', HOME: home }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key]
    else env[key] = String(value)
  }
  return env
}

/**
 * Runs `command args` synchronously and returns what it printed, its exit
 * status and its wall time, measured around the spawn.
 */
function run(command, args, { env, cwd, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  const startedAt = epochMs()
  const began = process.hrtime.bigint()
  const result = spawnSync(command, args, {
    env,
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const wallMs = Number(process.hrtime.bigint() - began) / 1e6
  return {
    command: [command, ...args].join(' '),
    code: result.status,
    signal: result.signal,
    error: result.error,
    stdout: result.stdout || '',
    stderr: result.stderr || '',
    startedAt,
    wallMs
  }
}

/** `node [-r <package>] ...args`. */
function runNode(args, { preload = false, ...options } = {}) {
  const full = preload ? ['-r', PACKAGE_DIR, ...args] : args
  return run(process.execPath, full, options)
}

function describe(result) {
  const stderr = result.stderr.length > 4000 ? `...${result.stderr.slice(-4000)}` : result.stderr
  const reason = result.error ? `error ${result.error.message}` : `code ${result.code}, signal ${result.signal}`
  return `${result.command}\n  exited with ${reason}\n--- stdout ---\n${result.stdout.slice(-2000)}\n--- stderr ---\n${stderr}`
}

/** Checks the exit status and parses the last line of stdout as JSON. */
function lastJson(result) {
  if (result.code !== 0 || result.error) throw new Error(`child failed: ${describe(result)}`)
  const lines = result.stdout.trim().split('\n')
  try {
    return JSON.parse(lines[lines.length - 1])
  } catch (error) {
    throw new Error(`child printed no JSON on its last line (${error.message}): ${describe(result)}`)
  }
}

function ensureOk(result) {
  if (result.code !== 0 || result.error) throw new Error(`child failed: ${describe(result)}`)
  return result
}

module.exports = { REPO_ROOT, PACKAGE_DIR, CHILDREN, cleanEnv, run, runNode, lastJson, ensureOk, describe, epochMs }
