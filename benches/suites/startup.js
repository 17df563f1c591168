'use strict'

// Figure 2: startup. This is the wall time of `node -r <package> -e 0`
// with 20 managed keys in 2 KV documents on a local OpenBao server, against
// plain `node -e 0` (target: at most 25 ms added at the median). Two
// alternatives run on the same secrets: a start script using the node-vault
// client, and OpenBao Agent in process supervisor mode.

const fs = require('node:fs')
const path = require('node:path')

const { CHILDREN, PACKAGE_DIR } = require('../lib/child')
const { measureStartup, verify } = require('../lib/startup')
const { addedFigure } = require('../lib/figure')
const { agentBinary, writeAgentConfig } = require('../alternatives/agent')

const ADDED_TARGET_MS = 25
const NODE_VAULT_START = path.join(__dirname, '..', 'alternatives', 'node-vault-start.js')
const CHECK = path.join(CHILDREN, 'check-env.js')

/** plain and preloader arms over `env`, plus the check of the preloader. */
function preloaderArms(env) {
  return [
    { id: 'plain', command: process.execPath, args: ['-e', '0'], env },
    { id: 'preloader', command: process.execPath, args: ['-r', PACKAGE_DIR, '-e', '0'], env, check: ['-r', PACKAGE_DIR, CHECK] }
  ]
}

function writeExpected(ctx, values) {
  const file = path.join(ctx.fixture.tempDir('expect-'), 'expected.json')
  fs.writeFileSync(file, JSON.stringify(values))
  return file
}

async function run(ctx) {
  const { fixture, config } = ctx
  const set = fixture.sets.standard
  const expected = writeExpected(ctx, set.values)
  const env = fixture.env({ mode: 'vault' })
  const arms = preloaderArms(env)
  // The package loaded with no Vault address: the addon and lib/ load, and
  // nothing is managed. The preloader minus this is the work done with
  // Vault (runtime, login, reads); this minus plain is loading the package.
  arms.push({ id: 'idle', command: process.execPath, args: ['-r', PACKAGE_DIR, '-e', '0'], env: fixture.env({ mode: null }) })

  const nodeVaultEnv = {
    ...fixture.env({ mode: null }),
    VAULT_ADDR: fixture.bao.addr,
    VAULT_TOKEN: fixture.bao.token,
    BENCH_KV_PATHS: Object.keys(fixture.apiDocuments()).join(',')
  }
  arms.push({ id: 'node-vault', command: process.execPath, args: [NODE_VAULT_START], env: nodeVaultEnv, check: [NODE_VAULT_START, CHECK, expected] })

  const bao = agentBinary()
  const agentDir = fixture.tempDir('agent-')
  const agentEnv = fixture.env({ mode: null })
  const agentConfig = (command) =>
    writeAgentConfig(fs.mkdtempSync(path.join(agentDir, 'cfg-')), {
      addr: fixture.bao.addr,
      token: fixture.bao.token,
      documents: fixture.apiDocuments(),
      command
    })
  const timedConfig = agentConfig([process.execPath, '-e', '0'])
  const checkConfig = agentConfig([process.execPath, CHECK, expected])
  arms.push({
    id: 'agent',
    command: bao,
    args: ['agent', `-config=${timedConfig}`, '-log-level=error'],
    env: agentEnv,
    check: ['agent', `-config=${checkConfig}`, '-log-level=error']
  })
  arms[1].check.push(expected)

  for (const arm of arms) if (arm.check) verify(ctx, arm, arm.check)
  const samples = await measureStartup(ctx, arms, { ...config.startup, label: 'startup' })

  const base = { unit: 'ms', baseName: 'node -e 0', baseSamples: samples.plain }
  const figures = [
    addedFigure({ ...base, id: '2.preloader', name: 'node -r <package> -e 0, 20 keys in 2 KV paths', samples: samples.preloader, maxAdded: ADDED_TARGET_MS }),
    addedFigure({
      ...base,
      id: '2.idle',
      name: 'part of it: node -r <package> -e 0 with no Vault address (loading the package only)',
      samples: samples.idle,
      note: 'the rest of 2.preloader is the work with Vault: runtime, token lookup, mount lookup, 2 KV reads'
    }),
    addedFigure({ ...base, id: '2.node-vault', name: 'alternative: start script with node-vault, same 20 keys', samples: samples['node-vault'], note: 'reads both documents in parallel, then sets process.env' }),
    addedFigure({
      ...base,
      id: '2.agent',
      name: 'alternative: bao agent, process supervisor mode (env_template + exec)',
      samples: samples.agent,
      note: 'the agent waits a fixed 2 s debounce after its templates render before it starts the program (command/agent/exec/exec.go in openbao/openbao)'
    })
  ]
  return { figures, extra: { agentBinary: bao } }
}

module.exports = { run, preloaderArms, writeExpected, ADDED_TARGET_MS }
