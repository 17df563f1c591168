'use strict'

// Checks that process.env holds the expected secrets, so a timed setup is
// known to work before it is timed. Prints nothing secret.
//
//   node [...] benches/children/check-env.js expected.json

const fs = require('node:fs')

const expected = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const wrong = Object.keys(expected).filter((key) => process.env[key] !== expected[key])
if (wrong.length > 0) {
  process.stderr.write(`check-env: ${wrong.length} of ${Object.keys(expected).length} keys differ: ${wrong.slice(0, 5).join(', ')}\n`)
  process.exit(1)
}
console.log(JSON.stringify({ ok: Object.keys(expected).length }))
