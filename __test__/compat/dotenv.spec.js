'use strict'

// dotenv (`-r dotenv/config`) before and after the preloader, in a project
// whose .env file sets GITHUB_TOKEN, a vault: reference in OPENAI_API_KEY
// and a plain setting. The preloader reads the environment once, when it
// loads: dotenv must load first for .env values to be managed.

const path = require('node:path')
const test = require('ava')

const { withOpenBao } = require('../helpers/openbao')
const { runNode, parseJsonOutput, REPO_ROOT, FIXTURES_DIR } = require('../helpers/run')

const PROJECT = path.join(FIXTURES_DIR, 'dotenv-project')
const FROM_VAULT = 'ghp-from-vault-dotenv-6b2e'
const REFERENCED = 'sk-from-vault-reference-0c4f'
const FROM_FILE = 'ghp-from-dotenv-file'
const REFERENCE = 'vault:secret/dotenv/refs#openai'
const PLAIN = 'plain-from-dotenv-file'

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/dotenv-project', { GITHUB_TOKEN: FROM_VAULT })
    await bao.kvPut('dotenv/refs', { openai: REFERENCED })
  }
})

async function run(t, { dotenvFirst, env = {} }) {
  const preloader = ['-r', REPO_ROOT]
  const dotenv = ['-r', 'dotenv/config']
  const result = await runNode({
    script: path.join(PROJECT, 'server.js'),
    cwd: PROJECT,
    preload: false,
    nodeArgs: dotenvFirst ? [...dotenv, ...preloader] : [...preloader, ...dotenv],
    env: { ...t.context.bao.clientEnv(), RAGNOS_VAULT_MODE: 'vault', ...env }
  })
  t.is(result.code, 0, result.stderr)
  t.is(result.stderr, '')
  return parseJsonOutput(result)
}

test('dotenv first: .env values are managed', async (t) => {
  const seen = await run(t, { dotenvFirst: true })
  t.is(seen.GITHUB_TOKEN, FROM_VAULT)
  t.is(seen.OPENAI_API_KEY, REFERENCED)
  t.is(seen.PLAIN_SETTING, PLAIN)
})

test('dotenv first in shadow mode: .env values are served', async (t) => {
  const seen = await run(t, { dotenvFirst: true, env: { RAGNOS_VAULT_MODE: 'shadow' } })
  t.is(seen.GITHUB_TOKEN, FROM_FILE)
  t.is(seen.OPENAI_API_KEY, REFERENCED)
  t.is(seen.PLAIN_SETTING, PLAIN)
})

test('dotenv after: keys Vault serves are kept, references stay text', async (t) => {
  // dotenv leaves a key that is already set alone, and GITHUB_TOKEN is set
  // once the preloader found it in the app's Vault document. The reference
  // arrives after the preloader read the environment, so dotenv writes it
  // as a plain value.
  const seen = await run(t, { dotenvFirst: false })
  t.is(seen.GITHUB_TOKEN, FROM_VAULT)
  t.is(seen.OPENAI_API_KEY, REFERENCE)
  t.is(seen.PLAIN_SETTING, PLAIN)
})

test('dotenv after with override: .env writes win', async (t) => {
  // With override, dotenv writes every key through the proxy, and a
  // program's own write wins over Vault.
  const seen = await run(t, { dotenvFirst: false, env: { DOTENV_CONFIG_OVERRIDE: 'true' } })
  t.is(seen.GITHUB_TOKEN, FROM_FILE)
  t.is(seen.OPENAI_API_KEY, REFERENCE)
  t.is(seen.PLAIN_SETTING, PLAIN)
})
