'use strict'

// The ragnos-vault CLI: help and usage errors, `exec` (NODE_OPTIONS, flags,
// stdio, signals, exit status, an npx-started MCP server) and `doctor`.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const test = require('ava')
const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js')

const { withOpenBao } = require('../helpers/openbao')
const { startRelay } = require('../helpers/relay')
const { runNode, parseJsonOutput, freeDir, REPO_ROOT } = require('../helpers/run')

const BIN = path.join(REPO_ROOT, 'bin', 'ragnos-vault')
const OPENAI = 'sk-vault-cli-8a1f'
const BRAVE = 'BSA-vault-cli-4e07'
const REFERENCE = 'ref-cli-value-d25b'

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/cli', { OPENAI_API_KEY: OPENAI })
    await bao.kvPut('mcp/brave-exec', { BRAVE_API_KEY: BRAVE })
    await bao.kvPut('refs/cli', { token: REFERENCE })
  }
})

function vaultEnv(t, extra = {}) {
  return { ...t.context.bao.clientEnv(), RAGNOS_VAULT_APP: 'cli', ...extra }
}

// Runs the CLI as its own script, without the preloader.
function cli(args, options = {}) {
  return runNode({ script: BIN, args, preload: false, ...options })
}

function usageError(t, result) {
  t.is(result.code, 2, result.stderr)
  t.is(result.stdout, '')
  t.regex(result.stderr, /^ragnos-vault: .+; run 'ragnos-vault --help' for usage\n$/)
}

// Names of the environment variables the preloader reads, from its source.
function settingNames() {
  const names = new Set()
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(file)
      else if (/\.(rs|js)$/.test(entry.name) && !/tests?\.rs$/.test(entry.name)) {
        const text = fs.readFileSync(file, 'utf8')
        for (const match of text.matchAll(/["'`]((?:RAGNOS_VAULT|VAULT|BAO)_[A-Z_]+)["'`]/g)) names.add(match[1])
      }
    }
  }
  walk(path.join(REPO_ROOT, 'src'))
  walk(path.join(REPO_ROOT, 'lib'))
  return [...names].sort()
}

test('help lists every command, flag and setting', async (t) => {
  const main = await cli(['--help'])
  t.is(main.code, 0)
  for (const word of ['exec', 'doctor', '--mode', '--canary', '--help', '--version']) t.true(main.stdout.includes(word), word)

  const exec = await cli(['exec', '--help'])
  t.is(exec.code, 0)
  for (const word of ['--mode', '--canary', '--help', 'NODE_OPTIONS', 'RAGNOS_VAULT_MODE', 'RAGNOS_VAULT_CANARY_PERCENT', 'SIGINT', 'SIGTERM']) {
    t.true(exec.stdout.includes(word), word)
  }

  const doctor = await cli(['help', 'doctor'])
  t.is(doctor.code, 0)
  for (const word of ['--mode', '--canary', '--script', '--json', '--help']) t.true(doctor.stdout.includes(word), word)
  const names = settingNames()
  t.true(names.length > 20, names.join(' '))
  const missing = names.filter((name) => !new RegExp(`\\b${name}\\b`).test(doctor.stdout))
  t.deepEqual(missing, [], 'settings missing from doctor --help')
})

test('bad usage exits 2 with one message', async (t) => {
  const cases = [
    [],
    ['frobnicate'],
    ['help', 'frobnicate'],
    ['exec'],
    ['exec', '--mode'],
    ['exec', '--mode', 'fast', '--', 'node'],
    ['exec', '--canary', '101', '--', 'node'],
    ['exec', '--canary', 'half', '--', 'node'],
    ['exec', '--verbose', '--', 'node'],
    ['exec', '-x', 'node'],
    ['doctor', 'extra'],
    ['doctor', '--json=yes']
  ]
  for (const args of cases) {
    const result = await cli(args)
    t.log(args.join(' '))
    usageError(t, result)
  }
})

test('exec adds the preloader and keeps NODE_OPTIONS', async (t) => {
  const result = await cli(
    ['exec', '--mode', 'vault', '--canary', '25', '--', process.execPath, '-e', `
      const v8 = require('v8')
      console.log(JSON.stringify({
        options: process.env.NODE_OPTIONS,
        mode: process.env.RAGNOS_VAULT_MODE,
        canary: process.env.RAGNOS_VAULT_CANARY_PERCENT,
        key: process.env.OPENAI_API_KEY,
        reference: process.env.REF_TOKEN,
        token: process.env.VAULT_TOKEN || null,
        heapMb: Math.round(v8.getHeapStatistics().heap_size_limit / 1048576)
      }))`],
    { env: vaultEnv(t, { NODE_OPTIONS: '--max-old-space-size=200', REF_TOKEN: 'vault:secret/refs/cli#token' }) }
  )
  t.is(result.code, 0, result.stderr)
  t.is(result.stderr, '')
  const out = parseJsonOutput(result)
  t.is(out.options, `--max-old-space-size=200 --require ${REPO_ROOT}`)
  t.is(out.mode, 'vault')
  t.is(out.canary, '25')
  t.is(out.key, OPENAI)
  t.is(out.reference, REFERENCE)
  t.is(out.token, null)
  t.true(out.heapMb < 400, `heap limit ${out.heapMb} MB`)
})

test('exec inside exec adds the preloader once', async (t) => {
  const result = await cli(['exec', '--', process.execPath, BIN, 'exec', '--', process.execPath, '-e', 'console.log(process.env.NODE_OPTIONS)'], {
    env: vaultEnv(t, { RAGNOS_VAULT_MODE: 'vault' })
  })
  t.is(result.code, 0, result.stderr)
  t.is(result.stdout, `--require ${REPO_ROOT}\n`)
})

test('exec passes stdin and stdout through untouched', async (t) => {
  const input = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1}\n'), Buffer.from([0, 1, 2, 255, 10]), Buffer.from('last line without newline')])
  const result = await cli(['exec', '--', process.execPath, '-e', 'process.stdin.pipe(process.stdout)'], {
    env: vaultEnv(t, { RAGNOS_VAULT_MODE: 'vault' }),
    input
  })
  t.is(result.code, 0, result.stderr)
  t.is(result.stderr, '')
  t.is(result.stdout, input.toString('utf8'))
})

test('exec exits with the command status', async (t) => {
  const exited = await cli(['exec', '--', process.execPath, '-e', 'process.exit(3)'])
  t.is(exited.code, 3)
  const killed = await cli(['exec', '--', process.execPath, '-e', 'process.kill(process.pid, "SIGKILL")'])
  t.is(killed.code, 128 + 9)
  const missing = await cli(['exec', '--', 'ragnos-no-such-command'])
  t.is(missing.code, 127)
  t.is(missing.stderr, 'ragnos-vault: ragnos-no-such-command: command not found\n')
})

for (const signal of ['SIGINT', 'SIGTERM']) {
  test(`exec forwards ${signal}`, async (t) => {
    const home = freeDir('ragnos-cli-')
    const child = spawn(process.execPath, [BIN, 'exec', '--', process.execPath, '-e', `
      process.on('${signal}', () => { console.log('got ${signal}'); process.exit(7) })
      console.log('ready')
      setInterval(() => {}, 1000)`], { cwd: home, env: { PATH: process.env.PATH, HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })))
    await new Promise((resolve) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk
        if (stdout.includes('ready')) resolve()
      })
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000)
    child.kill(signal)
    const { code, sig } = await exited
    clearTimeout(timer)
    t.is(sig, null)
    t.is(code, 7)
    t.regex(stdout, new RegExp(`got ${signal}`))
  })
}

test('exec runs an npx-started MCP server', async (t) => {
  const { bao } = t.context
  const relay = await startRelay(bao.addr)
  t.teardown(() => relay.close())
  const home = freeDir('ragnos-npx-')
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'exec', '--mode', 'vault', '--', 'npx', '--no-install', 'mcp-server-brave-search'],
    cwd: REPO_ROOT,
    env: {
      HOME: home,
      VAULT_ADDR: relay.addr,
      VAULT_TOKEN: bao.token,
      RAGNOS_VAULT_APP: 'brave-exec',
      npm_config_update_notifier: 'false'
    },
    stderr: 'pipe'
  })
  let stderr = ''
  transport.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  const client = new Client({ name: 'ragnos-vault-cli-test', version: '0.0.0' })
  const errors = []
  client.onerror = (error) => errors.push(String(error))
  t.teardown(() => client.close())

  try {
    await client.connect(transport)
    const { tools } = await client.listTools()
    t.deepEqual(tools.map((tool) => tool.name).sort(), ['brave_local_search', 'brave_web_search'])
  } catch (error) {
    t.log(`server stderr:\n${stderr}`)
    throw error
  }
  t.deepEqual(errors, [], 'non-JSON-RPC output on the server stdout')
  // npx starts with the preloader in NODE_OPTIONS too, but as a package
  // runner it leaves the work, and the token, to the server it starts.
  const lookups = relay.requests.filter((r) => r.path.startsWith('/v1/auth/token/lookup-self'))
  t.is(lookups.length, 1, stderr)
  t.false(stderr.includes(BRAVE))
})

test('doctor reports a healthy setup and no values', async (t) => {
  const result = await cli(['doctor'], {
    env: vaultEnv(t, { RAGNOS_VAULT_MODE: 'vault', REF_TOKEN: 'vault:secret/refs/cli#token', GITHUB_TOKEN: 'ghp-env-only' })
  })
  t.is(result.code, 0, result.stdout + result.stderr)
  t.is(result.stderr, '')
  t.regex(result.stdout, /^mode: +vault$/m)
  t.regex(result.stdout, /^reachable: +yes$/m)
  t.regex(result.stdout, /^logged in: +yes$/m)
  t.regex(result.stdout, /^token ttl: +never expires, not renewable$/m)
  t.regex(result.stdout, /^ {2}secret\/mcp\/cli: found \(1 fields\)$/m)
  t.regex(result.stdout, /^ {2}secret\/mcp\/shared: not found$/m)
  t.regex(result.stdout, /OPENAI_API_KEY +pattern +vault +secret\/mcp\/cli#OPENAI_API_KEY/)
  t.regex(result.stdout, /REF_TOKEN +reference +vault +secret\/refs\/cli#token/)
  t.regex(result.stdout, /GITHUB_TOKEN +pattern +env-fallback/)
  t.regex(result.stdout, /^warning: GITHUB_TOKEN: no Vault value/m)
  t.regex(result.stdout, /^healthy$/m)
  for (const value of [OPENAI, REFERENCE, 'ghp-env-only', t.context.bao.token]) t.false(result.stdout.includes(value))
})

test('doctor --json returns the report object', async (t) => {
  const result = await cli(['doctor', '--json', '--mode', 'shadow'], { env: vaultEnv(t) })
  t.is(result.code, 0, result.stderr)
  const report = parseJsonOutput(result)
  t.is(report.mode, 'shadow')
  t.is(report.app, 'cli')
  t.true(report.reachable)
  t.true(report.authOk)
  t.is(report.tokenTtlSeconds, 0)
  t.false(report.renewable)
  t.deepEqual(report.problems, [])
  const key = report.keys.find((k) => k.name === 'OPENAI_API_KEY')
  t.deepEqual(key, { name: 'OPENAI_API_KEY', kind: 'pattern', source: 'env', path: 'secret/mcp/cli', field: 'OPENAI_API_KEY' })
})

test('doctor reports a short-lived token', async (t) => {
  const token = await t.context.bao.createToken({ ttl: '10m', renewable: false, policies: ['root'] })
  const result = await cli(['doctor', '--json'], { env: vaultEnv(t, { VAULT_TOKEN: token }) })
  const report = parseJsonOutput(result)
  t.true(report.tokenTtlSeconds > 0 && report.tokenTtlSeconds <= 600, String(report.tokenTtlSeconds))
  t.false(report.renewable)
  t.true(report.warnings.some((w) => /expires in \d+ s and is not renewable/.test(w)), report.warnings.join('\n'))
})

test('doctor exits 1 on each kind of problem', async (t) => {
  const cases = [
    [{ VAULT_ADDR: undefined, VAULT_TOKEN: undefined }, /no Vault address/],
    [{ RAGNOS_VAULT_MODE: 'fast' }, /invalid mode "fast" from RAGNOS_VAULT_MODE/],
    [{ VAULT_TOKEN: 'not-a-token' }, /vault rejected the token/],
    [{ VAULT_ADDR: 'http://127.0.0.1:1' }, /vault unreachable at http:\/\/127\.0\.0\.1:1/],
    [{ REF_TOKEN: 'vault:secret/refs/cli#missing' }, /REF_TOKEN: the reference has no value in Vault/],
    [{ REF_TOKEN: 'vault:nomount' }, /invalid reference "vault:nomount" in REF_TOKEN/],
    [{ RAGNOS_VAULT_STRICT: 'true', RAGNOS_VAULT_MODE: 'vault', GITHUB_TOKEN: 'env' }, /GITHUB_TOKEN: no Vault value/]
  ]
  for (const [extra, pattern] of cases) {
    const result = await cli(['doctor'], { env: vaultEnv(t, extra) })
    t.is(result.code, 1, `${JSON.stringify(extra)}\n${result.stdout}`)
    t.regex(result.stdout, new RegExp(`^problem: .*${pattern.source}`, 'm'))
    t.regex(result.stderr, /^ragnos-vault: \d+ problem\(s\) found; the first: /)
    t.false(result.stdout.includes(t.context.bao.token))
  }
})

test('doctor under NODE_OPTIONS neither installs the proxy nor logs in twice', async (t) => {
  const relay = await startRelay(t.context.bao.addr)
  t.teardown(() => relay.close())
  const result = await cli(['doctor', '--json'], {
    env: vaultEnv(t, { VAULT_ADDR: relay.addr, RAGNOS_VAULT_MODE: 'vault', NODE_OPTIONS: `--require "${REPO_ROOT}"` })
  })
  t.is(result.code, 0, result.stderr)
  const report = parseJsonOutput(result)
  t.true(report.authOk)
  t.is(report.tokenSource, 'VAULT_TOKEN')
  const lookups = relay.requests.filter((r) => r.path.startsWith('/v1/auth/token/lookup-self'))
  t.is(lookups.length, 1)
})

test('doctor leaves the engine and process.env alone', async (t) => {
  const result = await runNode({
    eval: `
      const { types } = require('util')
      const native = require(${JSON.stringify(path.join(REPO_ROOT, 'lib', 'binding.js'))}).load()
      const report = native.doctor({ env: Object.assign({}, process.env), cwd: process.cwd() })
      console.log(JSON.stringify({
        authOk: report.authOk,
        keys: report.keys.length,
        settings: native.settingsJson(),
        served: native.snapshot().keys.length,
        proxied: types.isProxy(process.env),
        token: process.env.VAULT_TOKEN === ${JSON.stringify(t.context.bao.token)}
      }))`,
    preload: false,
    env: vaultEnv(t, { RAGNOS_VAULT_MODE: 'vault' })
  })
  t.is(result.code, 0, result.stderr)
  const out = parseJsonOutput(result)
  t.true(out.authOk)
  t.true(out.keys > 0)
  t.is(out.settings, 'null')
  t.is(out.served, 0)
  t.false(out.proxied)
  t.true(out.token)
})
