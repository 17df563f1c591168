'use strict'

// index.d.ts: a usage file compiles with tsc --strict, wrong uses fail to,
// and the declared API has exactly the members the package exports.

const { execFile } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const test = require('ava')
const ts = require('typescript')
const { runNode, parseJsonOutput, freeDir, REPO_ROOT } = require('./helpers/run')

const TSC = require.resolve('typescript/bin/tsc')
const TYPES_DIR = path.join(__dirname, 'fixtures', 'types')

function tsc(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [TSC, ...args], { cwd: REPO_ROOT }, (error, stdout, stderr) => {
      resolve({ code: error ? error.code : 0, output: stdout + stderr })
    })
  })
}

test('usage file compiles with tsc --strict', async (t) => {
  const { code, output } = await tsc(['-p', path.join(TYPES_DIR, 'tsconfig.json')])
  t.is(code, 0, output)
})

test('wrong use of the API fails to compile', async (t) => {
  const dir = freeDir('ragnos-types-')
  const file = path.join(dir, 'wrong.ts')
  fs.writeFileSync(
    file,
    `import preloader = require(${JSON.stringify(path.join(REPO_ROOT, 'index'))})
     preloader.on('read', () => undefined)
     const total: string = preloader.stats().reads.total
     export { total }\n`
  )
  const { code, output } = await tsc(['--noEmit', '--strict', '--target', 'es2020', '--lib', 'es2020', '--module', 'commonjs', file])
  t.not(code, 0)
  t.regex(output, /wrong\.ts\(2,\d+\): error TS2769/)
  t.regex(output, /wrong\.ts\(3,\d+\): error TS2322/)
})

// Lists the members that index.d.ts declares on the Preloader interface.
function declaredMembers() {
  const file = path.join(REPO_ROOT, 'index.d.ts')
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2020, true)
  const names = new Set()
  function visit(node) {
    if (ts.isInterfaceDeclaration(node) && node.name.text === 'Preloader') {
      for (const member of node.members) names.add(member.name.getText(source))
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return [...names].sort()
}

test('index.d.ts declares every exported member', async (t) => {
  const result = await runNode({
    eval: `const api = require(${JSON.stringify(REPO_ROOT)})
      console.log(JSON.stringify(Object.keys(api).filter((k) => typeof api[k] === 'function').sort()))`,
    preload: false
  })
  t.is(result.code, 0, result.stderr)
  t.deepEqual(declaredMembers(), parseJsonOutput(result))
})
