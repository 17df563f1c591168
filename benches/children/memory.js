'use strict'

// Measures resident memory after startup. It reads every variable once, so
// the preloader's view is built as a program's first reads build it, and
// waits for the process to settle. Then it prints as JSON the RSS, where it
// lives (from /proc/self/smaps) and the Node.js built-in modules loaded.
//
//   node [-r <package>] benches/children/memory.js '{"settleMs":500,"preRequire":[]}'
//
// preRequire: built-in modules to load first, to tell what loading them
// costs apart from the rest of the preloader.

const fs = require('node:fs')
const path = require('node:path')

const { settleMs = 500, preRequire = [] } = JSON.parse(process.argv[2] || '{}')
for (const name of preRequire) require(name)

let sink = 0
for (const key of Object.keys(process.env)) {
  const value = process.env[key]
  sink += value === undefined ? 0 : value.length
}

/** RSS in KiB by kind of mapping. */
function breakdown() {
  const kinds = { addon: 0, node: 0, libraries: 0, heap: 0, stack: 0, anonymous: 0, other: 0 }
  let text
  try {
    text = fs.readFileSync('/proc/self/smaps', 'utf8')
  } catch (_) {
    return null
  }
  let kind = 'other'
  const exe = fs.realpathSync(process.execPath)
  for (const line of text.split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      const name = line.split(/\s+/).slice(5).join(' ')
      if (name.endsWith('.node')) kind = 'addon'
      else if (name === exe) kind = 'node'
      else if (name === '[heap]') kind = 'heap'
      else if (name === '[stack]') kind = 'stack'
      else if (name === '') kind = 'anonymous'
      else if (name.startsWith('/')) kind = 'libraries'
      else kind = 'other'
    } else if (line.startsWith('Rss:')) {
      kinds[kind] += Number(line.match(/(\d+)/)[1])
    }
  }
  return kinds
}

function threads() {
  try {
    const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('Threads:'))
    return Number(line.split(':')[1])
  } catch (_) {
    return null
  }
}

setTimeout(() => {
  const usage = process.memoryUsage()
  console.log(
    JSON.stringify({
      rss: usage.rss,
      heapUsed: usage.heapUsed,
      external: usage.external,
      threads: threads(),
      kib: breakdown(),
      script: path.basename(__filename),
      builtins: (process.moduleLoadList || []).filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)),
      sink
    })
  )
}, settleMs)
