/**
 * Vitest global setup: a Python 3 that can run the Python examples (examples/python/, which need the
 * `websockets` package), made by the test suite itself so that `npm test` passes on a fresh machine with
 * nothing installed by hand. It is a virtual environment in `.cache/test-python` (ignored by git), created
 * with `python3 -m venv` and `pip install websockets` on the first run and reused after. `$PYTHON`, when set
 * to a Python that imports websockets, is used instead.
 *
 * A machine without Python gets no stack trace: the tests that need it fail with one line saying what is
 * missing and how to install it, and every other test runs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

/** What the Python example tests get: a Python to run, or why there is none. */
export type TestPython = { path: string } | { problem: string };

declare module 'vitest' {
  export interface ProvidedContext {
    python: TestPython;
  }
}

const ROOT = join(import.meta.dirname, '..', '..');
export const TEST_VENV = join(ROOT, '.cache', 'test-python');
const PACKAGES = ['websockets'];

function run(
  command: string,
  args: string[],
  environment: NodeJS.ProcessEnv,
  timeoutMs = 300_000,
): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs, env: environment });
  return {
    ok: result.status === 0,
    output: `${result.error?.message ?? ''}${result.stdout ?? ''}${result.stderr ?? ''}`.trim(),
  };
}

const canImport = (python: string, environment: NodeJS.ProcessEnv) =>
  run(python, ['-c', `import ${PACKAGES.join(', ')}`], environment, 30_000).ok;
const lastLine = (text: string) =>
  text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .pop() ?? text;

/** Finds or makes the test Python in `venv` (see the module docs); `environment` gives PATH and PYTHON. */
export function ensureTestPython(venv = TEST_VENV, environment: NodeJS.ProcessEnv = process.env): TestPython {
  if (environment.PYTHON && canImport(environment.PYTHON, environment)) return { path: environment.PYTHON };
  const venvPython = join(venv, 'bin', 'python');
  if (existsSync(venvPython) && canImport(venvPython, environment)) return { path: venvPython };
  if (!run('python3', ['--version'], environment, 30_000).ok) {
    return {
      problem:
        'Python 3 is not installed (no python3 on the PATH): the Python example tests need it. Install it (Debian: apt-get install -y python3 python3-venv) or set $PYTHON to a Python 3 with the websockets package.',
    };
  }
  // Built under a name of its own and renamed into place, so that two test runs at once never share a
  // half-made environment (a venv does not mind being moved: `python -m pip` finds its own prefix).
  const building = `${venv}.${process.pid}`;
  try {
    const created = run('python3', ['-m', 'venv', '--clear', building], environment);
    if (!created.ok)
      return {
        problem: `python3 -m venv failed: ${lastLine(created.output)} (Debian: apt-get install -y python3-venv).`,
      };
    const installed = run(
      join(building, 'bin', 'python'),
      ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', ...PACKAGES],
      environment,
    );
    if (!installed.ok || !canImport(join(building, 'bin', 'python'), environment)) {
      return {
        problem: `pip could not install ${PACKAGES.join(', ')} into a virtual environment: ${lastLine(installed.output)} (point pip at an index that has it, or set $PYTHON to a Python 3 that has it).`,
      };
    }
    // Another run may have put a working one in place meanwhile: keep that; replace only a broken one.
    if (!(existsSync(venvPython) && canImport(venvPython, environment))) {
      try {
        rmSync(venv, { recursive: true, force: true });
        renameSync(building, venv);
      } catch {
        // Another run is replacing it at this moment: the check below says whether that one works.
      }
    }
  } finally {
    rmSync(building, { recursive: true, force: true, maxRetries: 3 });
  }
  return canImport(venvPython, environment)
    ? { path: venvPython }
    : {
        problem: `the test Python in ${venv} cannot import ${PACKAGES.join(', ')}; delete that folder and run the tests again.`,
      };
}

export default function setup(project: TestProject): void {
  project.provide('python', ensureTestPython());
}
