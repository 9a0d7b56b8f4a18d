/**
 * Wrappers add one behaviour each around an env. {@link wrap} stacks the standard ones around every env a user
 * gets (from `make`, `RemoteClient.make` or `RemotePool.make`):
 *
 *   OrderEnforcing( RecordEpisodes?( EpisodeStatistics( HorizonLimit( ObservationBudget( env )))))
 *
 * so call-order errors come first, the horizon is counted on every step, and recordings see what the agent saw.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Action, Env, EnvSpec, Oracle, ResetOptions, ResetResult, StepResult } from './env.js';
import { EnvClosedError, EpisodeEndedError, ResetNeededError, TurngymError } from '../core/errors.js';

/** Forwards everything to the wrapped env; subclasses override what they change. */
export class Wrapper<Inner extends Env = Env> implements Env {
  constructor(readonly inner: Inner) {}

  get spec(): EnvSpec {
    return this.inner.spec;
  }

  get resetOptions(): readonly string[] | undefined {
    return this.inner.resetOptions;
  }

  /** The bare env under every wrapper. */
  get unwrapped(): Env {
    return this.inner instanceof Wrapper ? this.inner.unwrapped : this.inner;
  }

  reset(options?: ResetOptions): Promise<ResetResult> {
    return this.inner.reset(options);
  }

  step(action: Action): Promise<StepResult> {
    return this.inner.step(action);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  groundTruth(): string {
    if (!this.inner.groundTruth)
      throw new TurngymError('NOT_SUPPORTED', `${this.spec.id} does not expose its ground truth.`);
    return this.inner.groundTruth();
  }

  oracle(): Oracle {
    if (!this.inner.oracle) throw new TurngymError('NOT_SUPPORTED', `${this.spec.id} has no oracle.`);
    return this.inner.oracle();
  }
}

/**
 * The one place that enforces the call order: `step` before the first `reset`, after the episode ended, or
 * anything after `close` is a typed error (ResetNeededError, EpisodeEndedError, EnvClosedError). Calls are
 * serialised, so an env never sees two calls at once. A reset option that no layer of the stack reads is an
 * INVALID_OPTIONS error naming those they do (when the env lists its own, see `Env.resetOptions`).
 */
export class OrderEnforcing extends Wrapper {
  private state: 'new' | 'running' | 'terminated' | 'truncated' | 'closed' | 'unknown';
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(inner: Env, midEpisode = false) {
    super(inner);
    this.state = midEpisode ? 'unknown' : 'new';
  }

  override reset(options?: ResetOptions): Promise<ResetResult> {
    return this.serialise(async () => {
      if (this.state === 'closed') throw new EnvClosedError(this.spec.id);
      checkResetOptions(this.spec.id, options?.options, this.resetOptions);
      const result = await this.inner.reset(options);
      this.state = 'running';
      return result;
    });
  }

  override step(action: Action): Promise<StepResult> {
    return this.serialise(async () => {
      if (this.state === 'closed') throw new EnvClosedError(this.spec.id);
      if (this.state === 'new') throw new ResetNeededError(this.spec.id);
      if (this.state === 'terminated' || this.state === 'truncated')
        throw new EpisodeEndedError(this.spec.id, this.state);
      const result = await this.inner.step(action);
      this.state = result.terminated ? 'terminated' : result.truncated ? 'truncated' : 'running';
      return result;
    });
  }

  override close(): Promise<void> {
    return this.serialise(async () => {
      if (this.state === 'closed') return;
      this.state = 'closed';
      await this.inner.close();
    });
  }

  /** True once `close` was called. */
  get closed(): boolean {
    return this.state === 'closed';
  }

  private serialise<T>(work: () => Promise<T>): Promise<T> {
    // Fast path: nothing in flight, so run now (no extra promise hops on the hot path).
    const next = this.pending === 0 ? work() : this.queue.then(work, work);
    this.pending++;
    const settled = () => {
      this.pending--;
    };
    this.queue = next.then(settled, settled);
    return next;
  }
}

function checkResetOptions(
  id: string,
  given: Record<string, unknown> | undefined,
  known: readonly string[] | undefined,
): void {
  if (!given || !known) return;
  const unknown = Object.keys(given).filter((key) => given[key] !== undefined && !known.includes(key));
  if (unknown.length === 0) return;
  const names = unknown.map((key) => JSON.stringify(key.slice(0, 64))).join(', ');
  throw new TurngymError(
    'INVALID_OPTIONS',
    `${id} reset: unknown option${unknown.length > 1 ? 's' : ''} ${names}; the options are ${known.join(', ')}.`,
  );
}

/**
 * The one place the horizon is set. Truncates after `maxTurns` steps: this episode's, from
 * `reset({ options: { maxTurns } })` (how curricula act), else the stack's ({@link WrapOptions.maxTurns}); and
 * passes it on down as that reset option, so a remote env's server keeps the same one. Adds `info.max_turns` and
 * `info.turn`; steps of an episode whose reset it did not see (a session attached mid-episode) pass unchanged.
 */
export class HorizonLimit extends Wrapper {
  private turns = 0;
  private episodeMaxTurns: number | undefined;

  constructor(
    inner: Env,
    private readonly maxTurns: number = inner.spec.maxTurns,
  ) {
    super(inner);
    assertTurns(maxTurns);
  }

  override get resetOptions(): readonly string[] | undefined {
    const inner = this.inner.resetOptions;
    return inner && [...inner, 'maxTurns'];
  }

  override async reset(options?: ResetOptions): Promise<ResetResult> {
    const maxTurns = options?.options?.maxTurns ?? this.maxTurns;
    assertTurns(maxTurns);
    const result = await this.inner.reset({ ...options, options: { ...options?.options, maxTurns } });
    this.turns = 0;
    this.episodeMaxTurns = maxTurns;
    return { ...result, info: { ...result.info, max_turns: maxTurns } };
  }

  override async step(action: Action): Promise<StepResult> {
    const result = await this.inner.step(action);
    if (this.episodeMaxTurns === undefined) return result;
    this.turns += 1;
    const truncated = result.truncated || (!result.terminated && this.turns >= this.episodeMaxTurns);
    return { ...result, truncated, info: { ...result.info, turn: this.turns } };
  }
}

function assertTurns(maxTurns: unknown): asserts maxTurns is number {
  if (typeof maxTurns !== 'number' || !Number.isInteger(maxTurns) || maxTurns < 1) {
    throw new TurngymError('INVALID_OPTIONS', `maxTurns must be a positive integer, got ${JSON.stringify(maxTurns)}.`);
  }
}

/** Cuts observation text longer than `maxChars`, with a visible marker saying how much was cut. */
export class ObservationBudget extends Wrapper {
  constructor(
    inner: Env,
    readonly maxChars: number,
  ) {
    super(inner);
    if (!Number.isInteger(maxChars) || maxChars < 64) {
      throw new TurngymError(
        'INVALID_OPTIONS',
        `observationBudget must be an integer of at least 64 characters, got ${maxChars}.`,
      );
    }
  }

  override async reset(options?: ResetOptions): Promise<ResetResult> {
    const result = await this.inner.reset(options);
    return { ...result, observation: { ...result.observation, text: cutText(result.observation.text, this.maxChars) } };
  }

  override async step(action: Action): Promise<StepResult> {
    const result = await this.inner.step(action);
    return { ...result, observation: { ...result.observation, text: cutText(result.observation.text, this.maxChars) } };
  }
}

/** Cuts `text` to at most `maxChars` characters, ending with a marker that says how much was cut. */
export function cutText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const marker = (cut: number) => `\n[... ${cut} more characters cut ...]`;
  // The marker's length depends on the number it shows; settle it in a few rounds (never over the budget).
  let keep = maxChars - marker(text.length).length;
  for (let round = 0; round < 3; round++) {
    const next = maxChars - marker(text.length - keep).length;
    if (next === keep || text.length - next <= 0) break;
    if (next + marker(text.length - next).length > maxChars) break;
    keep = next;
  }
  return text.slice(0, keep) + marker(text.length - keep);
}

/** Adds `info.episode = { return, length, success }` to the step that ends an episode whose reset it saw. */
export class EpisodeStatistics extends Wrapper {
  private episode: { return: number; length: number } | undefined;

  override async reset(options?: ResetOptions): Promise<ResetResult> {
    const result = await this.inner.reset(options);
    this.episode = { return: 0, length: 0 };
    return result;
  }

  override async step(action: Action): Promise<StepResult> {
    const result = await this.inner.step(action);
    if (!this.episode) return result;
    this.episode.return += result.reward;
    this.episode.length += 1;
    if (!result.terminated && !result.truncated) return result;
    const episode = { ...this.episode, success: result.info.success === true };
    return { ...result, info: { ...result.info, episode } };
  }
}

/** One recorded episode, as written (one JSON object per line) by {@link RecordEpisodes}. */
export interface EpisodeRecord {
  env: string;
  seed: unknown;
  reset: ResetResult;
  steps: { action: Action; result: StepResult }[];
  ended: 'terminated' | 'truncated' | 'abandoned';
}

/** Appends every episode to a JSONL file when it ends (or is abandoned by a reset or close). */
export class RecordEpisodes extends Wrapper {
  private current: Omit<EpisodeRecord, 'ended'> | undefined;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    inner: Env,
    readonly path: string,
  ) {
    super(inner);
  }

  override async reset(options?: ResetOptions): Promise<ResetResult> {
    this.flush('abandoned');
    const result = await this.inner.reset(options);
    this.current = { env: this.spec.id, seed: result.info.seed, reset: result, steps: [] };
    return result;
  }

  override async step(action: Action): Promise<StepResult> {
    const result = await this.inner.step(action);
    this.current?.steps.push({ action, result });
    if (result.terminated || result.truncated) this.flush(result.terminated ? 'terminated' : 'truncated');
    return result;
  }

  override async close(): Promise<void> {
    this.flush('abandoned');
    await this.writes;
    await this.inner.close();
  }

  private flush(ended: EpisodeRecord['ended']): void {
    const record = this.current;
    this.current = undefined;
    if (!record) return;
    const line = `${JSON.stringify({ ...record, ended })}\n`;
    this.writes = this.writes.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      await appendFile(this.path, line);
    });
  }
}

/** Options of the standard wrapper stack: the last argument of `make`, `RemoteClient.make` and `RemotePool.make`. */
export interface WrapOptions {
  /** Default horizon, for episodes whose reset does not set `maxTurns`; default: the spec's `maxTurns`. */
  maxTurns?: number;
  /** Cut observations longer than this many characters; default 16,000; 0 turns the budget off. */
  observationBudget?: number;
  /** Append each episode to this JSONL file. */
  recordTo?: string;
  /** The env may be mid-episode (a session taken over by `RemoteClient.attach`): it decides until a reset. */
  midEpisode?: boolean;
}

/** Stacks the standard wrappers around a bare env (local, remote or pooled: see the module's docs). */
export function wrap(env: Env, options: WrapOptions = {}): OrderEnforcing {
  const budget = options.observationBudget ?? 16_000;
  let wrapped: Env = budget > 0 ? new ObservationBudget(env, budget) : env;
  wrapped = new EpisodeStatistics(new HorizonLimit(wrapped, options.maxTurns));
  if (options.recordTo) wrapped = new RecordEpisodes(wrapped, options.recordTo);
  return new OrderEnforcing(wrapped, options.midEpisode);
}

/** The standard stack around a bare env that shows more than `Env` (a remote session's id, say), kept as `bare`. */
export class WrappedEnv<Bare extends Env> extends Wrapper<OrderEnforcing> {
  constructor(
    protected readonly bare: Bare,
    options?: WrapOptions,
  ) {
    super(wrap(bare, options));
  }
}
