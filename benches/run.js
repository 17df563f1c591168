'use strict'

// Runs every benchmark and reports each figure against its baseline from
// the same run. `npm run bench` prepares the checkout with
// scripts/setup.sh first, then runs this.
//
//   node benches/run.js [--quick] [--only=read,startup,memory,load,scale] [--no-write] [--render]
//
// --quick    few, short runs, to check the harness; results go to
//            benches/results/quick.json and the docs are left alone
// --only     the suites to run (default: all); a partial run writes
//            benches/results/partial.json and leaves the docs alone
// --no-write print the table only
// --render   rewrite the docs' table from benches/results/latest.json,
//            measuring nothing
//
// Writes benches/results/latest.json and the generated part of
// docs/benchmarks.md after a full run. Every server it starts binds
// 127.0.0.1 on a free port and is stopped at the end, even on failure.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { PACKAGE_DIR, REPO_ROOT } = require('./lib/child')
const { createFixture } = require('./lib/fixtures')
const { machine, revision } = require('./lib/machine')
const { terminalTable, updateDoc } = require('./lib/report')
const { state } = require('./lib/interleave')

const SUITES = ['read', 'startup', 'memory', 'load', 'scale']
const ADDON = 'vault-preloader.linux-x64-gnu.node'
const RESULTS_DIR = path.join(__dirname, 'results')
const DOC = path.join(REPO_ROOT, 'docs', 'benchmarks.md')

// Each suite runs its full count of interleaved rounds on an idle machine.
// On a busy one it stops adding rounds once its time budget is spent, but
// never goes below the minimum, so a run stays bounded.
const FULL = {
  // Each child: 1 warm-up and 6 timed repetitions of 500,000 reads, so
  // 3 million timed reads per child and 15 to 27 million per arm.
  read: { rounds: 9, minRounds: 5, budgetS: 150, reads: 500000, reps: 6, warmup: 1 },
  startup: { runs: 25, minRuns: 21, budgetS: 90 },
  memory: { runs: 11, minRuns: 7, budgetS: 45, settleMs: 500 },
  load: { ttlMs: 2000, windowMs: 12000, settleMs: 1000 },
  // With 10,000 variables a native read scans them all, so each repetition
  // is sized to take repMs instead of a fixed count.
  scale: { readRounds: 5, minReadRounds: 3, readBudgetS: 60, repMs: 150, reps: 5, startupRuns: 21, memoryRuns: 7 }
}

const QUICK = {
  read: { rounds: 2, reads: 100000, reps: 3, warmup: 1 },
  startup: { runs: 3 },
  memory: { runs: 2, settleMs: 200 },
  load: { ttlMs: 1000, windowMs: 3000, settleMs: 500 },
  scale: { readRounds: 1, repMs: 30, reps: 3, startupRuns: 3, memoryRuns: 1 }
}

function parseArgs(argv) {
  const options = { quick: false, only: SUITES, write: true, render: false }
  for (const arg of argv) {
    if (arg === '--quick') options.quick = true
    else if (arg === '--render') options.render = true
    else if (arg === '--no-write') options.write = false
    else if (arg.startsWith('--only=')) {
      options.only = arg.slice(7).split(',').filter(Boolean)
      const unknown = options.only.filter((s) => !SUITES.includes(s))
      if (unknown.length) throw new Error(`unknown suite ${unknown.join(', ')}; suites: ${SUITES.join(', ')}`)
    } else if (arg === '--help' || arg === '-h') {
      console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(2, 15).join('\n'))
      process.exit(0)
    } else throw new Error(`unknown argument ${arg}; see --help`)
  }
  return options
}

/** Returns the command line that started this run, as a reader would type it. */
function commandLine() {
  const args = process.argv.slice(2).join(' ')
  const prefix = process.env.BENCH_PACKAGE_DIR ? `BENCH_PACKAGE_DIR=${process.env.BENCH_PACKAGE_DIR} ` : ''
  if (process.env.npm_lifecycle_event === 'bench') return `${prefix}npm run bench${args ? ` -- ${args}` : ''}`
  return `${prefix}node benches/run.js${args ? ` ${args}` : ''}`
}

function log(message) {
  const seconds = ((Date.now() - started) / 1000).toFixed(0).padStart(4)
  process.stderr.write(`bench ${seconds}s: ${message}\n`)
}

const started = Date.now()
let fixture = null

async function stopFixture() {
  const current = fixture
  fixture = null
  if (current) await current.stop()
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    log(`${signal}: stopping the OpenBao server`)
    state.aborted = true
    stopFixture().finally(() => process.exit(128 + os.constants.signals[signal]))
  })
}

async function main() {
  const options = parseArgs(process.argv.slice(2))
  if (options.render) {
    // Rewrites the table in the docs from the last full run, measuring nothing.
    const results = JSON.parse(fs.readFileSync(path.join(RESULTS_DIR, 'latest.json'), 'utf8'))
    console.log(terminalTable(results))
    updateDoc(DOC, results)
    log(`table written to ${path.relative(process.cwd(), DOC)} from benches/results/latest.json`)
    return
  }
  const addon = path.join(PACKAGE_DIR, ADDON)
  if (!fs.existsSync(addon)) throw new Error(`${addon} not found; run bash scripts/setup.sh (npm run bench does) first`)
  const config = options.quick ? QUICK : FULL

  log(`package ${PACKAGE_DIR}; suites ${options.only.join(', ')}${options.quick ? ' (quick)' : ''}`)
  const loadBefore = os.loadavg().map((v) => Math.round(v * 100) / 100)
  const cores = os.cpus().length
  if (loadBefore[0] > cores / 2) {
    log(`warning: load average ${loadBefore[0]} on ${cores} cores; other work on this machine will add noise to every figure`)
  }
  fixture = await createFixture()
  log(`OpenBao dev server at ${fixture.bao.addr}`)
  const ctx = { fixture, config, log }
  const figures = []
  const extras = {}
  try {
    for (const name of SUITES.filter((s) => options.only.includes(s))) {
      log(`suite ${name}`)
      const suite = require(`./suites/${name}`)
      const result = await suite.run(ctx)
      figures.push(...result.figures)
      if (result.extra) extras[name] = result.extra
    }
  } finally {
    await stopFixture()
    log('OpenBao dev server stopped')
  }

  const full = options.only.length === SUITES.length && !options.quick
  const results = {
    schema: 1,
    command: commandLine(),
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date().toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: machine(),
    // Other processes' load while the benchmarks ran (1, 5, 15 minutes).
    loadAverage: { before: loadBefore, after: os.loadavg().map((v) => Math.round(v * 100) / 100) },
    package: { dir: path.relative(REPO_ROOT, PACKAGE_DIR) || '.', ...revision(PACKAGE_DIR) },
    config,
    figures,
    extras
  }

  console.log(terminalTable(results))
  if (options.write) {
    fs.mkdirSync(RESULTS_DIR, { recursive: true })
    let name = 'partial.json'
    if (options.quick) name = 'quick.json'
    else if (full) name = 'latest.json'
    const file = path.join(RESULTS_DIR, name)
    fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`)
    log(`results written to ${path.relative(process.cwd(), file)}`)
    if (full) {
      updateDoc(DOC, results)
      log(`table written to ${path.relative(process.cwd(), DOC)}`)
    }
  }
  const misses = figures.filter((f) => f.pass === false).map((f) => f.id)
  log(misses.length ? `targets missed: ${misses.join(', ')}` : 'every target met')
}

main().catch(async (error) => {
  process.stderr.write(state.aborted ? 'bench: stopped\n' : `bench: ${error.stack || error.message}\n`)
  await stopFixture().catch(() => {})
  process.exit(1)
})
