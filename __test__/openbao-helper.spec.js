'use strict';

const test = require('ava');

const { withOpenBao, startOpenBao, vaultRequest } = require('./helpers/openbao');
const { runNode, fixture, parseJsonOutput } = require('./helpers/run');

withOpenBao(test);

test('dev server is healthy on loopback', async (t) => {
  const { bao } = t.context;
  t.regex(bao.addr, /^http:\/\/127\.0\.0\.1:\d+$/);
  const health = await bao.request('GET', '/v1/sys/health', undefined, null);
  t.is(health.status, 200);
  t.false(health.body.sealed);
});

test('kvPut then kvGet round-trips', async (t) => {
  const { bao } = t.context;
  const written = await bao.kvPut('mcp/helper-roundtrip', { OPENAI_API_KEY: 'sk-helper', OTHER: 'value' });
  t.is(written.version, 1);

  t.deepEqual(await bao.kvGet('mcp/helper-roundtrip'), { OPENAI_API_KEY: 'sk-helper', OTHER: 'value' });

  const raw = await bao.request('GET', '/v1/secret/data/mcp/helper-roundtrip');
  t.is(raw.status, 200);
  t.is(raw.body.data.data.OPENAI_API_KEY, 'sk-helper');
});

test('kvGet of missing path returns null', async (t) => {
  t.is(await t.context.bao.kvGet('mcp/helper-does-not-exist'), null);
});

test('KV v1 mount stores and reads', async (t) => {
  const { bao } = t.context;
  await bao.enableKvV1('kv1-helper');
  await bao.kv1Put('kv1-helper', 'app/config', { DATABASE_URL: 'postgres://db' });

  const raw = await bao.request('GET', '/v1/kv1-helper/app/config');
  t.is(raw.status, 200);
  t.is(raw.body.data.DATABASE_URL, 'postgres://db');
});

test('policy-limited token reads only its paths', async (t) => {
  const { bao } = t.context;
  await bao.kvPut('mcp/helper-policy', { X_TOKEN: 'allowed' });
  await bao.kvPut('private/helper-policy', { X_TOKEN: 'denied' });
  await bao.putPolicy('helper-read-mcp', 'path "secret/data/mcp/*" { capabilities = ["read"] }');
  const token = await bao.createToken({ policies: ['helper-read-mcp'], ttl: '10m' });

  t.not(token, bao.token);
  const allowed = await bao.request('GET', '/v1/secret/data/mcp/helper-policy', undefined, token);
  t.is(allowed.status, 200);
  const denied = await bao.request('GET', '/v1/secret/data/private/helper-policy', undefined, token);
  t.is(denied.status, 403);
});

test('request without token is rejected', async (t) => {
  const response = await t.context.bao.request('GET', '/v1/secret/data/mcp/helper-no-token', undefined, null);
  t.is(response.status, 403);
});

test('stop ends the server', async (t) => {
  const server = await startOpenBao();
  const before = await vaultRequest(server.addr, 'GET', '/v1/sys/health');
  t.is(before.status, 200);

  const exit = await server.stop();
  t.is(exit.code, 0);
  await t.throwsAsync(vaultRequest(server.addr, 'GET', '/v1/sys/health', { timeoutMs: 2000 }), {
    code: 'ECONNREFUSED',
  });
});

test('runNode child gets a clean env', async (t) => {
  const { bao } = t.context;
  const previous = process.env.VAULT_TOKEN;
  process.env.VAULT_TOKEN = 'must-not-leak';
  try {
    const result = await runNode({
      script: fixture('print-env.js'),
      args: ['VAULT_ADDR', 'VAULT_TOKEN', 'HOME', 'MISSING_KEY'],
      env: { VAULT_ADDR: bao.addr },
      preload: false,
    });
    t.is(result.code, 0, result.stderr);
    const printed = parseJsonOutput(result);
    t.is(printed.VAULT_ADDR, bao.addr);
    t.is(printed.VAULT_TOKEN, null);
    t.is(printed.MISSING_KEY, null);
    t.is(printed.HOME, result.home);
  } finally {
    if (previous === undefined) {
      delete process.env.VAULT_TOKEN;
    } else {
      process.env.VAULT_TOKEN = previous;
    }
  }
});

test('runNode rejects on timeout', async (t) => {
  await t.throwsAsync(runNode({ eval: 'setInterval(() => {}, 1000)', preload: false, timeoutMs: 500 }), {
    message: /timed out after 500 ms/,
  });
});
