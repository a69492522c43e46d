/**
 * compose.yaml: the server service and the `tuning` profile (PostgreSQL, N tuner workers sharing
 * one study, a trainer feeding the server's model volume) hold together: health checks, restart
 * policies, named volumes, hardening, and commands that use real CLI flags.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cliHelp, flagsOf } from './cli-help.js';

interface Service {
  build?: string;
  image?: string;
  profiles?: string[];
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  restart?: string;
  read_only?: boolean;
  tmpfs?: string[];
  cap_drop?: string[];
  deploy?: { replicas?: number | string };
  depends_on?: Record<string, { condition: string }>;
}
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

const compose = parse(readFileSync(resolve(import.meta.dirname, '../../compose.yaml'), 'utf8'), {
  merge: true,
}) as Compose;
const service = (name: string): Service => {
  const found = compose.services[name];
  if (!found) throw new Error(`compose.yaml has no service ${name}`);
  return found;
};
/** Compose's ${VAR:-default} interpolation with the defaults. */
const withDefaults = (text: string): string => text.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

describe('compose.yaml', () => {
  it('the server is built from the Dockerfile, published on 8080, health-checked and restarted', () => {
    const server = service('server');
    expect(server.build).toBe('.');
    expect(server.profiles).toBeUndefined();
    // Published on the host's loopback unless BIND says otherwise, as `tuneserve up` binds without keys.
    expect(server.ports?.map(withDefaults)).toEqual(['127.0.0.1:8080:8080']);
    expect(server.environment?.PORT).toBe('8080');
    expect(server.healthcheck?.test.join(' ')).toContain('http://127.0.0.1:8080/v2/health/ready');
    expect(server.restart).toBe('unless-stopped');
    expect(server).toMatchObject({ read_only: true, tmpfs: ['/tmp'], cap_drop: ['ALL'] });
    expect(server.volumes).toEqual(['models:/models:ro']);
  });

  it('the tuning profile: PostgreSQL and N tuner workers share one study, then a trainer feeds the server', () => {
    const postgres = service('postgres');
    const tuner = service('tuner');
    const trainer = service('trainer');
    for (const s of [postgres, tuner, trainer]) expect(s.profiles).toEqual(['tuning']);
    expect(postgres.healthcheck?.test.join(' ')).toContain('pg_isready');
    expect(postgres.ports).toBeUndefined();
    expect(postgres.volumes).toEqual(['pgdata:/var/lib/postgresql/data']);
    expect(withDefaults(String(tuner.deploy?.replicas))).toBe('2');
    expect(tuner.depends_on?.postgres?.condition).toBe('service_healthy');
    expect(trainer.depends_on?.tuner?.condition).toBe('service_completed_successfully');
    expect(trainer.volumes).toEqual(['models:/models', 'tuning:/tuning']);

    const env = postgres.environment ?? {};
    for (const worker of [tuner, trainer]) {
      const storage = (worker.command ?? []).find((a) => a.startsWith('--storage='))?.slice('--storage='.length) ?? '';
      const url = new URL(withDefaults(storage));
      expect(url.protocol).toBe('postgres:');
      expect(url.hostname).toBe('postgres');
      expect(url.port).toBe('5432');
      expect(url.username).toBe(env.POSTGRES_USER);
      expect(url.pathname).toBe(`/${env.POSTGRES_DB}`);
      // The password reaches pg through PGPASSWORD, never the command line (visible in `ps`).
      expect(url.password).toBe('');
      expect(worker.environment?.PGPASSWORD).toBe(env.POSTGRES_PASSWORD);
      expect((worker.command ?? []).join(' ')).not.toMatch(/PASSWORD|password=/i);
      expect(worker.restart).toBe('on-failure');
      expect(worker.image).toBe(service('server').image);
      // One study folder on a shared volume: checkpoints of taken-over trials, tuneserve-pipeline.json.
      expect(worker.command).toContain('--directory=/tuning');
      expect(worker.volumes).toContain('tuning:/tuning');
    }
  });

  it('every volume is a declared named volume', () => {
    const used = Object.values(compose.services).flatMap((s) => (s.volumes ?? []).map((v) => v.split(':')[0]));
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(Object.keys(compose.volumes)).toContain(name);
  });

  it('the commands use flags the real CLI has', () => {
    for (const name of ['tuner', 'trainer']) {
      const [command = '', ...args] = service(name).command ?? [];
      for (const flag of flagsOf(args)) expect(cliHelp(command), `${command} ${flag}`).toContain(`${flag} `);
    }
  });
});
