/**
 * The package as npm publishes it: `npm run build`, `npm pack`, and a small project that depends on the
 * packed turngym. The project's node_modules is laid out as a production install lays it out
 * (test/production-install.ts): turngym unpacked from the tarball, and beside it the production packages,
 * none of the dev-only ones (their types must not be needed), plus tsx, which a project whose env modules
 * are TypeScript installs itself.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
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

let project: string;
let files: string[];

/** Runs the installed turngym CLI in `cwd`; never rejects. */
async function turngym(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = join(project, 'node_modules', 'turngym', 'bin', 'turngym.js');
  return run(process.execPath, [bin, ...args], { cwd }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

beforeAll(async () => {
  await run('npm', ['run', 'build'], { cwd: ROOT });
  project = await mkdtemp(join(tmpdir(), 'turngym-consumer-'));
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', project], {
    cwd: ROOT,
  });
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  files = packed!.files.map((file) => file.path);
  const modules = join(project, 'node_modules');
  await mkdir(join(modules, 'turngym'), { recursive: true });
  await run('tar', ['-xzf', join(project, packed!.filename), '-C', join(modules, 'turngym'), '--strip-components=1']);
  await linkProductionDependencies(project);
  await symlink(join(ROOT, 'node_modules', 'tsx'), join(modules, 'tsx'));
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'consumer',
      private: true,
      type: 'module',
      dependencies: { turngym: `file:${packed!.filename}`, tsx: '*' },
    }),
  );
}, 300_000);

describe('the published package', () => {
  it('holds LICENSE and README, and says where its repository is', async () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'package.json',
        'bin/turngym.js',
        'dist/src/index.js',
        'dist/src/index.d.ts',
      ]),
    );
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
    expect(manifest).toMatchObject({
      license: 'MIT',
      type: 'module',
      repository: { type: 'git', url: expect.stringMatching(/^git\+https:\/\/github\.com\/[\w-]+\/[\w-]+\.git$/) },
    });
  });

  it(
    'type-checks in a strict project without skipLibCheck, with each option documented',
    { timeout: 120_000 },
    async () => {
      expect(await readdir(join(project, 'node_modules', '@types'))).not.toContain('ws'); // a dev-only package is not there
      // Each option's description and default reach the declarations an editor shows.
      expect(
        readFileSync(join(project, 'node_modules', 'turngym', 'dist', 'src', 'rl', 'train-options.d.ts'), 'utf8'),
      ).toContain(
        "    /**\n     * RL training steps (each: rollouts, advantages, updates).\n     *\n     * @defaultValue `50`\n     */\n    steps?: Input['steps'];",
      );
      const compilerOptions = {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
      };
      await writeFile(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['index.ts'] }));
      await writeFile(join(project, 'index.ts'), CONSUMER);
      const typescript = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      const checked = await run(process.execPath, [typescript, '-p', project]).then(
        () => '',
        (error: { stdout: string }) => error.stdout,
      );
      expect(checked).toBe('');
    },
  );

  it(
    "runs an env module of the user's ESM project, and says what to do when the module is CommonJS or turngym is not installed",
    { timeout: 180_000 },
    async () => {
      await copyFile(join(ROOT, 'examples', 'custom-env.ts'), join(project, 'my-env.ts'));
      const played = await turngym(project, [
        'run',
        '--import',
        './my-env.ts',
        '--env',
        'example/safe-v0',
        '--episodes',
        '2',
        '--json',
      ]);
      expect(played.stderr).toBe('');
      expect(JSON.parse(played.stdout)).toMatchObject({ env: 'example/safe-v0', episodes: 2, success_rate: 1 });

      // The same module in a package without "type": "module": Node loads it as CommonJS.
      const commonJs = join(project, 'commonjs');
      await mkdir(commonJs);
      await writeFile(join(commonJs, 'package.json'), JSON.stringify({ name: 'my-envs', version: '1.0.0' }));
      await copyFile(join(ROOT, 'examples', 'custom-env.ts'), join(commonJs, 'my-env.ts'));
      // Outside the project (no turngym in any node_modules above it).
      const alone = await mkdtemp(join(tmpdir(), 'turngym-alone-'));
      await writeFile(join(alone, 'package.json'), JSON.stringify({ type: 'module' }));
      await writeFile(join(alone, 'my-env.mjs'), "import { register } from 'turngym';\nexport { register };\n");
      const [cjs, missing] = await Promise.all([
        turngym(commonJs, ['list', '--import', './my-env.ts']),
        turngym(alone, ['list', '--import', './my-env.mjs']),
      ]);
      expect(cjs.code).toBe(2);
      expect(cjs.stderr).toBe(
        `turngym: --import ./my-env.ts failed: Node loaded it as CommonJS, since ${join(commonJs, 'package.json')} has no "type": "module"; a module for --import must be an ES module, as turngym is (ESM-only). Add "type": "module" to ${join(commonJs, 'package.json')} (with turngym among its dependencies, and tsx for a .ts module), or name the file .mts or .mjs.\n`,
      );
      expect(missing.code).toBe(2);
      expect(missing.stderr).toBe(
        'turngym: --import ./my-env.mjs failed: it imports turngym, which is not installed where the module is: give the module a package.json with "type": "module" and turngym as a dependency (npm install turngym, and tsx for a .ts module), or put it in a folder of a project that has them.\n',
      );
    },
  );
});
