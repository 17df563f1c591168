'use strict'

// Programs that only start another program: package runners (`npx`, `npm
// start`, pnpm, yarn, corepack) and this package's own `ragnos-vault` CLI.
// When NODE_OPTIONS carries the preloader, they load it too. Starting there
// would log in under the runner's name (`npm`, not the server's), scrub the
// token before the real program could use it, and copy the values into the
// program's environment block. So in a launcher the preloader stays off and
// the program it starts, which inherits NODE_OPTIONS, does the work.

const fs = require('fs')
const path = require('path')

const RUNNER_PACKAGES = ['npm', 'pnpm', 'yarn', 'corepack']
const OWN_CLI = path.join(__dirname, '..', 'bin', 'ragnos-vault')

// Returns the `name` of the package.json nearest above `file`, or null.
function packageName(file) {
  let dir = path.dirname(file)
  for (;;) {
    const manifest = path.join(dir, 'package.json')
    if (fs.existsSync(manifest)) {
      try {
        const name = JSON.parse(fs.readFileSync(manifest, 'utf8')).name
        return typeof name === 'string' ? name : null
      } catch (_) {
        return null
      }
    }
    const parent = path.dirname(dir)
    if (parent === dir) return null
    dir = parent
  }
}

function realPath(file) {
  try {
    return fs.realpathSync(file)
  } catch (_) {
    return file
  }
}

// Tells whether the main script `script` (process.argv[1]) is a launcher.
// Scripts are compared by real path, since runners start through symlinks
// such as /usr/bin/npx or node_modules/.bin/ragnos-vault.
function isLauncher(script) {
  if (typeof script !== 'string' || script === '') return false
  const real = realPath(script)
  if (real === realPath(OWN_CLI)) return true
  return RUNNER_PACKAGES.includes(packageName(real))
}

module.exports = { isLauncher }
