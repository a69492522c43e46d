#!/usr/bin/env node
// The package's bin. npm links a bin at install time only if its file exists, and dist/ is built
// after `npm ci`, so the bin is this committed launcher: it runs dist/bin.js, building the
// workspace first when a source checkout has not been built yet.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(pkg, 'dist', 'bin.js');

if (!existsSync(entry)) {
  const root = join(pkg, '..', '..');
  const checkout = existsSync(join(pkg, 'src', 'bin.ts')) && existsSync(join(root, 'node_modules', 'typescript'));
  if (!checkout) {
    process.stderr.write(`tuneserve: ${relative(process.cwd(), entry)} is missing; run \`npm run build\` first\n`);
    process.exit(1);
  }
  // Build output goes to stderr so that stdout carries only the command's own output (--json).
  process.stderr.write('tuneserve: first run in this checkout, building it (npm run build)...\n');
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (build.status !== 0 || !existsSync(entry)) {
    process.stderr.write('tuneserve: the build failed (see above); fix it and run `npm run build`\n');
    process.exit(1);
  }
}

await import(pathToFileURL(entry).href);
