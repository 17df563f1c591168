'use strict'

// stdout belongs to the program; the preloader writes to stderr only, at
// warn by default, and never a secret or a token at any level.

const test = require('ava')
const { withOpenBao } = require('./helpers/openbao')
const { runNode, parseJsonOutput } = require('./helpers/run')

const SECRETS = {
  OPENAI_API_KEY: 'sk-vault-output-4b7d9e',
  DATABASE_URL: 'postgres://u:p4ss-output-81f2@db/app'
}

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/output', SECRETS)
    await bao.kvPut('refs/output', { token: 'ref-output-value-6a3c' })
  }
})

const PROGRAM = `
  const keys = ['OPENAI_API_KEY', 'DATABASE_URL', 'REF']
  process.stdout.write(JSON.stringify(Object.fromEntries(keys.map((k) => [k, process.env[k]]))) + '\\n')`

function env(t, extra) {
  return {
    ...t.context.bao.clientEnv(),
    RAGNOS_VAULT_APP: 'output',
    RAGNOS_VAULT_MODE: 'vault',
    REF: 'vault:secret/refs/output#token',
    ...extra
  }
}

test('stdout holds only what the program writes', async (t) => {
  const result = await runNode({ eval: PROGRAM, env: env(t) })
  t.is(result.code, 0)
  t.is(result.stdout, `${JSON.stringify({ ...SECRETS, REF: 'ref-output-value-6a3c' })}\n`)
  t.is(result.stderr, '')
})

test('trace logging never prints a secret or the token', async (t) => {
  const result = await runNode({ eval: PROGRAM, env: env(t, { RAGNOS_VAULT_LOG: 'trace' }) })
  t.is(result.code, 0)
  t.deepEqual(parseJsonOutput(result).OPENAI_API_KEY, SECRETS.OPENAI_API_KEY)
  t.regex(result.stderr, /ragnos-vault: info: starting/)
  t.regex(result.stderr, /ragnos-vault: debug: /)
  for (const line of result.stderr.trim().split('\n')) {
    t.regex(line, /^ragnos-vault: (error|warn|info|debug|trace): /)
  }
  const forbidden = [...Object.values(SECRETS), 'ref-output-value-6a3c', t.context.bao.token]
  for (const value of forbidden) {
    t.false(result.stderr.includes(value), `stderr contains ${value.slice(0, 6)}...`)
    t.false(result.stdout.replace(JSON.stringify({ ...SECRETS, REF: 'ref-output-value-6a3c' }), '').includes(value))
  }
})

test('RAGNOS_VAULT_LOG raises the level to info', async (t) => {
  const result = await runNode({ eval: PROGRAM, env: env(t, { RAGNOS_VAULT_LOG: 'info' }) })
  t.regex(result.stderr, /^ragnos-vault: info: starting mode=vault/m)
  t.notRegex(result.stderr, /debug:/)
})

test('log_level in the config file applies', async (t) => {
  const fs = require('node:fs')
  const path = require('node:path')
  const { freeDir } = require('./helpers/run')
  const dir = freeDir()
  fs.writeFileSync(path.join(dir, 'ragnos-vault.json'), JSON.stringify({ log_level: 'info' }))
  const result = await runNode({ eval: PROGRAM, env: env(t), cwd: dir })
  t.regex(result.stderr, /^ragnos-vault: info: starting mode=vault/m)
})
