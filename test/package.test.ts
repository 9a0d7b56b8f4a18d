/**
 * The package as npm publishes it: `npm run build`, `npm pack`, and a small TypeScript project that depends
 * on the packed turngym and type-checks without skipLibCheck. The project's node_modules is laid out as a
 * production install lays it out (test/production-install.ts): turngym unpacked from the tarball, and beside
 * it the production packages, none of the dev-only ones (their types must not be needed).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from './cli/helpers.js';
import { linkProductionDependencies } from './production-install.js';

const run = promisify(execFile);
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** A consumer's code: the API with its types, and an option of the wrong type that must not compile. */
const CONSUMER = `import { make, train, type TrainOptions, type TrainResult } from 'turngym';

const options: TrainOptions = { env: 'puzzle/guess-number-v0', steps: 2, curriculum: { kind: 'fixed', maxTurns: 5 } };
// @ts-expect-error steps is a number
const wrong: TrainOptions = { steps: 'many' };
export async function main(): Promise<TrainResult> {
  const env = await make('puzzle/guess-number-v0', { difficulty: 2 });
  const { observation } = await env.reset({ seed: 1 });
  const text: string = observation.text;
  await env.close();
  void text;
  void wrong;
  return train({ ...options, overwrite: true });
}
`;

describe('the published package', () => {
  it('builds, packs with LICENSE and README, and type-checks in a strict project without skipLibCheck', { timeout: 300_000 }, async () => {
    await run('npm', ['run', 'build'], { cwd: ROOT });
    const project = await mkdtemp(join(tmpdir(), 'turngym-consumer-'));
    const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', project], { cwd: ROOT });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    const files = packed!.files.map((file) => file.path);
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'bin/turngym.js', 'dist/src/index.js', 'dist/src/index.d.ts']));
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
    expect(manifest).toMatchObject({ license: 'MIT', type: 'module', repository: { type: 'git', url: expect.stringMatching(/^git\+https:\/\/github\.com\/[\w-]+\/[\w-]+\.git$/) } });

    const modules = join(project, 'node_modules');
    await mkdir(join(modules, 'turngym'), { recursive: true });
    await run('tar', ['-xzf', join(project, packed!.filename), '-C', join(modules, 'turngym'), '--strip-components=1']);
    await linkProductionDependencies(project);
    expect(await readdir(join(modules, '@types'))).not.toContain('ws'); // a dev-only package is not there

    // Each option's description and default reach the declarations an editor shows.
    expect(readFileSync(join(modules, 'turngym', 'dist', 'src', 'rl', 'train-options.d.ts'), 'utf8')).toContain(
      "    /**\n     * RL training steps (each: rollouts, advantages, updates).\n     *\n     * @defaultValue `50`\n     */\n    steps?: Input['steps'];",
    );
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { turngym: `file:${packed!.filename}` } }));
    const compilerOptions = { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false };
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['index.ts'] }));
    await writeFile(join(project, 'index.ts'), CONSUMER);
    const typescript = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const checked = await run(process.execPath, [typescript, '-p', project]).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
    expect(checked).toBe('');
  });
});
