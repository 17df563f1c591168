'use strict'

// An ava project (__test__/fixtures/ava-project, run with this repository's
// ava 6) whose tests read secrets from process.env passes with the
// preloader in ava's `require` setting and in NODE_OPTIONS, with test files
// in worker threads and in child processes. ava 6 runs on Node.js 18.18 and
// later, so the older versions of the matrix are left out here.

const path = require('node:path')
const test = require('ava')

const { withOpenBao } = require('../helpers/openbao')
const { runNode, REPO_ROOT, FIXTURES_DIR } = require('../helpers/run')
const { nodeBinary, versionOf, limiter } = require('./node-versions')

const PROJECT = path.join(FIXTURES_DIR, 'ava-project')
const AVA = path.join(REPO_ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs')
const TEST_COUNT = 13
const EXPECTED = {
  OPENAI_API_KEY: 'sk-vault-ava-3f90',
  GITHUB_TOKEN: 'ghp-vault-ava-5d12',
  REF_TOKEN: 'ref-ava-value-a7e4'
}

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/ava-project', { OPENAI_API_KEY: EXPECTED.OPENAI_API_KEY, GITHUB_TOKEN: EXPECTED.GITHUB_TOKEN })
    await bao.kvPut('refs/ava', { token: EXPECTED.REF_TOKEN })
  }
})

// Each run starts ava and its workers, so two run at a time, leaving CPU
// time to the spec files that run alongside.
const slot = limiter(2)

async function runAva(t, version, { workerThreads, preload }) {
  const args = []
  if (!workerThreads) args.push('--no-worker-threads')
  if (preload === 'require') args.push('--config', 'ava.require.config.cjs')
  const options = {
    script: AVA,
    args,
    cwd: PROJECT,
    nodeBinary: nodeBinary(version),
    preload: false,
    timeoutMs: 120000,
    env: {
      ...t.context.bao.clientEnv(),
      RAGNOS_VAULT_MODE: 'vault',
      // The main script belongs to the test runner, whose package name
      // would otherwise be taken as the app name.
      RAGNOS_VAULT_APP: 'ava-project',
      GITHUB_TOKEN: 'ghp-from-the-environment',
      REF_TOKEN: 'vault:secret/refs/ava#token',
      AVA_FIXTURE_EXPECTED: JSON.stringify({ ...EXPECTED, isMainThread: !workerThreads }),
      NODE_OPTIONS: preload === 'NODE_OPTIONS' ? `--require "${REPO_ROOT}"` : undefined
    }
  }
  const result = await slot(() => runNode(options))
  const output = result.stdout + result.stderr
  t.is(result.code, 0, output)
  t.regex(output, new RegExp(`\\b${TEST_COUNT} tests passed`), output)
  t.notRegex(output, /failed|uncaught|unhandled/i, output)
}

for (const wanted of [18, 20, 22]) {
  const version = versionOf(wanted)
  for (const preload of ['require', 'NODE_OPTIONS']) {
    test(`node ${wanted}: ava worker threads, preloader in ${preload}`, async (t) => {
      await runAva(t, version, { workerThreads: true, preload })
    })

    test(`node ${wanted}: ava child processes, preloader in ${preload}`, async (t) => {
      await runAva(t, version, { workerThreads: false, preload })
    })
  }
}
