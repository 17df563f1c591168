'use strict'

// A Jest 29 project (__test__/fixtures/jest-project) whose tests read
// secrets from process.env passes with the preloader in NODE_OPTIONS and in
// Jest's setupFiles, on the oldest and newest Node.js of the matrix. Its
// fifteen test files each load the addon in their own environment.

const fs = require('node:fs')
const path = require('node:path')
const test = require('ava')

const { withOpenBao } = require('../helpers/openbao')
const { runNode, freeDir, REPO_ROOT, FIXTURES_DIR } = require('../helpers/run')
const { nodeBinary, versionOf, limiter } = require('./node-versions')

const PROJECT = path.join(FIXTURES_DIR, 'jest-project')
const JEST = path.join(PROJECT, 'node_modules', 'jest', 'bin', 'jest.js')
const EXPECTED = {
  OPENAI_API_KEY: 'sk-vault-jest-77c1',
  GITHUB_TOKEN: 'ghp-vault-jest-e20f',
  REF_TOKEN: 'ref-jest-value-18ab'
}

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/jest-project', { OPENAI_API_KEY: EXPECTED.OPENAI_API_KEY, GITHUB_TOKEN: EXPECTED.GITHUB_TOKEN })
    await bao.kvPut('refs/jest', { token: EXPECTED.REF_TOKEN })
  }
})

// Each run starts Jest and its workers, so two run at a time, leaving CPU
// time to the spec files that run alongside.
const slot = limiter(2)

async function runJest(t, version, { args = [], env = {} } = {}) {
  const binary = nodeBinary(version)
  const report = path.join(freeDir('ragnos-jest-'), 'report.json')
  const options = {
    script: JEST,
    args: ['--ci', '--json', `--outputFile=${report}`, ...args],
    cwd: PROJECT,
    nodeBinary: binary,
    preload: false,
    timeoutMs: 120000,
    env: {
      ...t.context.bao.clientEnv(),
      // Jest starts its workers with process.execPath; PATH only matters
      // for tools that tests start by name.
      PATH: `${path.dirname(binary)}:${process.env.PATH}`,
      RAGNOS_VAULT_MODE: 'vault',
      // The main script belongs to the test runner, whose package name
      // would otherwise be taken as the app name.
      RAGNOS_VAULT_APP: 'jest-project',
      GITHUB_TOKEN: 'ghp-from-the-environment',
      REF_TOKEN: 'vault:secret/refs/jest#token',
      JEST_FIXTURE_EXPECTED: JSON.stringify(EXPECTED),
      ...env
    }
  }
  const result = await slot(() => runNode(options))
  t.is(result.code, 0, result.stderr)
  t.true(fs.existsSync(report), result.stderr)
  return JSON.parse(fs.readFileSync(report, 'utf8'))
}

function allPassed(t, report) {
  t.is(report.numFailedTests, 0)
  t.is(report.numTotalTestSuites, 15)
  t.is(report.numPassedTests, 19)
  t.is(report.numRuntimeErrorTestSuites, 0)
}

const PRELOAD = `--require "${REPO_ROOT}"`

for (const wanted of [14, 22]) {
  const version = versionOf(wanted)

  test(`node ${wanted}: jest with the preloader in NODE_OPTIONS`, async (t) => {
    allPassed(t, await runJest(t, version, { env: { NODE_OPTIONS: PRELOAD } }))
  })

  test(`node ${wanted}: jest with the preloader in setupFiles`, async (t) => {
    allPassed(t, await runJest(t, version, { args: ['--config', 'jest.setup-files.config.js'] }))
  })

  test(`node ${wanted}: jest in band loads the addon in every file`, async (t) => {
    allPassed(t, await runJest(t, version, { args: ['--runInBand', '--config', 'jest.setup-files.config.js'] }))
  })

  test(`node ${wanted}: jest on worker threads`, async (t) => {
    allPassed(t, await runJest(t, version, { args: ['--workerThreads'], env: { NODE_OPTIONS: PRELOAD } }))
    allPassed(t, await runJest(t, version, { args: ['--workerThreads', '--config', 'jest.setup-files.config.js'] }))
  })
}
