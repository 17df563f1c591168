'use strict'

// What the numbers were measured on and with.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')

function quiet(command, args, cwd) {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10000 }).trim()
  } catch (_) {
    return null
  }
}

function cpuModel() {
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'))
    if (line) return line.split(':').slice(1).join(':').trim()
  } catch (_) {
    // Not Linux.
  }
  return os.cpus()[0] ? os.cpus()[0].model : 'unknown'
}

function memoryGiB() {
  try {
    const line = fs.readFileSync('/proc/meminfo', 'utf8').split('\n').find((l) => l.startsWith('MemTotal:'))
    return Math.round((Number(line.match(/(\d+)/)[1]) / 1048576) * 10) / 10
  } catch (_) {
    return Math.round((os.totalmem() / 2 ** 30) * 10) / 10
  }
}

function machine(baoBinary) {
  const nproc = quiet('nproc', []) || String(os.cpus().length)
  const bao = quiet(baoBinary || 'bao', ['version'])
  return {
    nproc: Number(nproc),
    cpu: cpuModel(),
    memoryGiB: memoryGiB(),
    node: process.version,
    v8: process.versions.v8,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    openbao: bao ? bao.split(' (')[0] : null
  }
}

/** The commit of `dir` and whether its work tree differs from it. */
function revision(dir) {
  const commit = quiet('git', ['rev-parse', 'HEAD'], dir)
  const status = quiet('git', ['status', '--porcelain', '--untracked-files=no'], dir)
  return { commit, dirty: status === null ? null : status.length > 0 }
}

module.exports = { machine, revision }
