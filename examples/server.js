'use strict';

// A small HTTP service that needs OPENAI_API_KEY and contains no Vault code.
//
//   node -r @ragnos/vault-preloader examples/server.js
//
// With the preloader in vault mode, the key comes from Vault even when it is not
// in the environment. The service prints only a masked form of the key. With
// DEMO_ONCE=1 it exits after that line instead of listening on PORT (default 3000).
// This file runs under the preloader, so it stays parseable by Node.js 14.

const http = require('http');

const key = process.env.OPENAI_API_KEY;

/** Returns the first 3 characters and the length, or only the length for short values. */
function maskSecret(value) {
  const visible = value.length >= 12 ? value.slice(0, 3) : '';
  return visible + '*** (' + value.length + ' chars)';
}

if (!key) {
  console.error('example server: OPENAI_API_KEY is not set; store it in Vault and start with "node -r @ragnos/vault-preloader", or set it in the environment');
  process.exit(1);
}

console.log('example server: received OPENAI_API_KEY ' + maskSecret(key));

if (process.env.DEMO_ONCE !== '1') {
  const port = Number(process.env.PORT || 3000);
  const server = http.createServer(function (request, response) {
    response.setHeader('Content-Type', 'application/json');
    response.end(JSON.stringify({ openaiKeyConfigured: true }) + '\n');
  });
  server.listen(port, '127.0.0.1', function () {
    console.log('example server: listening on http://127.0.0.1:' + port);
  });
}
