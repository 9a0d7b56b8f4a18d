/** Helpers shared by the CLI commands: user modules, option parsing, usage errors, output. */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TurngymError, UsageError } from '../core/errors.js';

/** Error codes that mean the user asked for something wrong (exit code 2), not that something broke. */
const USAGE_CODES = new Set([
  'UNKNOWN_ENV',
  'INVALID_ENV_ID',
  'INVALID_KWARGS',
  'INVALID_OPTIONS',
  'NOT_SUPPORTED',
  'BAD_CHECKPOINT',
  'UNREACHABLE',
]);

export function isUsageError(error: unknown): boolean {
  return TurngymError.is(error) && USAGE_CODES.has(error.code);
}

let typescriptLoader: Promise<void> | undefined;

/**
 * Imports user modules given with `--import` (paths relative to the working directory, or package names).
 * A module registers its envs by calling `register`. TypeScript modules are loaded through tsx.
 */
export async function importModules(specifiers: readonly string[]): Promise<void> {
  for (const specifier of specifiers) {
    const isPath = specifier.startsWith('.') || isAbsolute(specifier) || /\.(c|m)?(t|j)s$/.test(specifier);
    let target = specifier;
    if (isPath) {
      const file = resolve(process.cwd(), specifier);
      if (!existsSync(file)) throw new UsageError(`--import ${specifier}: no such file (${file}).`);
      target = pathToFileURL(file).href;
      if (/\.(c|m)?ts$/.test(file)) await loadTypeScript(specifier);
    }
    try {
      await import(target);
    } catch (error) {
      throw new UsageError(
        `--import ${specifier} failed: ${importProblem(error, isPath ? resolve(process.cwd(), specifier) : undefined)}`,
      );
    }
  }
}

/**
 * Why a user module could not be imported, in words that say what to do. The usual mistakes of a first env
 * module: a file that Node loads as CommonJS (its package.json has no `"type": "module"`, or there is none),
 * where Node says "Cannot require() ES Module ... in a cycle" (a .ts module loaded through tsx) or that
 * turngym, ESM-only, has no "exports" main (a require); and a folder where turngym is not installed.
 */
function importProblem(error: unknown, file: string | undefined): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const loadedAsCommonJs =
    ['ERR_REQUIRE_CYCLE_MODULE', 'ERR_REQUIRE_ESM', 'ERR_REQUIRE_ASYNC_MODULE'].includes(code ?? '') ||
    /require\(\) ES Module|require\(esm\)/.test(message) ||
    (code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' && /[/\\]turngym[/\\]package\.json/.test(message));
  if (loadedAsCommonJs) {
    const manifest = file ? nearestPackageJson(dirname(file)) : undefined;
    const why = manifest ? `${manifest} has no "type": "module"` : 'no package.json above it says "type": "module"';
    return `Node loaded it as CommonJS, since ${why}; a module for --import must be an ES module, as turngym is (ESM-only). Add "type": "module" to ${manifest ?? 'a package.json beside it'} (with turngym among its dependencies, and tsx for a .ts module), or name the file .mts or .mjs.`;
  }
  if (code === 'ERR_MODULE_NOT_FOUND' && /Cannot find package 'turngym'/.test(message)) {
    return `it imports turngym, which is not installed where the module is: give the module a package.json with "type": "module" and turngym as a dependency (npm install turngym, and tsx for a .ts module), or put it in a folder of a project that has them.`;
  }
  return message;
}

/** The package.json that governs files in `directory` (the nearest one above it), if any. */
function nearestPackageJson(directory: string): string | undefined {
  for (let current = directory; ; current = dirname(current)) {
    const candidate = join(current, 'package.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(current) === current) return undefined;
  }
}

async function loadTypeScript(specifier: string): Promise<void> {
  typescriptLoader ??= (async () => {
    try {
      const api = (await import('tsx/esm/api')) as { register: () => unknown };
      api.register();
    } catch {
      throw new UsageError(
        `--import ${specifier}: importing TypeScript needs the 'tsx' package (npm install tsx), or import the compiled .js file.`,
      );
    }
  })();
  await typescriptLoader;
}

/** Parses an integer option, with the option's name in the error. */
export function integer(name: string, { min, max }: { min?: number; max?: number } = {}) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed))
      throw new UsageError(`${name} must be an integer, got '${value}'.`);
    if (min !== undefined && parsed < min) throw new UsageError(`${name} must be at least ${min}, got ${parsed}.`);
    if (max !== undefined && parsed > max) throw new UsageError(`${name} must be at most ${max}, got ${parsed}.`);
    return parsed;
  };
}

/** Parses a JSON object option (e.g. `--kwargs '{"difficulty": 4}'`). */
export function jsonObject(name: string) {
  return (value: string): Record<string, unknown> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      throw new UsageError(`${name} must be a JSON object: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new UsageError(`${name} must be a JSON object.`);
    return parsed as Record<string, unknown>;
  };
}

/** Collects a repeatable option. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
