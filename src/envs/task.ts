/**
 * Tasks, task suites and the base class of task-driven tool environments.
 *
 * A task suite (InternBootcamp-style) makes a task from a seed and a difficulty, scores a submission with a
 * verifier, and can play the task's reference solution. The task's ground truth stays private: it is
 * reachable only through the privileged `groundTruth()` / `oracle()` methods, never through observations.
 */
import { randomInt } from 'node:crypto';
import { resolveAction } from './actions.js';
import type { Env, EnvSpec, Oracle, ResetInfo, ResetOptions, ResetResult, StepResult, ToolCall } from './env.js';
import { type ActionErrorCode, ResetNeededError, ToolInputError, TurngymError } from '../core/errors.js';
import { fmix32, Rng } from '../core/rng.js';

/**
 * The two disjoint parts of a suite's tasks: `'train'` for demonstrations, tokenizer text and RL rollouts,
 * `'heldout'` for evaluation. Only suites with a {@link TaskSuite.splitKey} have two parts.
 */
export const SPLITS = ['train', 'heldout'] as const;
export type Split = (typeof SPLITS)[number];

/** Fraction of split keys in the held-out part (1 in 5); the rest are for training. */
export const HELDOUT_FRACTION = 0.2;

/** Most tasks `reset` draws from one seed looking for one of the requested split before it gives up. */
export const MAX_SPLIT_DRAWS = 10_000;

/**
 * The split a task with this key belongs to: FNV-1a over the key's UTF-16 code units, then MurmurHash3's
 * finaliser; keys whose hash falls in the lowest {@link HELDOUT_FRACTION} of the 32-bit range are held out.
 * A pure function of the key: the same question is held out in every process, run and seed.
 */
export function splitOf(key: string): Split {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return fmix32(hash) >>> 0 < HELDOUT_FRACTION * 2 ** 32 ? 'heldout' : 'train';
}

/** Checks a `split` reset option; undefined when none was given. */
export function parseSplit(value: unknown, where: string): Split | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && (SPLITS as readonly string[]).includes(value)) return value as Split;
  throw new TurngymError(
    'INVALID_OPTIONS',
    `${where}: split must be 'train' (tasks for demonstrations and RL rollouts) or 'heldout' (tasks for evaluation, never asked in training), or left out (any task); got ${JSON.stringify(value)}.`,
  );
}

/**
 * The task `reset` plays for `seed`: the suite's first task from `Rng.fromSeed(seed)`, or, with a split and a
 * suite that has a {@link TaskSuite.splitKey}, the first task drawn from that same generator (continuing its
 * draws) whose key is in the split. Without a split, or for a suite without a split key, the task is the one
 * the seed has always given. Deterministic: the same seed, difficulty and split give the same task.
 */
export function drawTask<T extends Task>(
  suite: Pick<TaskSuite<T, never>, 'generate' | 'splitKey'>,
  options: { seed: number; difficulty: number; split?: Split; where?: string },
): T {
  const { seed, difficulty, split } = options;
  const rng = Rng.fromSeed(seed);
  let task = suite.generate(rng, difficulty);
  if (split === undefined || !suite.splitKey) return task;
  for (let draw = 1; splitOf(suite.splitKey(task)) !== split; draw++) {
    if (draw >= MAX_SPLIT_DRAWS) {
      throw new TurngymError(
        'INVALID_OPTIONS',
        `${options.where ?? 'drawTask'}: the '${split}' split has no tasks at difficulty ${difficulty} with these settings (${MAX_SPLIT_DRAWS.toLocaleString('en-US')} tasks drawn from seed ${seed}, none in it): the pool of distinct tasks is too small to split. Use a larger task pool (e.g. a larger knowledge base, kwarg size), another difficulty, or reset without a split.`,
      );
    }
    task = suite.generate(rng, difficulty);
  }
  return task;
}

/** What a task must carry. Suites add their own private fields (the hidden number, the target record ...). */
export interface Task {
  /** What the agent is asked to do; the first observation. Must not reveal the answer. */
  prompt: string;
  /** Ground-truth final answer as text (what a correct `answer(...)` would say); private. */
  answer: string;
  difficulty: number;
  /**
   * Which kind of task this is (a family of the suite, e.g. `roman`), reported as `reset`'s `info.kind` so
   * that evaluations can be broken down by it. Must not reveal the answer.
   */
  kind?: string;
  /** The kind's variant where a family has parameters (e.g. `lower=true`), reported as `info.variant`. */
  variant?: string;
}

/** The verifier's judgement of a submission. */
export interface Verdict {
  /** Reward in [0, 1] (e.g. token F1, fraction of tests passed). */
  score: number;
  /** Whether the task counts as solved. */
  success: boolean;
  /** Optional words for the agent (shown in the final observation). */
  feedback?: string;
}

/** A generator of tasks with difficulty, a verifier, and reference solutions. */
export interface TaskSuite<T extends Task, Submission = string> {
  /** Lowest and highest difficulty the generator accepts. */
  readonly difficulties: readonly [number, number];
  generate(rng: Rng, difficulty: number): T;
  /**
   * The identity a training task and a held-out task must never share, as text: two tasks with the same key
   * are "the same task" to a policy that could memorise it (for the multi-hop suites, the question itself).
   * With it, `reset({ options: { split } })` draws only tasks whose key falls in that split (see
   * {@link splitOf}), so that demonstrations and RL rollouts (`'train'`) never ask what held-out evaluation
   * (`'heldout'`) asks. Leave it out when there is nothing to hold out: a suite whose every task is one of a
   * few secrets (guess-number: the skill is the search, not the answer), a suite whose tasks come from so
   * large a space that training seeds rarely repeat one (the code, shop and forms suites: at difficulty 1,
   * 0 to 3 of 100 held-out seeds' prompts were among those of 400 training seeds), or a suite over the user's
   * own questions (the user splits those files). Such a suite ignores the split.
   */
  splitKey?(task: T): string;
  verify(task: T, submission: Submission): Verdict;
  /** A player of the reference solution for `task` (usable as a demonstration). */
  oracle(task: T): Oracle;
}

/** The reset options every {@link TaskEnv} reads. */
export const TASK_RESET_OPTIONS: readonly string[] = ['difficulty', 'split'];

/**
 * Base class of environments driven by a task suite and a set of tools. It owns seeding, difficulty,
 * action parsing and validation, and the privileged accessors; subclasses implement `callTool` (and
 * optionally `startEpisode` / `dispose` for resources such as isolates or browser contexts).
 */
export abstract class TaskEnv<T extends Task> implements Env {
  /**
   * The reset options it reads (see `Env.resetOptions`): `difficulty` and `split`. A subclass whose
   * `startEpisode` reads more lists them too, e.g. `override readonly resetOptions = [...TASK_RESET_OPTIONS, 'layout']`.
   */
  readonly resetOptions: readonly string[] = TASK_RESET_OPTIONS;
  protected task: T | undefined;
  private seeds: Rng | undefined;

  constructor(
    readonly spec: EnvSpec,
    protected readonly suite: TaskSuite<T, never>,
    /** Default difficulty; `reset({ options: { difficulty } })` overrides it for one episode. */
    protected readonly difficulty: number,
  ) {}

  /**
   * Starts an episode on the task the seed gives. Options: `difficulty` (this episode's, within the suite's
   * range) and `split` (`'train'` or `'heldout'`: the task is drawn only from that part of the suite's tasks,
   * see {@link drawTask}; suites without a split key ignore it). `info.split` says the split when one applied.
   */
  async reset(options: ResetOptions = {}): Promise<ResetResult> {
    const seed = options.seed ?? (this.seeds ? this.seeds.seed() : randomInt(0, 0x7fffffff));
    if (!Number.isSafeInteger(seed))
      throw new TurngymError('INVALID_OPTIONS', `reset: seed must be a safe integer, got ${seed}`);
    this.seeds = Rng.fromSeed(seed ^ 0x5bd1e995);
    const difficulty = this.episodeDifficulty(options.options?.difficulty);
    const requested = parseSplit(options.options?.split, `${this.spec.id} reset`);
    const split = this.suite.splitKey ? requested : undefined;
    const task = drawTask(this.suite, { seed, difficulty, split, where: `${this.spec.id} reset` });
    this.task = task;
    const extra = await this.startEpisode(task, options.options ?? {});
    const info: ResetInfo = {
      seed,
      difficulty,
      ...(split ? { split } : {}),
      ...(task.kind !== undefined ? { kind: task.kind } : {}),
      ...(task.variant !== undefined ? { variant: task.variant } : {}),
      ...extra.info,
    };
    return { observation: { text: extra.text ?? task.prompt }, info };
  }

  async step(action: Parameters<Env['step']>[0]): Promise<StepResult> {
    const resolved = resolveAction(action, this.spec.tools, this.spec.maxActionChars);
    if (!resolved.ok) return errorStep(resolved.error.code, resolved.error.message);
    try {
      const result = await this.callTool(resolved.call, this.currentTask());
      return { ...result, info: { tool: resolved.call.tool, ...result.info } };
    } catch (error) {
      if (error instanceof ToolInputError) {
        return {
          ...errorStep(error.code, error.message),
          info: { tool: resolved.call.tool, error: { code: error.code, message: error.message } },
        };
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    this.task = undefined;
    await this.dispose();
  }

  groundTruth(): string {
    return this.currentTask().answer;
  }

  oracle(): Oracle {
    return this.suite.oracle(this.currentTask());
  }

  /** Carries out a validated tool call. Throw {@link ToolInputError} for agent mistakes. */
  protected abstract callTool(call: ToolCall, task: T): Promise<StepResult>;

  /** Prepares per-episode resources; may replace the first observation's text and add to `info`. */
  protected async startEpisode(
    _task: T,
    _options: Record<string, unknown>,
  ): Promise<{ text?: string; info?: Record<string, unknown> }> {
    return {};
  }

  /** Frees resources; called by `close()`, which may be called more than once. */
  protected async dispose(): Promise<void> {}

  protected currentTask(): T {
    if (!this.task) throw new ResetNeededError(this.spec.id);
    return this.task;
  }

  private episodeDifficulty(requested: unknown): number {
    if (requested === undefined) return this.difficulty;
    const [low, high] = this.suite.difficulties;
    if (typeof requested !== 'number' || !Number.isInteger(requested) || requested < low || requested > high) {
      throw new TurngymError(
        'INVALID_OPTIONS',
        `${this.spec.id}: difficulty must be an integer from ${low} to ${high}, got ${JSON.stringify(requested)}`,
      );
    }
    return requested;
  }
}

/** A step result for an agent mistake: the message as the observation, no reward, the episode goes on. */
export function errorStep(code: ActionErrorCode, message: string): StepResult {
  return {
    observation: { text: `Error: ${message}` },
    reward: 0,
    terminated: false,
    truncated: false,
    info: { error: { code, message } },
  };
}
