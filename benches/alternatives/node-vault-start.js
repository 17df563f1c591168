'use strict'

// The do-it-yourself alternative: a start script that reads the secrets with
// the node-vault client, copies them into process.env, then runs the
// program. What many projects write today instead of a preloader.
//
//   VAULT_ADDR=... VAULT_TOKEN=... BENCH_KV_PATHS=secret/data/a,secret/data/b \
//     node benches/alternatives/node-vault-start.js [program.js [args...]]
//
// With no program it stops after setting the environment, the counterpart
// of `node -e 0`.

const path = require('node:path')

async function main() {
  const vault = require('node-vault')({
    endpoint: process.env.VAULT_ADDR,
    token: process.env.VAULT_TOKEN
  })
  const paths = (process.env.BENCH_KV_PATHS || '').split(',').filter(Boolean)
  const documents = await Promise.all(paths.map((p) => vault.read(p)))
  for (const document of documents) {
    for (const [key, value] of Object.entries(document.data.data)) {
      if (process.env[key] === undefined) process.env[key] = String(value)
    }
  }
  const program = process.argv[2]
  if (program) {
    process.argv.splice(1, 1)
    process.argv[1] = path.resolve(program)
    require(process.argv[1])
  }
}

main().catch((error) => {
  process.stderr.write(`node-vault-start: ${error.message}\n`)
  process.exit(1)
})
