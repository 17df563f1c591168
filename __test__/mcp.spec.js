'use strict';

// Runs the unmodified Brave Search MCP server over stdio with the preloader set
// through NODE_OPTIONS. The server exits at start-up unless BRAVE_API_KEY is set,
// so listing its tools shows that the key came from Vault. The stdio transport
// reports every stdout line that is not JSON-RPC, so a clean `client.onerror`
// also shows that the preloader wrote nothing to stdout.
//
// No tool is called: that would send a request to the Brave Search API.

const path = require('node:path');
const test = require('ava');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');

const { withOpenBao } = require('./helpers/openbao');
const { REPO_ROOT, freeDir } = require('./helpers/run');

const BRAVE_SERVER_BIN = path.join(
  path.dirname(require.resolve('@modelcontextprotocol/server-brave-search/package.json', { paths: [REPO_ROOT] })),
  'dist',
  'index.js',
);
const CONNECT_TIMEOUT_MS = 20000;
const EXPECTED_TOOLS = ['brave_local_search', 'brave_web_search'];

withOpenBao(test);

function withTimeout(promise, ms, operation) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${operation} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Creates an MCP client for the Brave Search server, spawned with `env` on top
 * of the SDK's default inherited variables (HOME, LOGNAME, PATH, SHELL, TERM,
 * USER). HOME and cwd are a fresh temporary directory.
 */
function createBraveClient(env) {
  const home = freeDir('ragnos-mcp-');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BRAVE_SERVER_BIN],
    env: { HOME: home, ...env },
    cwd: home,
    stderr: 'pipe',
  });
  const session = { transport, stderr: '', errors: [], closed: false };
  transport.stderr.on('data', (chunk) => {
    session.stderr += chunk.toString('utf8');
  });

  session.client = new Client({ name: 'ragnos-vault-preloader-test', version: '0.0.0' });
  session.client.onerror = (error) => session.errors.push(error);
  session.client.onclose = () => {
    session.closed = true;
  };
  return session;
}

function preloadEnv(bao, extra) {
  return {
    NODE_OPTIONS: `--require "${REPO_ROOT}"`,
    ...bao.clientEnv(),
    RAGNOS_VAULT_MODE: 'vault',
    ...extra,
  };
}

async function listToolNames(t, session) {
  try {
    await withTimeout(session.client.connect(session.transport), CONNECT_TIMEOUT_MS, 'MCP connect');
    const { tools } = await withTimeout(session.client.listTools(), CONNECT_TIMEOUT_MS, 'tools/list');
    return tools.map((tool) => tool.name).sort();
  } catch (error) {
    t.log(`server stderr:\n${session.stderr}`);
    throw error;
  }
}

// Serial, so it runs before the shared-path test writes secret/mcp/shared, which
// would also satisfy this server.
test.serial('brave-search gets key from app path', async (t) => {
  const { bao } = t.context;
  await bao.kvPut('mcp/brave-app', { BRAVE_API_KEY: 'BSA-from-app-path' });
  const session = createBraveClient(preloadEnv(bao, { RAGNOS_VAULT_APP: 'brave-app' }));
  t.teardown(() => session.client.close());

  const names = await listToolNames(t, session);

  t.deepEqual(names, EXPECTED_TOOLS);
  t.is(session.client.getServerVersion().name, 'example-servers/brave-search');
  t.deepEqual(session.errors.map(String), [], 'non-JSON-RPC output on the server stdout');
  t.false(session.closed);
});

test('brave-search gets key from shared path', async (t) => {
  const { bao } = t.context;
  await bao.kvPut('mcp/shared', { BRAVE_API_KEY: 'BSA-from-shared-path' });
  const session = createBraveClient(preloadEnv(bao, { RAGNOS_VAULT_APP: 'brave-no-own-path' }));
  t.teardown(() => session.client.close());

  const names = await listToolNames(t, session);

  t.deepEqual(names, EXPECTED_TOOLS);
  t.deepEqual(session.errors.map(String), [], 'non-JSON-RPC output on the server stdout');
});

test('brave-search exits without preloader', async (t) => {
  const { bao } = t.context;
  await bao.kvPut('mcp/brave-bare', { BRAVE_API_KEY: 'BSA-unused' });
  const env = { ...bao.clientEnv(), RAGNOS_VAULT_MODE: 'vault', RAGNOS_VAULT_APP: 'brave-bare' };
  const session = createBraveClient(env);
  t.teardown(() => session.client.close());

  const error = await t.throwsAsync(
    withTimeout(
      session.client.connect(session.transport).then(() => session.client.listTools()),
      CONNECT_TIMEOUT_MS,
      'MCP connect without preloader',
    ),
  );

  t.notRegex(error.message, /timed out/);
  t.true(session.closed, 'transport should close when the server exits');
  await new Promise((resolve) => setImmediate(resolve));
  t.regex(session.stderr, /BRAVE_API_KEY environment variable is required/);
});
