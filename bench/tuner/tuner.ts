/**
 * npm run bench:tuner -- [--sections quality,...] [each section's flags]
 *
 * The tuner's benchmark sections, run in one process and printed side by side with ratios:
 * - quality: median simple regret on Branin and Hartmann-6 (--seeds 20 --evals 40 --problems
 *   branin,hartmann6 --acquisition ei|ucb --initial-points dims+2|default|N --tpe-multivariate true|false
 *   --peer optuna|none --verbose), with Optuna's TPE and random sampler as the peer;
 * - cost: seconds per suggestion at N finished trials (--cost-sizes 50,200,500 --cost-asks 3).
 * - pareto: median hypervolume on ZDT1 and DTLZ2 against Optuna's NSGA-II and MOTPE
 *   (--mo-seeds 10 --mo-evals 100 --mo-problems zdt1,dtlz2).
 * Exit code 1 when a section misses its target, 2 on bad flags.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { cost } from './cost.js';
import { pareto } from './pareto.js';
import { quality } from './quality.js';
import type { Flags, Section } from './section.js';

/** Every section, in the order they run. */
const SECTIONS: Section[] = [quality, cost, pareto];

async function main(): Promise<void> {
  const options: NonNullable<ParseArgsConfig['options']> = {
    sections: { type: 'string', default: SECTIONS.map((s) => s.name).join(',') },
  };
  for (const section of SECTIONS) Object.assign(options, section.options);
  const values = parseArgs({ options }).values as Flags;
  const chosen = String(values.sections)
    .split(',')
    .map((name) => {
      const section = SECTIONS.find((s) => s.name === name.trim());
      if (!section) throw new Error(`unknown section '${name}' (known: ${SECTIONS.map((s) => s.name).join(', ')})`);
      return section;
    });
  const directory = mkdtempSync(path.join(tmpdir(), 'tuneserve-bench-tuner-'));
  const missed: string[] = [];
  try {
    for (const section of chosen) {
      const { met } = await section.run(values, { directory });
      if (!met) missed.push(section.name);
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  console.log(missed.length === 0 ? '\nevery target met' : `\ntargets NOT met in: ${missed.join(', ')}`);
  if (missed.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 2;
});
