/**
 * The registry: ids `family/name-vN`, `register`, `make`, `list`, `spec`.
 *
 * A published id never changes meaning; a behaviour change gets a new version. `make` validates keyword
 * arguments with the env's zod schema and stacks the standard wrappers (see `wrap` in wrappers.ts), so the
 * env a user gets always enforces call order and the horizon.
 */
import { z } from 'zod';
import { DEFAULT_MAX_ACTION_CHARS, type Env, type EnvSpec, type ToolSpec } from './env.js';
import { InvalidKwargsError, TurngymError, UnknownEnvError } from '../core/errors.js';
import { type WrapOptions, wrap } from './wrappers.js';
import { isOpenEnvId } from './remote/openenv-protocol.js';

/** Everything needed to register an environment. */
export interface EnvDefinition<Kwargs extends z.ZodObject = z.ZodObject> {
  /** `family/name-vN`: lower-case letters, digits and dashes, e.g. `search/multihop-v0`. */
  id: string;
  description: string;
  tools: ToolSpec[];
  /** Default horizon (steps before truncation). */
  maxTurns: number;
  /** Same seed, same task and observations. Default true. */
  deterministic?: boolean;
  /** Many instances may run at once in one process. Default true. */
  concurrentSafe?: boolean;
  /** Largest accepted action in characters. Default 64 KiB. */
  maxActionChars?: number;
  /** The tool that gives a final answer (default: `answer` when the env has it); see EnvSpec.answerTool. */
  answerTool?: string;
  /** Schema of the keyword arguments `make` accepts (with defaults). */
  kwargs: Kwargs;
  /**
   * The kwargs a remote client of `turngym serve` (agent or trainer) may set, each `true` (within the `kwargs`
   * schema) or a tighter zod schema a client's value must pass too, e.g. `{ difficulty: true, size: z.number().int().max(5000) }`.
   * Leave out every kwarg that names a host resource (a path, a memory or time limit, a size without a
   * tight bound): only the server's operator sets those (`turngym serve --kwargs`). Default: none, so a
   * remote client makes the env with its defaults and the operator's kwargs. See {@link remoteKwargs}.
   */
  remoteKwargs?: { [Name in keyof Kwargs['shape']]?: RemoteKwarg };
  /** Builds the bare env (no wrappers) from validated kwargs. May load heavy modules lazily. */
  create(kwargs: z.output<Kwargs>, spec: EnvSpec): Env | Promise<Env>;
}

/** A kwarg a remote client may set: `true` within the env's schema, or a tighter schema (see `EnvDefinition.remoteKwargs`). */
export type RemoteKwarg = true | z.ZodType;

/** A registered spec, plus the kwargs schemas for tooling (CLI help, remote `list`, the server's checks). */
export interface RegisteredSpec extends EnvSpec {
  kwargs: z.ZodObject;
  /** The kwargs a remote client may set (`EnvDefinition.remoteKwargs`; empty when it declares none). */
  remoteKwargs: Readonly<Record<string, RemoteKwarg>>;
}

const ID_PATTERN = /^[a-z][a-z0-9-]*\/[a-z][a-z0-9-]*-v\d+$/;
type Entry = { definition: EnvDefinition; spec: RegisteredSpec; builtin: boolean };
// Kept on globalThis so that two copies of turngym in one process (a user's env module importing the
// package while the CLI runs from source, say) share one registry.
const REGISTRY_KEY = Symbol.for('turngym.registry');
const registry: Map<string, Entry> = ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] ??= new Map<
  string,
  Entry
>()) as Map<string, Entry>;

/** Registers an environment. Registering the same id twice is an error (a published id never changes). */
export function register<Kwargs extends z.ZodObject>(definition: EnvDefinition<Kwargs>): RegisteredSpec {
  return add(definition, false);
}

/**
 * Registers one of turngym's own envs. Two copies  of turngym in one process (the CLI running from dist/
 * while a user's env module imports the package from source, say) share one registry, and both register
 * the built-in families: the second copy's registration of a built-in id is the same published env (an id
 * never changes meaning), so it keeps the first one instead of failing. For turngym's own families only.
 * @internal
 */
export function registerBuiltin<Kwargs extends z.ZodObject>(definition: EnvDefinition<Kwargs>): RegisteredSpec {
  const existing = registry.get(definition.id);
  if (existing?.builtin) return existing.spec;
  return add(definition, true);
}

function add<Kwargs extends z.ZodObject>(definition: EnvDefinition<Kwargs>, builtin: boolean): RegisteredSpec {
  if (!ID_PATTERN.test(definition.id)) {
    throw new TurngymError(
      'INVALID_ENV_ID',
      `'${definition.id}' is not a valid env id: use family/name-vN with lower-case letters, digits and dashes (e.g. 'puzzle/guess-number-v0').`,
    );
  }
  const existing = registry.get(definition.id);
  if (existing) {
    if (existing.definition === (definition as unknown as EnvDefinition)) return existing.spec;
    throw new TurngymError(
      'DUPLICATE_ENV',
      `'${definition.id}' is already registered. A published id never changes meaning: register a new version (e.g. '${bumpVersion(definition.id)}').`,
    );
  }
  if (!Number.isInteger(definition.maxTurns) || definition.maxTurns < 1) {
    throw new TurngymError('INVALID_OPTIONS', `${definition.id}: maxTurns must be a positive integer.`);
  }
  const remote = (definition.remoteKwargs ?? {}) as Record<string, RemoteKwarg>;
  const strays = Object.keys(remote).filter((name) => !(name in definition.kwargs.shape));
  if (strays.length > 0) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `${definition.id}: remoteKwargs names ${strays.map((name) => `'${name}'`).join(', ')}, which kwargs does not have.`,
    );
  }
  const spec: RegisteredSpec = {
    id: definition.id,
    description: definition.description,
    tools: definition.tools,
    maxTurns: definition.maxTurns,
    deterministic: definition.deterministic ?? true,
    concurrentSafe: definition.concurrentSafe ?? true,
    maxActionChars: definition.maxActionChars ?? DEFAULT_MAX_ACTION_CHARS,
    answerTool:
      definition.answerTool ?? (definition.tools.some((tool) => tool.name === 'answer') ? 'answer' : undefined),
    kwargs: definition.kwargs,
    remoteKwargs: remote,
  };
  registry.set(definition.id, { definition: definition as unknown as EnvDefinition, spec, builtin });
  return spec;
}

/** Removes a registration (for tests and notebooks). */
export function unregister(id: string): boolean {
  return registry.delete(id);
}

/** Registered ids, sorted. */
export function list(): string[] {
  return [...registry.keys()].sort();
}

/** The spec of a registered id, without creating an env. */
export function spec(id: string): RegisteredSpec {
  return lookup(id).spec;
}

/**
 * Creates a registered env with validated keyword arguments, in the standard wrapper stack ({@link wrap}:
 * call order, observation budget, horizon, statistics, and recording when asked). An id `openenv+http://HOST:PORT`
 * is a session on that OpenEnv server instead (`connectOpenEnv`; kwargs `token`, `timeoutMs`, `maxTurns`).
 */
export async function make(id: string, kwargs: Record<string, unknown> = {}, options: WrapOptions = {}): Promise<Env> {
  if (isOpenEnvId(id)) {
    // An OpenEnv server's address (`openenv+http://HOST:PORT`): its session, with these kwargs as client options.
    const { connectOpenEnv } = await import('./remote/openenv-client.js');
    return connectOpenEnv(id, kwargs, options);
  }
  const { definition, spec: registered } = lookup(id);
  const parsed = validateKwargs(id, registered.kwargs, kwargs);
  const { kwargs: _schema, remoteKwargs: _remote, ...envSpec } = registered;
  const env = await definition.create(parsed, envSpec);
  return wrap(env, options);
}

/** Validates kwargs against a schema, naming each unknown or invalid field. */
export function validateKwargs(
  id: string,
  schema: z.ZodObject,
  kwargs: Record<string, unknown>,
): Record<string, unknown> {
  if (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs)) {
    throw new InvalidKwargsError(id, [{ path: '', message: 'kwargs must be an object of named arguments' }]);
  }
  const known = Object.keys(schema.shape);
  const unknown = Object.keys(kwargs).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw new InvalidKwargsError(
      id,
      unknown.map((key) => ({
        path: key,
        message: `unknown argument; '${id}' accepts ${known.length ? known.map((k) => `'${k}'`).join(', ') : 'no arguments'}`,
      })),
    );
  }
  const result = schema.safeParse(kwargs);
  if (!result.success) {
    throw new InvalidKwargsError(
      id,
      result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    );
  }
  return result.data as Record<string, unknown>;
}

/**
 * The schema of the kwargs a remote client may set on `id`: the env's `remoteKwargs` less those in `fixed`
 * (the server operator's), each optional, with the tighter schema where the env declares one. Agents and
 * trainers alike: the token lets a trainer read ground truth, not spend the server's resources.
 */
export function remoteKwargsSchema(id: string, fixed: readonly string[] = []): z.ZodObject {
  const registered = lookup(id).spec;
  const shape: Record<string, z.ZodType> = {};
  for (const [name, rule] of Object.entries(registered.remoteKwargs)) {
    if (fixed.includes(name)) continue;
    const own = registered.kwargs.shape[name] as z.ZodType;
    const field = rule !== true ? rule.describe(rule.description ?? own.description ?? '') : own;
    shape[name] = field.optional();
  }
  return z.strictObject(shape);
}

/**
 * Checks the kwargs a remote client sent for `id`, and returns them with the operator's `fixed`
 * kwargs added, for `make`. A kwarg the client may not set (the operator's, fixed or not, or unknown) is
 * refused by name before any value is looked at, so no path is ever opened on a client's behalf; then the
 * values must pass {@link remoteKwargsSchema}. Throws `InvalidKwargsError`.
 */
export function remoteKwargs(
  id: string,
  kwargs: Record<string, unknown>,
  fixed: Record<string, unknown> = {},
): Record<string, unknown> {
  const schema = remoteKwargsSchema(id, Object.keys(fixed));
  if (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs)) return validateKwargs(id, schema, kwargs);
  const allowed = Object.keys(schema.shape);
  const known = Object.keys(lookup(id).spec.kwargs.shape);
  const settable =
    allowed.length > 0
      ? `a remote client may set ${allowed.map((name) => `'${name}'`).join(', ')}`
      : 'a remote client may set none of its arguments';
  const refused = Object.keys(kwargs)
    .filter((name) => !allowed.includes(name))
    .slice(0, MAX_REPORTED_ISSUES)
    .map((name) => {
      const why = !known.includes(name)
        ? 'unknown argument'
        : name in fixed
          ? "fixed by this server's operator"
          : "only the server's operator may set it (turngym serve --kwargs)";
      return { path: name.slice(0, 64), message: `${why}; ${settable}` };
    });
  if (refused.length > 0) throw new InvalidKwargsError(id, refused);
  validateKwargs(id, schema, kwargs);
  return { ...kwargs, ...fixed };
}

/** At most this many refused kwargs are named in one error (a hostile client may send thousands). */
const MAX_REPORTED_ISSUES = 10;

function lookup(id: string) {
  const entry = registry.get(id);
  if (!entry) throw new UnknownEnvError(id, suggest(id, [...registry.keys()]));
  return entry;
}

function bumpVersion(id: string): string {
  return id.replace(/-v(\d+)$/, (_, n: string) => `-v${Number(n) + 1}`);
}

/** Ids close to `id`: same name in another version or family, or within a small edit distance. */
export function suggest(id: string, candidates: readonly string[]): string[] {
  const name = (value: string) =>
    value
      .split('/')
      .pop()!
      .replace(/-v\d+$/, '');
  const scored = candidates
    .map((candidate) => {
      let distance = editDistance(id.toLowerCase(), candidate);
      if (name(candidate) === name(id.toLowerCase())) distance = Math.min(distance, 1);
      return { candidate, distance };
    })
    .filter(({ candidate, distance }) => distance <= Math.max(2, Math.floor(candidate.length / 3)))
    .sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate));
  return scored.slice(0, 3).map((s) => s.candidate);
}

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!;
      previous[j] = Math.min(previous[j]! + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length]!;
}
