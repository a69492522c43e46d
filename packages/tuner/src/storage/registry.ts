/**
 * Storage chosen by URL scheme. `sqlite:` (and no URL) is built in; other modules plug in with
 * `registerStorage('postgres', factory)` without touching this file.
 */
import { StorageError } from '../errors.js';
import { openSqliteStorage } from './sqlite.js';
import type { StorageContext, StorageFactory, StudyStorage } from './types.js';

// PostgreSQL (distributed tuning) is loaded on first use, so SQLite-only users never load pg.
const openPostgres: StorageFactory = async (url, context) =>
  (await import('./postgres/postgres-storage.js')).openPostgresStorage(url, context);

const factories = new Map<string, StorageFactory>([
  ['sqlite', openSqliteStorage],
  ['postgres', openPostgres],
  ['postgresql', openPostgres],
]);

/** Registers (or replaces) the factory for a URL scheme, e.g. 'postgres' for postgres://... URLs. */
export function registerStorage(scheme: string, factory: StorageFactory): void {
  factories.set(scheme.toLowerCase().replace(/:$/, ''), factory);
}

export function registeredSchemes(): string[] {
  return [...factories.keys()];
}

/** Opens the study storage for `url` (default 'sqlite:', i.e. <directory>/<projectName>/study.db). */
export async function openStorage(url: string | undefined, context: StorageContext): Promise<StudyStorage> {
  const target = url ?? 'sqlite:';
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(target);
  if (!match) {
    throw new StorageError(`Storage URL '${target}' has no scheme; use 'sqlite:' or e.g. 'postgres://...'.`);
  }
  const scheme = (match[1] as string).toLowerCase();
  const factory = factories.get(scheme);
  if (!factory) {
    throw new StorageError(
      `No storage is registered for '${scheme}:' (known: ${registeredSchemes().join(', ')}). ` +
        'Import the module that registers it before creating the tuner.',
    );
  }
  return factory(target, context);
}
