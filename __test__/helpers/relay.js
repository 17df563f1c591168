'use strict'

// An HTTP relay on 127.0.0.1 in front of an OpenBao server. It records
// every request and can hold each one back, to count what the preloader
// sends and to play a slow Vault.

const http = require('node:http')

function startRelay(targetAddr, options = {}) {
  const target = new URL(targetAddr)
  const requests = []
  let delayMs = options.delayMs || 0
  const sockets = new Set()

  const server = http.createServer((req, res) => {
    requests.push({ method: req.method, path: req.url })
    setTimeout(() => forward(req, res), delayMs)
  })

  function forward(req, res) {
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers
      },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers)
        answer.pipe(res)
      }
    )
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  }

  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      resolve({
        addr: `http://127.0.0.1:${server.address().port}`,
        requests,
        setDelay(ms) {
          delayMs = ms
        },
        close() {
          for (const socket of sockets) socket.destroy()
          return new Promise((done) => server.close(() => done()))
        }
      })
    })
  })
}

module.exports = { startRelay }
