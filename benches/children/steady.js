'use strict'

// A long-running program for the Vault-load runs: prints a "ready" line as
// soon as it runs (startup is over by then), then reads every variable
// every `everyMs` for `windowMs`, as a busy server would, and exits.
//
//   node -r <package> benches/children/steady.js '{"windowMs":12000,"everyMs":20}'

const { windowMs = 0, everyMs = 20 } = JSON.parse(process.argv[2] || '{}')

console.log(JSON.stringify({ ready: performance.timeOrigin + performance.now() }))

let sink = 0
function readAll() {
  for (const key of Object.keys(process.env)) {
    const value = process.env[key]
    sink += value === undefined ? 0 : value.length
  }
}

readAll()
const timer = setInterval(readAll, everyMs)
setTimeout(() => {
  clearInterval(timer)
  console.log(JSON.stringify({ done: performance.timeOrigin + performance.now(), sink }))
}, windowMs)
