'use strict'

// One read-cost measurement: reads process.env.<key> in a tight loop and
// prints the nanoseconds per read of each repetition, in CPU time and in
// wall time, as JSON.
//
//   node [-r <package>] benches/children/read.js '<json options>'
//
// Options:
//   key        the variable to read (an identifier; it is written into the
//              loop as `process.env.KEY`, the way programs read it)
//   setup      'plain' (nothing), 'floor' (a Proxy over process.env whose
//              get trap returns target[key]), 'preloader' (the package was
//              loaded with -r), or 'const-env' / 'const-blank' (a
//              Proxy whose get trap returns `constant` without touching
//              any environment, over process.env / over an empty object:
//              what V8's check of the trap's result against the target
//              costs)
//   expect     the value the read must return, or null for unset
//   reads      reads per repetition, or 0 to size each repetition to
//              repMs milliseconds from a short probe
//   reps       timed repetitions; warmup untimed ones run first
//   packageDir the package that -r loaded (default: this checkout)
//
// Every read's length goes into a sink that is printed, so the JIT cannot
// drop the reads as dead code.

const path = require('node:path')

const options = JSON.parse(process.argv[2])
const { key, setup, reads = 1000000, reps = 5, warmup = 2, repMs = 250 } = options

if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`not an identifier: ${key}`)

const PACKAGE_DIR = options.packageDir || path.resolve(__dirname, '..', '..')
let status = null

if (setup === 'floor') {
  process.env = new Proxy(process.env, {
    get(target, name) {
      return target[name]
    }
  })
} else if (setup === 'preloader') {
  status = require(PACKAGE_DIR).status()
} else if (setup === 'const-env' || setup === 'const-blank') {
  const constant = options.constant
  process.env = new Proxy(setup === 'const-env' ? process.env : {}, {
    get() {
      return constant
    }
  })
} else if (setup !== 'plain') {
  throw new Error(`unknown setup: ${setup}`)
}

const value = process.env[key]
if ('expect' in options) {
  const expected = options.expect === null ? undefined : options.expect
  if (value !== expected) {
    const shown = (v) => (v === undefined ? 'unset' : `${v.length} chars starting ${JSON.stringify(v.slice(0, 12))}`)
    process.stderr.write(`read.js: ${key} reads ${shown(value)}, expected ${shown(expected)}\n`)
    process.exit(2)
  }
}

// eslint-disable-next-line no-new-func
const loop = new Function(
  'n',
  `let sink = 0
   for (let i = 0; i < n; i++) {
     const v = process.env.${key}
     sink += v === undefined ? 0 : v.length
   }
   return sink`
)

// Each repetition is timed twice: CPU time (process.cpuUsage, user +
// system) and wall time. The figures use CPU time: on a shared machine
// the wall clock also counts the time the process waited for a core,
// which has nothing to do with the read. After the warm-up, the other
// threads of the process (V8's compiler and GC helpers, libuv's pool, the
// addon's runtime) are idle, so the process's CPU time is the loop's.
function timed(n) {
  const cpu = process.cpuUsage()
  const began = process.hrtime.bigint()
  const sink = loop(n)
  const wallNs = Number(process.hrtime.bigint() - began)
  const used = process.cpuUsage(cpu)
  return { cpuNs: (used.user + used.system) * 1000, wallNs, sink }
}

let perRep = reads
if (!perRep) {
  const probe = timed(2000)
  perRep = Math.round((repMs * 1e6) / Math.max(probe.wallNs / 2000, 1))
  perRep = Math.min(Math.max(perRep, 20000), 5000000)
}

let sink = 0
for (let i = 0; i < warmup; i++) sink += timed(perRep).sink
const nsPerRead = []
const wallNsPerRead = []
for (let i = 0; i < reps; i++) {
  const { cpuNs, wallNs, sink: s } = timed(perRep)
  sink += s
  nsPerRead.push(cpuNs / perRep)
  wallNsPerRead.push(wallNs / perRep)
}

function median(values) {
  const sorted = values.slice().sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

// The child's figure is its fastest repetition: the one least disturbed by
// other work on the machine (another process evicting the environment
// strings from the cache, say). Across children the runner takes the
// median.
console.log(
  JSON.stringify({
    key,
    setup,
    status,
    reads: perRep,
    reps,
    nsPerRead,
    wallNsPerRead,
    best: Math.min(...nsPerRead),
    median: median(nsPerRead),
    wallMedian: median(wallNsPerRead),
    envSize: Object.keys(process.env).length,
    sink
  })
)
