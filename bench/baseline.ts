/**
 * What the benchmarks that measure another commit side by side share (`--baseline-dir`): this tree's root,
 * the commit a tree is at, the checks that a folder is a turngym source tree that can run, and running one
 * side's job in a child process of its own.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { UsageError } from '../src/core/errors.js';

/** This tree's root (the folder above bench/, or above dist/bench/ when built), where tsx is installed. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The commit a tree is at, and whether its tracked files differ from it (undefined outside git). */
export function commitOf(dir: string): string | undefined {
  try {
    const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).trim();
    const hash = git('rev-parse', '--short=7', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no') === '' ? hash : `${hash} with uncommitted changes`;
  } catch {
    return undefined;
  }
}

/**
 * The baseline's src/ folder, or a usage error saying what is missing: the folder, `needs` (a file under src/
 * the benchmark imports, e.g. `rl/trainer.ts`), or `packages` (the dependencies it loads from that tree).
 */
export function baselineSource(dir: string, needs: string, packages: readonly string[]): string {
  const where = `--baseline-dir ${dir}`;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${where}: no such directory.`);
  const src = join(resolve(dir), 'src');
  if (!existsSync(join(src, needs)))
    throw new UsageError(
      `${where}: not a turngym source tree (no src/${needs}); give a worktree of the commit to compare with (git worktree add DIR COMMIT).`,
    );
  try {
    for (const name of packages) createRequire(join(src, 'index.js')).resolve(name);
  } catch {
    throw new UsageError(
      `${where}: its dependencies are not installed; run npm ci there, or link this tree's (ln -s ${join(ROOT, 'node_modules')} ${join(resolve(dir), 'node_modules')}).`,
    );
  }
  return src;
}

/**
 * Runs `node --import tsx ENTRY JOB` (JOB as JSON) from this tree's root and returns the last line it prints,
 * parsed; a failure is an error starting with `label` and ending with the child's last lines of stderr.
 */
export async function runInChild<T>(entry: string, job: unknown, label: string): Promise<T> {
  const args = ['--no-node-snapshot', '--import', 'tsx', entry, JSON.stringify(job)];
  try {
    const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: ROOT, maxBuffer: 1 << 26 });
    return JSON.parse(stdout.trim().split('\n').pop()!) as T;
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? (error as Error).message);
    throw new Error(`${label} failed: ${stderr.trim().split('\n').slice(-8).join('\n')}`);
  }
}

/**
 * A side's child process: when `entry` (the calling module's own file) is the script node runs, runs `run` on
 * the job given as JSON and prints its result as one line, then exits, so that nothing the measured tree left
 * running (envs, browsers, threads) holds the parent waiting.
 */
export async function runChildJob<J, R>(entry: string, run: (job: J) => Promise<R>): Promise<void> {
  if (process.argv[1] !== entry) return;
  const result = await run(JSON.parse(process.argv[2]!) as J);
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}
