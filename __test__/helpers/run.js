'use strict';

// Spawns Node.js child processes with the preloader and a clean environment.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** Repository root, which is the package directory: `require(REPO_ROOT)` loads index.js. */
const REPO_ROOT = path.resolve(__dirname, '..', '..');
const FIXTURES_DIR = path.resolve(__dirname, '..', 'fixtures');

const createdDirs = new Set();

process.on('exit', () => {
  for (const dir of createdDirs) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Creates an empty temporary directory and returns its path. The directory is
 * removed when this process exits, or earlier with `removeDir`.
 */
function freeDir(prefix = 'ragnos-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  createdDirs.add(dir);
  return dir;
}

function removeDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  createdDirs.delete(dir);
}

/** Returns the absolute path of a file in __test__/fixtures. */
function fixture(name) {
  return path.join(FIXTURES_DIR, name);
}

/**
 * Builds the child's environment: PATH, a temporary HOME, and `extra`.
 * Nothing else is inherited, so a developer's VAULT_*, BAO_* and RAGNOS_*
 * variables never reach the child. A key set to undefined in `extra` is left out.
 */
function cleanEnv(homeDir, extra = {}) {
  const env = { PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin', HOME: homeDir };
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) {
      delete env[key];
    } else {
      env[key] = String(value);
    }
  }
  return env;
}

function formatOutput(stdout, stderr) {
  return `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
}

/**
 * Runs a Node.js script or `-e` code, by default as `node -r <REPO_ROOT> ...`.
 *
 * Options:
 * - script: path of the script to run (resolved against the test process's cwd;
 *   use `fixture(name)` for fixtures), or
 * - eval: source code passed with `-e`.
 * - args: arguments after the script or code.
 * - nodeArgs: Node.js options placed before `-r` (for example `--no-warnings`).
 * - env: variables added to the clean environment (see `cleanEnv`).
 * - cwd: working directory (default: the temporary HOME, so no ./ragnos-vault.json
 *   from the repository is picked up).
 * - nodeBinary: Node.js executable (default: the one running the tests).
 * - preload: whether to add `-r <REPO_ROOT>` (default true).
 * - timeoutMs: the child is killed with SIGKILL and the promise rejects after this
 *   long (default 30000).
 * - input: string or Buffer written to stdin, which is then closed.
 *
 * Resolves to `{ code, signal, stdout, stderr, home }` whatever the exit status.
 */
function runNode(options = {}) {
  const {
    script,
    eval: code,
    env = {},
    cwd,
    args = [],
    nodeArgs = [],
    nodeBinary = process.execPath,
    preload = true,
    timeoutMs = 30000,
    input,
  } = options;

  if ((script === undefined) === (code === undefined)) {
    return Promise.reject(new Error('runNode: pass exactly one of "script" or "eval"'));
  }

  const home = freeDir('ragnos-home-');
  const childArgs = [...nodeArgs];
  if (preload) {
    childArgs.push('-r', REPO_ROOT);
  }
  if (script !== undefined) {
    childArgs.push(path.resolve(script));
  } else {
    childArgs.push('-e', code);
  }
  childArgs.push(...args);

  return new Promise((resolve, reject) => {
    const child = spawn(nodeBinary, childArgs, {
      cwd: cwd || home,
      env: cleanEnv(home, env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdoutChunks = [];
    const stderrChunks = [];
    let timedOut = false;

    child.stdout.on('data', (chunk) => stdoutChunks.push(chunk));
    child.stderr.on('data', (chunk) => stderrChunks.push(chunk));
    const collected = () => ({
      stdout: Buffer.concat(stdoutChunks).toString('utf8'),
      stderr: Buffer.concat(stderrChunks).toString('utf8'),
    });

    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);

    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`runNode: failed to start ${nodeBinary}: ${error.message}`));
    });

    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      const { stdout, stderr } = collected();
      if (timedOut) {
        const target = script !== undefined ? script : '-e code';
        reject(new Error(`runNode: ${target} timed out after ${timeoutMs} ms and was killed\n${formatOutput(stdout, stderr)}`));
        return;
      }
      resolve({ code: exitCode, signal, stdout, stderr, home });
    });

    // A child that exits without reading stdin makes this write fail with EPIPE.
    child.stdin.on('error', () => {});
    if (input !== undefined) {
      child.stdin.end(input);
    } else {
      child.stdin.end();
    }
  });
}

/** Parses the child's stdout as JSON and names the output when it is not. */
function parseJsonOutput(result) {
  try {
    return JSON.parse(result.stdout);
  } catch (error) {
    throw new Error(`stdout is not valid JSON (${error.message})\n${formatOutput(result.stdout, result.stderr)}`);
  }
}

module.exports = { REPO_ROOT, FIXTURES_DIR, runNode, freeDir, removeDir, fixture, cleanEnv, parseJsonOutput };
