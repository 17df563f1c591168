'use strict';

// Runs one command as a child and ends it when this process's stdin closes.
//
// Usage: node child-guard.js COMMAND [ARG...]
//
// The parent owns the write end of this process's stdin. When the parent exits for any
// reason, including SIGKILL, the pipe closes and the guarded command is sent
// SIGTERM, then SIGKILL after 3 s. SIGTERM, SIGINT and SIGHUP sent to the guard
// are forwarded the same way. The guard exits with the child's exit code, or
// 128 + signal number when the child was killed by a signal.

const { spawn } = require('node:child_process');
const os = require('node:os');

const KILL_AFTER_MS = 3000;

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('child-guard: missing command; usage: node child-guard.js COMMAND [ARG...]\n');
  process.exit(2);
}

const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let terminating = false;

function terminate(reason) {
  if (terminating) {
    return;
  }
  terminating = true;
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  child.kill('SIGTERM');
  setTimeout(() => {
    process.stderr.write(`child-guard: ${command} still running ${KILL_AFTER_MS} ms after ${reason}; sending SIGKILL\n`);
    child.kill('SIGKILL');
  }, KILL_AFTER_MS);
}

child.on('error', (error) => {
  process.stderr.write(`child-guard: failed to start ${command}: ${error.message}\n`);
  process.exit(127);
});

child.on('exit', (code, signal) => {
  if (signal) {
    process.exit(128 + (os.constants.signals[signal] || 0));
  }
  process.exit(code === null ? 1 : code);
});

process.stdin.on('end', () => terminate('stdin closed'));
process.stdin.on('error', () => terminate('stdin error'));
process.stdin.resume();

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(signal, () => terminate(signal));
}
