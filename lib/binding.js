'use strict'

// Finds the native addon: a local build in the package folder (what
// `npm run build` produces), else the platform package from npm/.

const fs = require('fs')
const path = require('path')

function isMusl() {
  if (process.platform !== 'linux') return false
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch (_) {
    return false
  }
}

function platformSuffix() {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function load() {
  const suffix = platformSuffix()
  const local = path.join(__dirname, '..', `vault-preloader.${suffix}.node`)
  if (fs.existsSync(local)) return require(local)
  const name = `@ragnos/vault-preloader-${suffix}`
  try {
    return require(name)
  } catch (error) {
    // Only the platform package itself missing gets this message; an addon
    // that is found but fails to load keeps its own error.
    if (error.code !== 'MODULE_NOT_FOUND' || !String(error.message).includes(name)) throw error
    throw new Error(
      `no native addon for ${suffix}: neither ${local} nor the package ${name} is installed ` +
        '(npm installs it as an optional dependency; reinstall without --omit=optional or --no-optional)'
    )
  }
}

module.exports = { load, platformSuffix }
