// Runs before `npm test`: builds the workspace (tests spawn the compiled CLI) and, when we are
// root, installs and starts the system components some suites need. Without root those suites
// skip with a loud line (or fail under CI=true).
import { execFileSync } from 'node:child_process';

const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'inherit' });

if (process.getuid?.() === 0) {
  run('bash', ['scripts/setup-system.sh']);
} else {
  console.error('\n!!! Not root: system components (Chromium, PostgreSQL, podman, OpenBLAS) were not set up.');
  console.error('!!! Run `sudo bash scripts/setup-system.sh` once, or their suites will be skipped.\n');
}
run('npm', ['run', 'build', '--silent']);
