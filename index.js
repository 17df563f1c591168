'use strict'

// Entry point for both `node -r @ragnos/vault-preloader` and `require`:
// starts the preloader once per realm, puts the Proxy over process.env, and
// exports the API.

const INSTALLED = Symbol.for('@ragnos/vault-preloader')

if (!process[INSTALLED]) {
  Object.defineProperty(process, INSTALLED, { value: require('./lib/install').install() })
}

module.exports = process[INSTALLED]
