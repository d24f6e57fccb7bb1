#!/usr/bin/env node
// Builds the optional native BLAS add-on (blas.c against the system OpenBLAS) with node-gyp. Run by `npm install`,
// where a missing prerequisite must never fail the install: it prints one line and the framework runs without the
// add-on. `--required` (npm run build:native) shows the compiler's output and fails instead.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { dirname, join } = require('node:path');

const required = process.argv.includes('--required');

function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (existsSync(bundled)) return bundled;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return undefined;
  }
}

function skip(reason) {
  if (required) {
    console.error(`native BLAS add-on: ${reason}`);
    process.exit(1);
  }
  console.log(`adapterfusion: native BLAS add-on not built (${reason}); everything works without it, only slower. ` +
    'Install OpenBLAS (apt-get install libopenblas-dev) and run "npm run build:native" to build it.');
  process.exit(0);
}

if (process.env.ADAPTERFUSION_BLAS === '0' && !required) skip('ADAPTERFUSION_BLAS=0');
const gyp = nodeGyp();
if (!gyp) skip('node-gyp not found');
const args = [gyp, 'rebuild'];
// Node's own headers, where the installation has them, spare node-gyp a download (installs may be offline).
const nodeDir = join(dirname(process.execPath), '..');
if (existsSync(join(nodeDir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodeDir}`);
const result = spawnSync(process.execPath, args, { cwd: __dirname, encoding: 'utf8', stdio: required ? 'inherit' : 'pipe' });
if (result.status !== 0) {
  const output = `${result.stdout ?? ''}\n${result.stderr ?? ''}`;
  const cause = output.split('\n').find((line) => /error/i.test(line) && !/^gyp (info|ERR! (stack|System|command|cwd|node|not ok))/.test(line));
  skip(cause ? cause.trim().slice(0, 200) : `node-gyp exited with ${result.status ?? result.signal}`);
}
console.log('adapterfusion: native BLAS add-on built');
