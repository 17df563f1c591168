'use strict'

// npm install as users do it: the main package and the linux-x64-gnu
// platform package are packed with npm pack, installed from the tarballs
// into a fresh MCP-style project (in a folder whose path contains a space)
// with no Rust toolchain on PATH, and the server there gets its secret
// through `node -r @ragnos/vault-preloader` and through `ragnos-vault exec`.

const { execFile, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { promisify } = require('node:util')
const test = require('ava')

const { withOpenBao } = require('../helpers/openbao')
const { runNode, parseJsonOutput, freeDir, cleanEnv, REPO_ROOT } = require('../helpers/run')
const { nodeBinary, versionOf } = require('../matrix/node-versions')

const run = promisify(execFile)
const ADDON = 'vault-preloader.linux-x64-gnu.node'
const PLATFORM_DIR = path.join(REPO_ROOT, 'npm', 'linux-x64-gnu')
const PLATFORM_PACKAGE = '@ragnos/vault-preloader-linux-x64-gnu'
const SECRET = 'sk-vault-package-2c5d'
const SHARED = 'postgres://vault-package@db/app'

// PATH without the Rust toolchain, as on a machine that only has Node.js.
const PATH_WITHOUT_RUST = (process.env.PATH || '')
  .split(path.delimiter)
  .filter((dir) => dir !== '' && !dir.includes('.cargo') && !fs.existsSync(path.join(dir, 'cargo')))
  .join(path.delimiter)

const SERVER = `'use strict'
const keys = ['OPENAI_API_KEY', 'DATABASE_URL']
const seen = {}
for (const key of keys) seen[key] = process.env[key] === undefined ? null : process.env[key]
process.stdout.write(JSON.stringify(seen) + '\\n')
`

withOpenBao(test, {
  async seed(bao) {
    await bao.kvPut('mcp/weather-mcp', { OPENAI_API_KEY: SECRET })
    await bao.kvPut('mcp/shared', { DATABASE_URL: SHARED })
  }
})

async function npm(args, options) {
  return run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { maxBuffer: 16 * 1024 * 1024, ...options })
}

// Packs both packages and installs them into a new project; shared by the
// tests, so the work is done once.
let installed
function install() {
  if (!installed) installed = packAndInstall()
  return installed
}

async function packAndInstall() {
  const base = freeDir('ragnos package ')
  const home = path.join(base, 'home')
  const project = path.join(base, 'weather mcp')
  fs.mkdirSync(home)
  fs.mkdirSync(project)
  const env = cleanEnv(home, { PATH: PATH_WITHOUT_RUST, npm_config_cache: path.join(home, '.npm') })

  fs.copyFileSync(path.join(REPO_ROOT, ADDON), path.join(PLATFORM_DIR, ADDON))
  const packed = {}
  for (const [name, dir] of [['main', REPO_ROOT], ['platform', PLATFORM_DIR]]) {
    const { stdout } = await npm(['pack', dir, '--json', '--pack-destination', base], { cwd: base, env })
    const [info] = JSON.parse(stdout)
    packed[name] = { tarball: path.join(base, info.filename), files: info.files.map((f) => f.path) }
  }

  fs.writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'weather-mcp', version: '1.0.0', private: true }, null, 2)
  )
  fs.writeFileSync(path.join(project, 'server.js'), SERVER)
  await npm(['install', '--offline', packed.main.tarball, packed.platform.tarball], { cwd: project, env })
  return { base, home, project, packed, env }
}

function serverEnv(t, home, extra = {}) {
  return { ...t.context.bao.clientEnv(), RAGNOS_VAULT_MODE: 'vault', PATH: PATH_WITHOUT_RUST, ...extra }
}

test('no Rust toolchain on the test PATH', (t) => {
  const cargo = spawnSync('cargo', ['--version'], { env: { PATH: PATH_WITHOUT_RUST } })
  t.is(cargo.error && cargo.error.code, 'ENOENT')
})

test('tarballs hold what users need and nothing else', async (t) => {
  const { packed } = await install()
  const main = packed.main.files
  for (const file of ['package.json', 'index.js', 'bin/ragnos-vault', 'lib/install.js', 'lib/binding.js', 'lib/clone.js']) {
    t.true(main.includes(file), `${file} missing from the main package`)
  }
  t.false(main.some((f) => f.endsWith('.node')), 'the main package carries an addon')
  t.false(main.some((f) => /^(src|__test__|scripts|npm|target|\.node-matrix)\//.test(f)), main.join(', '))
  t.deepEqual(packed.platform.files.sort(), ['README.md', ADDON, 'package.json'].sort())
})

test('installed package has no install script and finds the platform addon', async (t) => {
  const { project } = await install()
  const root = path.join(project, 'node_modules', '@ragnos', 'vault-preloader')
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  t.deepEqual(manifest.optionalDependencies, { [PLATFORM_PACKAGE]: manifest.version })
  t.is(manifest.engines.node, '>= 14.17')
  for (const script of ['preinstall', 'install', 'postinstall']) {
    t.is((manifest.scripts || {})[script], undefined, `${script} script`)
  }
  t.false(fs.existsSync(path.join(root, ADDON)))
  t.true(fs.existsSync(path.join(project, 'node_modules', PLATFORM_PACKAGE, ADDON)))
  const platform = JSON.parse(fs.readFileSync(path.join(project, 'node_modules', PLATFORM_PACKAGE, 'package.json'), 'utf8'))
  t.is(platform.version, manifest.version)
})

test('server gets its secret with node -r', async (t) => {
  const { project, home } = await install()
  const result = await runNode({
    script: path.join(project, 'server.js'),
    cwd: project,
    preload: false,
    nodeArgs: ['-r', '@ragnos/vault-preloader'],
    env: serverEnv(t, home)
  })
  t.is(result.code, 0, result.stderr)
  t.is(result.stderr, '')
  t.deepEqual(parseJsonOutput(result), { OPENAI_API_KEY: SECRET, DATABASE_URL: SHARED })
})

for (const wanted of [14, 22]) {
  test(`ragnos-vault exec on node ${wanted} quotes the spaced path`, async (t) => {
    const { project, home } = await install()
    const node = nodeBinary(versionOf(wanted))
    const bin = path.join(project, 'node_modules', '.bin', 'ragnos-vault')
    const { stdout, stderr } = await run(bin, ['exec', '--', 'node', 'server.js'], {
      cwd: project,
      env: cleanEnv(home, serverEnv(t, home, { PATH: `${path.dirname(node)}${path.delimiter}${PATH_WITHOUT_RUST}` }))
    })
    t.is(stderr, '')
    t.deepEqual(JSON.parse(stdout), { OPENAI_API_KEY: SECRET, DATABASE_URL: SHARED })
  })
}

test('installed doctor reports the keys without values', async (t) => {
  const { project, home } = await install()
  const bin = path.join(project, 'node_modules', '.bin', 'ragnos-vault')
  const { stdout } = await run(bin, ['doctor', '--script', 'server.js'], {
    cwd: project,
    env: cleanEnv(home, serverEnv(t, home))
  })
  t.regex(stdout, /^app: +weather-mcp$/m)
  t.regex(stdout, /OPENAI_API_KEY +pattern +vault +secret\/mcp\/weather-mcp#OPENAI_API_KEY/)
  t.regex(stdout, /^healthy$/m)
  for (const value of [SECRET, SHARED, t.context.bao.token]) t.false(stdout.includes(value))
})
