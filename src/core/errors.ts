/**
 * Typed errors. Two kinds of thing go wrong in a gym:
 *
 * - **Agent mistakes** (a malformed action, an unknown tool, a bad argument, code that throws in the sandbox)
 *   are not exceptions. The step returns an observation saying what was wrong and sets
 *   `info.error = { code, message }` with one of the {@link ActionErrorCode}s; the episode goes on.
 * - **Caller and infrastructure faults** (an unknown env id, stepping a finished episode, a crashed browser
 *   that could not be recovered) are thrown as a {@link TurngymError} subclass with a stable `code`.
 *
 * Use `TurngymError.is(err, 'EPISODE_ENDED')` rather than `instanceof` so errors that crossed a module
 * boundary (two copies of the package, a worker) are still recognised.
 */
import type { z } from 'zod';

/** Codes carried by thrown errors. */
export type ErrorCode =
  | 'UNKNOWN_ENV'
  | 'INVALID_ENV_ID'
  | 'DUPLICATE_ENV'
  | 'INVALID_KWARGS'
  | 'INVALID_OPTIONS'
  | 'RESET_NEEDED'
  | 'EPISODE_ENDED'
  | 'ENV_CLOSED'
  | 'NOT_SUPPORTED'
  | 'ENV_FAILURE'
  | 'TIMEOUT'
  | 'CHECK_FAILED'
  /** A remote agent (agent server, LLM endpoint) failed to produce an action. */
  | 'AGENT_FAILURE'
  /** Nothing answered at a server's address (nothing listens there, the host does not resolve): check the address, start the server. */
  | 'UNREACHABLE'
  /** A policy checkpoint is missing, corrupted, or does not match its own config. */
  | 'BAD_CHECKPOINT'
  /** The policy's backend ran out of memory (the wasm heap holds at most 4 GB). */
  | 'OUT_OF_MEMORY'
  /** A bound on what a process holds at once (e.g. generated knowledge bases open) was reached. */
  | 'CAPACITY_REACHED';

/** Codes carried in `info.error` when an agent's action could not be carried out. */
export type ActionErrorCode =
  'UNPARSABLE_ACTION' | 'UNKNOWN_TOOL' | 'INVALID_ARGS' | 'ACTION_TOO_LARGE' | 'TOOL_ERROR' | 'TIMEOUT';

/** Codes that mean the action itself was malformed (not a legitimate but wrong move, nor a slow one). */
const FORMAT_ERRORS: ReadonlySet<string> = new Set<ActionErrorCode>([
  'UNPARSABLE_ACTION',
  'UNKNOWN_TOOL',
  'INVALID_ARGS',
  'ACTION_TOO_LARGE',
]);

/** True when a step's error code says the action did not parse or validate. */
export function isFormatError(code: string | undefined): boolean {
  return code !== undefined && FORMAT_ERRORS.has(code);
}

const MARK = Symbol.for('turngym.error');

/** Base class of every error turngym throws on purpose. */
export class TurngymError extends Error {
  readonly [MARK] = true;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TurngymError';
  }

  /** True when `value` is a turngym error (of the given code, when one is given). */
  static is(value: unknown, code?: ErrorCode): value is TurngymError {
    return (
      typeof value === 'object' &&
      value !== null &&
      (value as Record<symbol, unknown>)[MARK] === true &&
      (code === undefined || (value as TurngymError).code === code)
    );
  }
}

/** `make`/`spec` was given an id that is not registered; the message suggests close ids. */
export class UnknownEnvError extends TurngymError {
  constructor(
    readonly id: string,
    readonly suggestions: string[],
  ) {
    const hint = suggestions.length > 0 ? ` Did you mean ${suggestions.map((s) => `'${s}'`).join(' or ')}?` : '';
    super('UNKNOWN_ENV', `No environment is registered as '${id}'.${hint} Run \`turngym list\` to see them all.`);
    this.name = 'UnknownEnvError';
  }
}

/** Keyword arguments given to `make` failed the env's schema; `issues` lists each field and why. */
export class InvalidKwargsError extends TurngymError {
  constructor(
    readonly id: string,
    readonly issues: { path: string; message: string }[],
  ) {
    const lines = issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n');
    super('INVALID_KWARGS', `Invalid arguments for '${id}':\n${lines}`);
    this.name = 'InvalidKwargsError';
  }
}

/** `step` was called before the first `reset`. */
export class ResetNeededError extends TurngymError {
  constructor(id: string) {
    super('RESET_NEEDED', `Cannot step '${id}' before reset(): call reset() to start an episode.`);
    this.name = 'ResetNeededError';
  }
}

/** `step` was called after the episode terminated or was truncated. */
export class EpisodeEndedError extends TurngymError {
  constructor(id: string, how: 'terminated' | 'truncated') {
    super('EPISODE_ENDED', `The episode of '${id}' has ${how}; call reset() to start a new one before stepping.`);
    this.name = 'EpisodeEndedError';
  }
}

/** The env was used after `close()`. */
export class EnvClosedError extends TurngymError {
  constructor(id: string) {
    super('ENV_CLOSED', `'${id}' is closed; make a new environment.`);
    this.name = 'EnvClosedError';
  }
}

/** An infrastructure fault (sandbox, browser, database) the env could not recover from; callers may retry. */
export class EnvFailureError extends TurngymError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ENV_FAILURE', message, options);
    this.name = 'EnvFailureError';
  }
}

/** The structured error put in `info.error` for an agent mistake. */
export interface ActionError {
  code: ActionErrorCode;
  message: string;
}

/** What a failed file read means, in words ('no such file', 'permission denied', ...), never the file's content. */
export function fileProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'a folder, not a file';
  return `cannot read it (${code ?? describeError(error)})`;
}

/** Turns any thrown value into a message a user can read. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * An agent mistake found while carrying out a tool call (a missing element, an unknown document id, a guess
 * out of range). Throw it from `callTool`; the base class turns it into an error observation and the episode
 * goes on.
 */
export class ToolInputError extends Error {
  constructor(
    message: string,
    readonly code: ActionErrorCode = 'TOOL_ERROR',
  ) {
    super(message);
    this.name = 'ToolInputError';
  }
}

/**
 * Validates options with their zod schema and fills in the defaults. Bad options are an `INVALID_OPTIONS` error
 * whose one-line message names each one as `name` spells it (the option itself for the API, its flag for the
 * command line) and says what is wrong with it; a rule between options (a refinement on no one field) is its
 * message alone. `what` (e.g. 'training options') opens the message when given.
 */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  options: unknown,
  what?: string,
  name: (option: string) => string = (option) => option,
): z.output<S> {
  const parsed = schema.safeParse(options);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys')
      return `unknown option${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map(name).join(', ')}`;
    const [option, ...inside] = issue.path.map(String);
    return option === undefined
      ? issue.message
      : `${name(option)}${inside.length > 0 ? `.${inside.join('.')}` : ''}: ${issue.message}`;
  });
  throw new TurngymError('INVALID_OPTIONS', `${what ? `Invalid ${what}: ` : ''}${problems.join('; ')}.`);
}

/** A bad command line or option: printed in one line without a stack trace, exit code 2. */
export class UsageError extends TurngymError {
  constructor(message: string) {
    super('INVALID_OPTIONS', message);
    this.name = 'UsageError';
  }
}
