'use strict';

// Shows the preloader end to end: starts a local OpenBao dev server, stores
// OPENAI_API_KEY in it, and runs examples/server.js under the preloader with no
// OPENAI_API_KEY in its environment. Exits 0 only when the server reports the key
// that was stored in OpenBao.
//
//   npm run demo        (installs dependencies and builds the addon first)
//   node examples/demo.js

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { startOpenBao } = require('../scripts/openbao');

const REPO_ROOT = path.resolve(__dirname, '..');
const SERVER_SCRIPT = path.join(__dirname, 'server.js');
const APP_NAME = 'demo';
const SECRET_PATH = `mcp/${APP_NAME}`;
const SERVER_TIMEOUT_MS = 30000;

function step(number, text) {
  console.log(`\n[${number}/4] ${text}`);
}

function detail(text) {
  console.log(`      ${text}`);
}

/** Copies each line of `stream` to `target` with a prefix, and collects the text. */
function relayLines(stream, target, prefix) {
  let collected = '';
  let pending = '';
  stream.on('data', (chunk) => {
    const text = chunk.toString('utf8');
    collected += text;
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const line of lines) {
      target.write(`${prefix}${line}\n`);
    }
  });
  return () => {
    if (pending !== '') {
      target.write(`${prefix}${pending}\n`);
      pending = '';
    }
    return collected;
  };
}

/** Runs examples/server.js under the preloader and resolves to { code, signal, stdout }. */
function runExampleServer(env, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', REPO_ROOT, SERVER_SCRIPT], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const finishStdout = relayLines(child.stdout, process.stdout, '      stdout | ');
    const finishStderr = relayLines(child.stderr, process.stdout, '      stderr | ');
    const timer = setTimeout(() => child.kill('SIGKILL'), SERVER_TIMEOUT_MS);

    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`failed to start ${process.execPath}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = finishStdout();
      finishStderr();
      resolve({ code, signal, stdout });
    });
  });
}

function expectedMask(secret) {
  return `${secret.slice(0, 3)}*** (${secret.length} chars)`;
}

async function main() {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragnos-demo-'));
  let bao = null;

  try {
    step(1, 'Starting a local OpenBao dev server (in memory, 127.0.0.1 only)');
    bao = await startOpenBao();
    detail(`listening on ${bao.addr}, root token generated for this run`);

    step(2, `Storing OPENAI_API_KEY in KV v2 at secret/${SECRET_PATH}`);
    const secret = `sk-demo-${crypto.randomBytes(12).toString('hex')}`;
    await bao.kvPut(SECRET_PATH, { OPENAI_API_KEY: secret });
    detail(`stored a random ${secret.length}-character demo key`);

    step(3, 'Running "node -r @ragnos/vault-preloader examples/server.js"');
    detail(`environment: VAULT_ADDR, VAULT_TOKEN, RAGNOS_VAULT_MODE=vault, RAGNOS_VAULT_APP=${APP_NAME}, RAGNOS_VAULT_LOG=info, DEMO_ONCE=1`);
    detail('OPENAI_API_KEY is not in the environment; the server reads process.env as usual');
    const env = {
      PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin',
      HOME: workDir,
      VAULT_ADDR: bao.addr,
      VAULT_TOKEN: bao.token,
      RAGNOS_VAULT_MODE: 'vault',
      RAGNOS_VAULT_APP: APP_NAME,
      RAGNOS_VAULT_LOG: 'info',
      DEMO_ONCE: '1',
    };
    const result = await runExampleServer(env, workDir);

    step(4, 'Checking the result and stopping OpenBao');
    const reported = result.stdout.includes(`received OPENAI_API_KEY ${expectedMask(secret)}`);
    await bao.stop();
    bao = null;
    detail('OpenBao stopped');

    if (result.code !== 0 || !reported) {
      const exit = result.signal ? `signal ${result.signal}` : `exit code ${result.code}`;
      console.error(`\ndemo failed: the example server ended with ${exit} and ${reported ? 'did' : 'did not'} report the key stored in OpenBao.`);
      console.error('If the addon is not built yet, run "npm run build" or "npm run demo", which builds it.');
      return 1;
    }
    console.log('\ndemo passed: the server read OPENAI_API_KEY from OpenBao through process.env, with no code change.');
    return 0;
  } finally {
    if (bao) {
      await bao.stop();
    }
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

process.on('SIGINT', () => process.exit(130));

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`\ndemo failed: ${error.message}`);
    process.exitCode = 1;
  },
);
