/**
 * Playing episodes: the episode record (`Turn`, and `Transcript`, whose turns a policy's token fields and the
 * trainer's rewards extend) and the one player that makes them, `playEpisodes`.
 *
 * The player runs one episode per env at a time, all envs in lockstep: each turn it asks its {@link Actor}
 * for the next action of every running episode in one call (a policy samples them in one batch), then steps
 * the envs at once (or `envConcurrency` at a time). An env whose episode ends goes on with the next one of the
 * list, until the list is done. Hooks let a caller score the episodes after every turn in one batch (IGPO's
 * answer scoring) and drop an episode whose env failed instead of stopping (RL rollouts).
 *
 * Its callers: `runEpisode` and `runEpisodes` (agent.ts: episodes with Agents, one an env), held-out evaluation (policy/evaluate.ts,
 * with `PolicyActor`), and RL rollouts (rl/rollout.ts).
 */
import type { Action, Env, Observation, ResetInfo, ResetOptions, StepInfo, StepResult } from '../envs/env.js';
import type { AgentAction } from './agent.js';

/** One turn of an episode: the action, what the env answered, and the action's log-probs when the actor has them. */
export interface Turn {
  action: Action;
  logprobs?: number[];
  observation: Observation;
  reward: number;
  info: StepInfo;
}

/** A played episode; `T` is its turn type (a policy's turns carry their tokens: `PolicyTurn`). */
export interface Transcript<T extends Turn = Turn> {
  env: string;
  /** The actor's name (the agent's, or `policy`). */
  agent: string;
  seed: number;
  /** The task's kind and variant, when the env reports them (`reset`'s `info.kind` / `info.variant`). */
  kind?: string;
  variant?: string;
  prompt: Observation;
  turns: T[];
  return: number;
  /** Whether the final step said the task was solved (`info.success === true`). */
  success: boolean;
  /**
   * Set when the episode ended its task (terminated) without its final step saying whether it was solved
   * (no boolean `info.success`): success is then unknown, and so is any success rate it is part of.
   */
  unscored?: true;
  terminated: boolean;
  truncated: boolean;
  usage?: { promptTokens: number; completionTokens: number };
}

/**
 * How an episode's final step scores it: `success` is what `info.success` says (an episode the horizon cut
 * off, truncated, is not solved); `unscored` marks a task that ended (terminated) without a boolean
 * `info.success`, whose success is unknown.
 */
export function episodeSuccess(last: Pick<StepResult, 'terminated' | 'info'>): { success: boolean; unscored?: true } {
  return {
    success: last.info.success === true,
    ...(last.terminated && typeof last.info.success !== 'boolean' ? { unscored: true as const } : {}),
  };
}

/** The task's kind and variant from `reset`'s info, where they are strings (a remote env may send anything). */
export function taskKind(info: ResetInfo): Pick<Transcript, 'kind' | 'variant'> {
  return {
    ...(typeof info.kind === 'string' ? { kind: info.kind } : {}),
    ...(typeof info.variant === 'string' ? { variant: info.variant } : {}),
  };
}

/** Progress of a long phase (episodes played, steps taken): `done` of `total`, called at the start (0) and after each. */
export type OnProgress = (done: number, total: number) => void;

/** An episode being played, as the actor and the hooks see it. */
export interface Episode<T extends Turn = Turn> {
  /** Its place in the list of episodes given to `playEpisodes`. */
  index: number;
  /** The env it is played on, and that env's place in `envs`. */
  env: Env;
  slot: number;
  /** Its transcript so far (`terminated`, `truncated` and `success` are set when it ends). */
  transcript: Transcript<T>;
  /** The latest observation and info: the reset's before the first turn, then the last step's. */
  observation: Observation;
  info: ResetInfo | StepInfo;
}

/** An actor's decision for one episode: an agent's action, and the turn's fields beyond `Turn`'s (a policy's tokens). */
export type Decision<T extends Turn = Turn> = AgentAction & { fields?: Omit<T, keyof Turn> };

/** Decides the actions of the episodes a player runs. */
export interface Actor<T extends Turn = Turn> {
  /** What transcripts name as their `agent`. */
  readonly name: string;
  /** An episode started: its env was reset, and it has no turn yet. */
  start?(episode: Episode<T>): void | Promise<void>;
  /** The next action of each running episode, in order: one call a turn for all of them. */
  act(episodes: readonly Episode<T>[]): Decision<T>[] | Promise<Decision<T>[]>;
  /** What the env answered to an episode's action (called after each step that succeeded). */
  observe?(episode: Episode<T>, result: StepResult): void;
}

/** How `playEpisodes` plays, and its hooks. */
export interface PlayOptions<T extends Turn = Turn> {
  /**
   * Most env calls (resets, steps) in flight at once; undefined or 0: every env at once. Envs that share a
   * browser (web) or a machine's cores can then be many without all of them waiting on each other.
   */
  envConcurrency?: number;
  /** Called with 0 at the start and after each episode that ends (dropped ones are not counted). */
  onProgress?: OnProgress;
  /** Called after the actor's `start`; a throw counts as a failed reset (see `onError`). */
  onStart?(episode: Episode<T>): void | Promise<void>;
  /**
   * Called after the first resets and after every turn, with the episodes that stepped (those that ended
   * included) and then those that started, in the order of their envs: to score them in one batch.
   */
  afterTurn?(episodes: readonly Episode<T>[]): void | Promise<void>;
  /** Called as each episode ends (terminated or truncated), in the order they end. */
  onEnd?(episode: Episode<T>): void;
  /**
   * A reset (with `start` and `onStart`) or a step of episode `index` threw. Without this hook the error is
   * thrown and playing stops; with it, the episode is dropped (its env goes on with the next one) unless
   * the hook throws.
   */
  onError?(error: unknown, failure: { index: number; phase: 'reset' | 'step' }): void;
}

/** What `playEpisodes` played. */
export interface Played<T extends Turn = Turn> {
  /** The transcripts of the episodes that ended, in the order of the list given (dropped ones left out). */
  transcripts: Transcript<T>[];
  /** Episodes dropped because a reset or step failed (see `PlayOptions.onError`). */
  dropped: number;
  /** Steps that succeeded. */
  envSteps: number;
  /** Seconds spent in env calls (resets and steps, with `start` and `onStart`) and in the actor's `act`. */
  seconds: { env: number; act: number };
}

/**
 * Plays every episode of `episodes` (each the options of its reset: a seed, reset options) on `envs` side
 * by side: env i starts with episode i, and an env whose episode ends (or is dropped) takes the next one
 * not started yet. Each turn, `actor.act` decides for every running episode at once, in the order of their
 * envs, and the envs step concurrently.
 */
export async function playEpisodes<T extends Turn = Turn>(
  envs: readonly Env[],
  episodes: readonly ResetOptions[],
  actor: Actor<T>,
  options: PlayOptions<T> = {},
): Promise<Played<T>> {
  const envCall = limitInFlight(options.envConcurrency);
  const seconds = { env: 0, act: 0 };
  const timed = async <R>(part: keyof typeof seconds, work: () => Promise<R> | R): Promise<R> => {
    const start = performance.now();
    try {
      return await work();
    } finally {
      seconds[part] += (performance.now() - start) / 1000;
    }
  };
  const transcripts: (Transcript<T> | undefined)[] = new Array(episodes.length);
  let next = 0;
  let ended = 0;
  let dropped = 0;
  let envSteps = 0;
  const fail = (error: unknown, failure: { index: number; phase: 'reset' | 'step' }) => {
    if (!options.onError) throw error;
    options.onError(error, failure);
    dropped++;
  };
  // The next episode of the list on the env of `slot`, reset and started; undefined when the list is done.
  const start = async (slot: number): Promise<Episode<T> | undefined> => {
    while (next < episodes.length) {
      const index = next++;
      const env = envs[slot]!;
      try {
        const reset = await envCall(() => env.reset(episodes[index]!));
        const transcript: Transcript<T> = {
          env: env.spec.id,
          agent: actor.name,
          seed: reset.info.seed,
          ...taskKind(reset.info),
          prompt: reset.observation,
          turns: [],
          return: 0,
          success: false,
          terminated: false,
          truncated: false,
        };
        const episode: Episode<T> = { index, env, slot, transcript, observation: reset.observation, info: reset.info };
        await actor.start?.(episode);
        await options.onStart?.(episode);
        return episode;
      } catch (error) {
        fail(error, { index, phase: 'reset' });
      }
    }
    return undefined;
  };
  const startAll = async (slots: readonly number[]) =>
    (await timed('env', () => Promise.all(slots.map(start)))).filter((episode) => episode !== undefined);

  options.onProgress?.(0, episodes.length);
  let running = await startAll(envs.map((_, slot) => slot));
  await options.afterTurn?.(running);
  while (running.length > 0) {
    const decisions = await timed('act', () => actor.act(running));
    const results = await timed('env', () =>
      Promise.all(
        running.map((episode, i) =>
          envCall(() => episode.env.step(decisions[i]!.action)).then(
            (result) => ({ ok: true as const, result }),
            (error: unknown) => ({ ok: false as const, error }),
          ),
        ),
      ),
    );
    const stepped: Episode<T>[] = [];
    const freed: number[] = [];
    for (let i = 0; i < running.length; i++) {
      const episode = running[i]!;
      const outcome = results[i]!;
      if (!outcome.ok) {
        fail(outcome.error, { index: episode.index, phase: 'step' });
        freed.push(episode.slot);
        continue;
      }
      envSteps++;
      record(episode, decisions[i]!, outcome.result);
      actor.observe?.(episode, outcome.result);
      stepped.push(episode);
      if (outcome.result.terminated || outcome.result.truncated) {
        transcripts[episode.index] = episode.transcript;
        options.onEnd?.(episode);
        options.onProgress?.(++ended, episodes.length);
        freed.push(episode.slot);
      }
    }
    const started = await startAll(freed);
    await options.afterTurn?.([...stepped, ...started]);
    running = [
      ...stepped.filter((episode) => !episode.transcript.terminated && !episode.transcript.truncated),
      ...started,
    ].sort((a, b) => a.slot - b.slot);
  }
  return { transcripts: transcripts.filter((transcript) => transcript !== undefined), dropped, envSteps, seconds };
}

/** Adds a step to its episode: the turn (with the decision's own fields), the return, usage, and the ending. */
function record<T extends Turn>(episode: Episode<T>, decision: Decision<T>, result: StepResult): void {
  const transcript = episode.transcript;
  transcript.turns.push({
    action: decision.action,
    logprobs: decision.logprobs,
    observation: result.observation,
    reward: result.reward,
    info: result.info,
    ...decision.fields,
  } as T);
  transcript.return += result.reward;
  if (decision.usage) {
    transcript.usage ??= { promptTokens: 0, completionTokens: 0 };
    transcript.usage.promptTokens += decision.usage.promptTokens;
    transcript.usage.completionTokens += decision.usage.completionTokens;
  }
  episode.observation = result.observation;
  episode.info = result.info;
  if (result.terminated || result.truncated) {
    Object.assign(transcript, episodeSuccess(result));
    transcript.terminated = result.terminated;
    transcript.truncated = result.truncated;
  }
}

/**
 * A wrapper that lets at most `limit` calls run at once (the rest wait, first come first served); undefined
 * or 0: no limit.
 */
export function limitInFlight(limit: number | undefined): <R>(work: () => Promise<R>) => Promise<R> {
  if (!limit) return (work) => work();
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (work) => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
