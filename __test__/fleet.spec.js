'use strict'

// A fleet points VAULT_ADDR at a local OpenBao proxy with auto-auth and a
// cache: the program holds no token of its own.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const test = require('ava')
const { withOpenBao, findFreePort, vaultRequest } = require('./helpers/openbao')
const { runNode, parseJsonOutput, fixture, freeDir } = require('./helpers/run')

const SECRET = 'sk-vault-fleet-1c0f'

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/fleet', { OPENAI_API_KEY: SECRET })
  }
})

async function startProxy(t, bao) {
  const dir = freeDir()
  const port = await findFreePort()
  const tokenFile = path.join(dir, 'token')
  fs.writeFileSync(tokenFile, await bao.createToken({ policies: ['root'], ttl: '1h' }))
  fs.writeFileSync(
    path.join(dir, 'proxy.hcl'),
    `vault {
  address = "${bao.addr}"
}
auto_auth {
  method "token_file" {
    config = {
      token_file_path = "${tokenFile}"
    }
  }
}
cache {}
api_proxy {
  use_auto_auth_token = true
}
listener "tcp" {
  address = "127.0.0.1:${port}"
  tls_disable = true
}
`
  )
  const child = spawn('bao', ['proxy', `-config=${path.join(dir, 'proxy.hcl')}`], {
    env: { PATH: process.env.PATH, HOME: dir, PYENV_ROOT: process.env.PYENV_ROOT || '' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (c) => (output += c))
  child.stderr.on('data', (c) => (output += c))
  t.teardown(() => child.kill('SIGKILL'))
  const addr = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 15000
  while (Date.now() < deadline) {
    try {
      const response = await vaultRequest(addr, 'GET', '/v1/sys/health', { timeoutMs: 500 })
      if (response.status === 200) return addr
    } catch (_) {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`bao proxy did not start:\n${output}`)
}

test('program without a token reads through an OpenBao proxy', async (t) => {
  const addr = await startProxy(t, t.context.bao)
  const result = await runNode({
    script: fixture('print-env.js'),
    args: ['OPENAI_API_KEY'],
    env: { VAULT_ADDR: addr, RAGNOS_VAULT_MODE: 'vault', RAGNOS_VAULT_APP: 'fleet', OPENAI_API_KEY: 'env-value' }
  })
  t.is(result.code, 0)
  t.is(result.stderr, '')
  t.deepEqual(parseJsonOutput(result), { OPENAI_API_KEY: SECRET })
})

test('no token and no proxy says how to fix it', async (t) => {
  const result = await runNode({
    script: fixture('print-env.js'),
    args: ['OPENAI_API_KEY'],
    env: { VAULT_ADDR: t.context.bao.addr, RAGNOS_VAULT_MODE: 'vault', RAGNOS_VAULT_APP: 'fleet', OPENAI_API_KEY: 'env-value' }
  })
  t.deepEqual(parseJsonOutput(result), { OPENAI_API_KEY: 'env-value' })
  t.regex(result.stderr, /^ragnos-vault: warn: no token for vault at http:\/\/127\.0\.0\.1:\d+: set VAULT_TOKEN or ~\/\.vault-token, or point VAULT_ADDR at a proxy with auto-auth; serving environment values\n$/)
})
