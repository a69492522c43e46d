import { readFileSync } from 'node:fs';

/** The package version, read once (src/ and dist/ are both one level below package.json). */
export const TUNESERVE_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();
