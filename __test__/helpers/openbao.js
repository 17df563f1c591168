'use strict';

// OpenBao dev servers for ava specs. The server code lives in scripts/openbao.js
// so that examples can use it without requiring test files.

const { startOpenBao, findFreePort, vaultRequest } = require('../../scripts/openbao');

/**
 * Registers ava hooks that start one OpenBao dev server for the spec file and
 * stop it after all tests, even failed ones. Tests reach the server as
 * `t.context.bao`, and the returned holder's `server` property refers to the same
 * object once `test.before` has run.
 *
 * `opts` are passed to `startOpenBao`; `opts.seed(server)`, when given, runs
 * once the server is healthy, to store the spec's secrets.
 */
function withOpenBao(test, opts = {}) {
  const holder = { server: null };

  test.before(async (t) => {
    holder.server = await startOpenBao(opts);
    t.context.bao = holder.server;
    // ava runs `before` hooks concurrently, so seeding happens here, after
    // the server is up, rather than in a hook of the spec's own.
    if (opts.seed) {
      await opts.seed(holder.server);
    }
  });

  test.after.always(async () => {
    if (holder.server) {
      await holder.server.stop();
      holder.server = null;
    }
  });

  return holder;
}

module.exports = { startOpenBao, withOpenBao, findFreePort, vaultRequest };
