/**
 * The environment contract: Gymnasium's semantics, typed and async, for text agents that act through tools.
 *
 * An episode is `reset()` followed by `step()` calls until the result says `terminated` (the task ended:
 * an answer was given, the goal reached, a fatal error) or `truncated` (the horizon cut it off before the
 * task ended). The two are kept apart because they mean different things to a learner: a truncated
 * episode's value is not zero, a terminated one's is.
 */
import type { z } from 'zod';
import type { ActionError } from '../core/errors.js';

/** A tool the agent may call: its name, what it does, and a zod object schema for its arguments. */
export interface ToolSpec<Args extends z.ZodObject = z.ZodObject> {
  /** Identifier used in actions, e.g. `search`; letters, digits and underscores. */
  name: string;
  /** One or two sentences telling an agent what the tool does and returns. */
  description: string;
  /** Argument schema; its field `.describe()` texts become the JSON Schema descriptions. */
  parameters: Args;
}

/** A structured action: which tool, with which arguments. */
export interface ToolCall {
  tool: string;
  args: Record<string, unknown>;
}

/** What an agent may send: a tool call, or text that `parseAction` turns into one. */
export type Action = ToolCall | string;

/** What an agent sees. `text` is what a language agent reads; the rest is optional structure. */
export interface Observation {
  text: string;
  /** A PNG screenshot, base64-encoded (web envs, on request). */
  screenshot?: string;
  /** Env-specific structured fields (never the ground truth). */
  fields?: Record<string, unknown>;
}

/** `info` returned by `reset`. */
export interface ResetInfo {
  /** The seed the episode was generated from. */
  seed: number;
  /** Task difficulty of this episode. */
  difficulty?: number;
  /** The split the task was drawn from (`'train'` or `'heldout'`), when a split was asked for and applies. */
  split?: string;
  /** The kind of task (a family of the env's suite), when the env has several; evaluations break down by it. */
  kind?: string;
  /** The kind's variant (its parameters in words, e.g. `lower=true`), when it has one. */
  variant?: string;
  [key: string]: unknown;
}

/** `info` returned by `step`. */
export interface StepInfo {
  /** Set when the action could not be carried out; the observation says the same in words. */
  error?: ActionError;
  /** On the final step of a task that was scored: whether the verifier accepted the outcome. */
  success?: boolean;
  /** The tool that was called, when the action parsed. */
  tool?: string;
  [key: string]: unknown;
}

export interface ResetResult {
  observation: Observation;
  info: ResetInfo;
}

export interface StepResult {
  observation: Observation;
  /** Reward for this step; finite. */
  reward: number;
  /** The task ended (answer given, goal reached, fatal error). */
  terminated: boolean;
  /** The horizon cut the episode off before the task ended. */
  truncated: boolean;
  info: StepInfo;
}

export interface ResetOptions {
  /** Same seed, same task and same observations (for envs whose spec says `deterministic`). */
  seed?: number;
  /**
   * Env-specific options, e.g. `{ difficulty: 3 }`, `{ maxTurns: 8 }` for the horizon wrapper, or
   * `{ split: 'train' | 'heldout' }` for task envs whose suite holds tasks out (see `TaskSuite.splitKey`).
   * A key the env does not read is refused (see `Env.resetOptions`).
   */
  options?: Record<string, unknown>;
}

/** Plays an episode's reference solution; given the latest observation, returns the next action. */
export interface Oracle {
  next(observation: Observation, info: ResetInfo | StepInfo): Action | Promise<Action>;
}

/** Static description of an environment, available without creating one. */
export interface EnvSpec {
  /** `family/name-vN`, e.g. `puzzle/guess-number-v0`. */
  id: string;
  description: string;
  tools: ToolSpec[];
  /** Default horizon: the episode is truncated after this many steps. */
  maxTurns: number;
  /** The same seed always yields the same task and observations. */
  deterministic: boolean;
  /** Many instances may run concurrently in one process. */
  concurrentSafe: boolean;
  /** Largest accepted action, in characters (text or serialised tool call). */
  maxActionChars: number;
  /**
   * The tool whose first argument carries a final answer, e.g. `answer` (the default when a tool of that
   * name exists) or `guess`. Information-gain rewards score the policy's belief in `tool(<ground truth>)`.
   */
  answerTool?: string;
}

/**
 * An environment. Every method may be called from async code; none blocks the event loop for long.
 * `close()` frees every resource and is idempotent.
 */
export interface Env {
  readonly spec: EnvSpec;
  /**
   * The keys of `reset({ options })` this env reads (a TaskEnv: `difficulty`, `split`; a wrapper adds its own,
   * as the horizon wrapper adds `maxTurns`). An env that lists them has any other key refused by the wrapper
   * stack (INVALID_OPTIONS naming these), so a misspelt option fails instead of being ignored; an env that
   * leaves this out gets every key unchecked.
   */
  readonly resetOptions?: readonly string[];
  reset(options?: ResetOptions): Promise<ResetResult>;
  step(action: Action): Promise<StepResult>;
  close(): Promise<void>;
  /**
   * Privileged: the current episode's ground-truth answer as text (what a correct final answer says).
   * Trainers use it for information-gain rewards; it must never reach an agent.
   */
  groundTruth?(): string;
  /** Privileged: a player of the current episode's reference solution (demonstrations, oracle agent). */
  oracle?(): Oracle;
}

/** Default cap on the size of one action. */
export const DEFAULT_MAX_ACTION_CHARS = 64 * 1024;
