/**
 * The docs as tests: every fenced block of README.md and docs/*.md is run, checked or visibly marked.
 *
 * - ```sh / ```bash: each command runs (bash, in order) in the file's session; exit code 0 expected.
 *   ```console: `$ ` lines run, and the lines after each are the output the docs show: each must match a
 *   line of the real output, in order, with numbers as wildcards and `...` as "anything" (an expected
 *   `tuneserve: ...` error line means a non-zero exit is expected).
 * - ```ts / ```js: written to a file in the session and run with tsx; exit code 0 expected.
 * - `no-run: <reason>` after the language (```sh no-run: needs a Kubernetes cluster): not run; the reason is
 *   required, shell is syntax-checked with `bash -n`, TypeScript is parsed.
 * - ```text (diagrams, synopses, sample output), ```json / ```yaml (parsed), ```dockerfile, ```python: shown, not run.
 *   A block without a language fails: say what it is.
 *
 * Each file runs in its own session: a temporary directory whose entries link to the repo's (sources,
 * built packages, node_modules), so models/ and tuning/ are fresh, with node_modules/.bin on PATH (as
 * `npx`), TUNESERVE_QUICK=1 (every tuning budget capped, see README.md) and HOST=127.0.0.1. A session starts
 * with a small shared model in models/mnist/1 unless its file runs `npm start` / `tuneserve up` itself.
 * Commands that serve (`npm start`, `tuneserve up` without --no-serve, `tuneserve serve`, `node …bin.js up|serve`)
 * run in the background until they print their URL; port 8080 in commands and snippets becomes a free port
 * (PORT and TUNESERVE_URL point to it too).
 * `npm ci` is not run (the session shares the suite's install); `npm test` is not run (it is this suite);
 * `npm start` runs what it runs after its build, `node packages/cli/dist/bin.js up` (`npm test` built the
 * workspace first, and rebuilding here would rewrite packages/web/dist under the browser tests running alongside).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

const ROOT = resolve(import.meta.dirname, '..');
const FILES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
/** Records of past runs: their blocks are what was run and printed then, shown as text, not run again. */
const HISTORY = new Set(['docs/benchmarks-changelog.md']);
const SHELL = new Set(['sh', 'bash', 'shell']);
const CODE = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs']);
const SHOWN = new Set(['text', 'txt', 'dockerfile', 'python', 'py', 'http', 'diff', 'ini', 'toml', 'proto', 'csv']);
const SERVES = /(^|[\s;&(])(npm start|tuneserve (up|serve)|node \S*bin\.js (up|serve))(\s|$)/;
const READY = /tuneserve is up: open|tuneserve: serving .* at https?:\/\//;
const COMMAND_TIMEOUT_MS = 240_000;

interface Block {
  file: string;
  line: number; // 1-based line of the opening fence
  lang: string;
  noRun?: string; // the reason, when marked no-run
  body: string;
}

/** Fenced blocks (``` or ~~~, also indented in lists) with their info strings. */
function extractBlocks(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !new RegExp(`^\\s*${fence[0]}{${fence.length},}\\s*$`).test(lines[i]!); i++) {
      body.push(lines[i]!.startsWith(indent) ? lines[i]!.slice(indent.length) : lines[i]!.trimStart());
    }
    const [lang = '', ...rest] = info.trim().split(/\s+/);
    const attrs = rest.join(' ');
    const noRun = /^no-run\b:?\s*(.*)$/.exec(attrs);
    blocks.push({
      file,
      line: start + 1,
      lang: lang.toLowerCase(),
      ...(noRun ? { noRun: noRun[1]!.trim() } : {}),
      body: body.join('\n'),
    });
  }
  return blocks;
}

/** Shell commands of a block: continuation lines joined, comments and blank lines dropped. */
function commands(body: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of body.split('\n')) {
    const line = raw.trimEnd();
    if (current === '' && (line.trim() === '' || line.trim().startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    out.push(current + line);
    current = '';
  }
  return out;
}

/** `$ cmd` lines and the output shown after each. */
function consoleSteps(body: string): { command: string; expected: string[] }[] {
  const steps: { command: string; expected: string[] }[] = [];
  for (const line of body.split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] });
    else if (steps.length > 0 && line.trim() !== '') steps.at(-1)!.expected.push(line);
  }
  return steps;
}

/** A shown output line as a pattern: numbers match any number, `...` anything, spacing is loose. */
function linePattern(expected: string): RegExp {
  const parts = expected.trim().split(/(\.\.\.|-?\d+(?:\.\d+)?|\s+)/);
  const source = parts
    .map((p) => {
      if (p === '...') return '.*';
      if (/^-?\d+(\.\d+)?$/.test(p)) return '-?\\d+(?:\\.\\d+)?';
      if (/^\s+$/.test(p)) return '\\s+';
      return p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^\\s*${source}\\s*$`);
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}

class Session {
  readonly dir: string;
  private server: ChildProcess | undefined;
  private serverOutput = '';
  constructor(
    readonly file: string,
    readonly env: NodeJS.ProcessEnv,
    readonly port: number,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `tuneserve-docs-${file.replace(/\W+/g, '-')}-`));
    for (const entry of readdirSync(ROOT)) {
      if (['models', 'tuning', '.git'].includes(entry)) continue;
      symlinkSync(join(ROOT, entry), join(this.dir, entry));
    }
  }

  private rewrite(command: string): string {
    return command.replaceAll('8080', String(this.port));
  }

  /** Runs one command; servers are started in the background and awaited until they print their URL. */
  async run(command: string): Promise<{ code: number | null; output: string }> {
    const line = this.rewrite(command);
    if (SERVES.test(line) && !/--no-serve/.test(line)) return this.serve(line);
    return new Promise((done) => {
      const child = spawn('bash', ['-c', line], { cwd: this.dir, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
      child.on('close', (code) => {
        clearTimeout(timer);
        done({ code, output });
      });
    });
  }

  private async serve(line: string): Promise<{ code: number | null; output: string }> {
    await this.stopServer();
    const child = spawn('bash', ['-c', line], {
      cwd: this.dir,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: `npm start` runs node under npm
    });
    this.server = child;
    this.serverOutput = '';
    return new Promise((done) => {
      const timer = setTimeout(
        () => done({ code: null, output: `${this.serverOutput}\n(not up after 240 s)` }),
        240_000,
      );
      const onData = (d: Buffer) => {
        this.serverOutput += d.toString();
        if (READY.test(this.serverOutput)) {
          clearTimeout(timer);
          done({ code: 0, output: this.serverOutput });
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('close', (code) => {
        clearTimeout(timer);
        done({ code: code === 0 ? 1 : code, output: `${this.serverOutput}\n(the server exited with ${code})` });
      });
    });
  }

  async stopServer(): Promise<void> {
    const child = this.server;
    this.server = undefined;
    if (!child || child.exitCode !== null || child.pid === undefined) return;
    const closed = new Promise((r) => child.once('close', r));
    process.kill(-child.pid, 'SIGTERM');
    const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 10_000);
    await closed;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await this.stopServer();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const where = (b: Block) => `${b.file}:${b.line}`;
const SHARED = mkdtempSync(join(tmpdir(), 'tuneserve-docs-shared-'));
const allBlocks = FILES.map((file) => ({
  file,
  blocks: extractBlocks(file, readFileSync(join(ROOT, file), 'utf8')),
})).filter((f) => f.blocks.length > 0);

beforeAll(() => {
  // One small model for every session that serves or queries without making its own (a few seconds).
  const made = spawnSync(
    process.execPath,
    [
      join(ROOT, 'packages/cli/dist/bin.js'),
      'up',
      '--no-serve',
      '--max-trials',
      '1',
      '--epochs',
      '2',
      '--max-epochs',
      '2',
      '--limit-samples',
      '3000',
      '--seed',
      '1',
    ],
    // its own budget whatever the caller's TUNESERVE_QUICK: docs/web.md shows this model reading digit #0 right
    { cwd: SHARED, encoding: 'utf8', env: { ...process.env, TUNESERVE_QUICK: '' } },
  );
  expect(made.status, made.stdout + made.stderr).toBe(0);
}, 300_000);
afterAll(() => rmSync(SHARED, { recursive: true, force: true }));

describe.each(allBlocks)('$file', ({ file, blocks }) => {
  let session: Session;
  beforeAll(async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`,
      TUNESERVE_QUICK: '1',
      HOST: '127.0.0.1',
      PORT: String(port),
      TUNESERVE_URL: `http://127.0.0.1:${port}`,
      FORCE_COLOR: '0',
      NO_COLOR: '1',
    };
    session = new Session(file, env, port);
    const makesItsOwn = blocks.some((b) => !b.noRun && /npm start|tuneserve up/.test(b.body));
    if (!makesItsOwn) {
      mkdirSync(join(session.dir, 'models'));
      cpSync(join(SHARED, 'models', 'mnist'), join(session.dir, 'models', 'mnist'), { recursive: true });
    }
  });
  afterAll(async () => session?.close());

  for (const block of blocks) {
    const title = `${where(block)} ${block.lang || '(no language)'}${block.noRun !== undefined ? ` — not run: ${block.noRun}` : ''}`;
    if (HISTORY.has(file)) {
      it(`${where(block)} — not run: history (a past run's commands and output)`, () =>
        check({ ...block, lang: 'text' }));
      continue;
    }
    it(title, async () => {
      if (block.noRun !== undefined) {
        expect(block.noRun, `${where(block)}: no-run needs a reason (\`no-run: why\`)`).not.toBe('');
        return check(block);
      }
      if (block.lang === 'console') return runConsole(session, block);
      if (SHELL.has(block.lang)) return runShell(session, block);
      if (CODE.has(block.lang)) return runCode(session, block);
      return check(block);
    }, 600_000);
  }
});

/** Blocks that are not run: shown text, data, or marked no-run (syntax-checked). */
function check(block: Block): void {
  const at = where(block);
  if (SHELL.has(block.lang) || block.lang === 'console') {
    const script =
      block.lang === 'console'
        ? consoleSteps(block.body)
            .map((s) => s.command)
            .join('\n')
        : block.body;
    const syntax = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
    expect(syntax.status, `${at}: bash -n: ${syntax.stderr}`).toBe(0);
  } else if (CODE.has(block.lang)) {
    const out = ts.transpileModule(block.body, {
      reportDiagnostics: true,
      compilerOptions: { target: 99, module: 199 },
    });
    const errors = (out.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(errors, `${at}: does not parse`).toEqual([]);
  } else if (block.lang === 'json') {
    expect(() => JSON.parse(block.body), `${at}: invalid JSON`).not.toThrow();
  } else if (block.lang === 'yaml' || block.lang === 'yml') {
    expect(() => parseYaml(block.body), `${at}: invalid YAML`).not.toThrow();
  } else if (!SHOWN.has(block.lang)) {
    expect.fail(
      block.lang === ''
        ? `${at}: a fenced block needs a language: sh (run), ts (run), console (run + output), text (shown only), or add no-run: <reason>`
        : `${at}: unknown block language "${block.lang}" (the docs test runs sh/bash/console/ts/js, parses json/yaml, shows text)`,
    );
  }
}

async function runShell(session: Session, block: Block): Promise<void> {
  for (const command of commands(block.body)) {
    if (/^npm test\b/.test(command.trim())) continue; // the suite itself
    const line = command
      .replace(/^\s*npm ci( [^&;]*)?(&&|;)\s*/, '') // the session shares the suite's install
      .replace(/\bnpm start\b/, 'node packages/cli/dist/bin.js up'); // built by pretest; see the header
    if (/^\s*npm ci\b/.test(line)) continue;
    const { code, output } = await session.run(line);
    expect(code, `${where(block)}: \`${command}\` exited with ${code}:\n${output.slice(-3000)}`).toBe(0);
  }
}

async function runConsole(session: Session, block: Block): Promise<void> {
  for (const step of consoleSteps(block.body)) {
    const { code, output } = await session.run(step.command);
    const failing = step.expected.some((l) => /^\w+: /.test(l) && l.startsWith('tuneserve: '));
    const at = `${where(block)}: \`$ ${step.command}\``;
    if (failing) expect(code, `${at} was shown failing but exited 0:\n${output}`).not.toBe(0);
    else expect(code, `${at} exited with ${code}:\n${output.slice(-3000)}`).toBe(0);
    const actual = output.split('\n');
    let from = 0;
    for (const expected of step.expected) {
      const pattern = linePattern(expected);
      const found = actual.findIndex((l, i) => i >= from && pattern.test(l));
      expect(
        found,
        `${at}: the docs show "${expected}", not in the output (in order):\n${output}`,
      ).toBeGreaterThanOrEqual(0);
      from = found + 1;
    }
  }
}

async function runCode(session: Session, block: Block): Promise<void> {
  const file = join(session.dir, `.docs-snippet-${block.line}.${block.lang.startsWith('j') ? 'mjs' : 'mts'}`);
  writeFileSync(file, block.body.replaceAll('8080', String(session.port)));
  const { code, output } = await session.run(`tsx ${file}`);
  expect(code, `${where(block)}: the snippet exited with ${code}:\n${output.slice(-3000)}`).toBe(0);
}
