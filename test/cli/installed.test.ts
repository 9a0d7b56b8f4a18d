/**
 * turngym as `npm install turngym` installs it: the built CLI, with the production dependencies and none of the
 * dev-only ones (test/production-install.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installTranspiled, linkProductionDependencies } from '../production-install.js';

const run = promisify(execFile);
let project: string;
let cli: string;

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'turngym-installed-'));
  await linkProductionDependencies(project);
  cli = await installTranspiled(project);
}, 120_000);
afterAll(() => rm(project, { recursive: true, force: true }));

describe('turngym installed without its dev dependencies', () => {
  it(
    'runs bench search, and says in the JSON that the comparison with MiniSearch (a dev dependency) is left out',
    { timeout: 180_000 },
    async () => {
      expect(existsSync(join(project, 'node_modules', 'minisearch'))).toBe(false);
      const { stdout, stderr } = await run(process.execPath, [cli, 'bench', 'search', '--json', '--quick'], {
        cwd: project,
      });
      expect(stderr).toBe('');
      const figures = JSON.parse(stdout);
      expect(figures.minisearch).toBe(
        'not installed (a dev dependency of turngym): the comparison with MiniSearch is left out; `npm install minisearch` beside turngym adds it',
      );
      expect(figures.sizes[0].documents).toBe(5000);
      expect(figures.sizes[0].entity_queries.raw.p50_ms).toBeGreaterThan(0);
      expect(figures.sizes[0]).not.toHaveProperty('minisearch_build');
    },
  );
});
