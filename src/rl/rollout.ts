/**
 * Rollouts: groups of G trajectories per task, played in lockstep over a set of envs with one batched
 * sampling call per turn. Each turn keeps what the update needs — its context tokens, the sampled action
 * tokens, their old log-probs and entropies — and its reward parts. With information gain on, the policy's
 * belief in the ground-truth answer is scored (batched) before the first turn and after every turn that
 * did not end the episode (IGPO: the final answer turn is rewarded by the outcome instead).
 *
 * An env that fails (throws) drops that trajectory (counted and logged), never the run.
 */
import { episodeSuccess } from '../agent/agent.js';
import { renderAction } from '../agent/policy/chat.js';
import { EpisodeContext } from '../agent/policy/play.js';
import type { Policy, Sample } from '../agent/policy/policy.js';
import type { Env, EnvSpec, StepResult } from '../envs/env.js';
import { describeError, TurngymError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { formatPenalty, informationGain, type RewardParts } from './rewards.js';

/** One turn of a rollout. */
export interface RolloutTurn {
  /** Context tokens the action was sampled from (ending with `<|action|>`). */
  context: number[];
  /** Sampled action tokens (with `<|end|>` when written). */
  tokens: number[];
  logprobs: number[];
  entropies: number[];
  text: string;
  observation: string;
  rewards: RewardParts;
  /** Mean log-prob of the ground-truth answer's tokens after this turn (IGPO), when scored. */
  answerLogprob?: number;
  error?: string;
}

export interface Trajectory {
  group: number;
  seed: number;
  prompt: string;
  turns: RolloutTurn[];
  /** Sum of the env's rewards (the verifier's score for envs that score at the end). */
  outcome: number;
  success: boolean;
  /** The task ended without the env saying whether it was solved (see `episodeSuccess`). */
  unscored?: true;
  truncated: boolean;
  /** Mean log-prob of the answer before the first turn (IGPO: log p_0). */
  initialAnswerLogprob?: number;
}

export interface RolloutOptions {
  /** Horizon of these episodes. */
  maxTurns: number;
  temperature: number;
  topP: number;
  maxActionTokens: number;
  /** Most padded tokens sampled in one batch (`Policy.sample`'s `maxBatchTokens`). */
  sampleBatchTokens?: number;
  formatPenalty: number;
  /**
   * Most env calls (resets, steps) in flight at once; undefined or 0: every env at once. Envs that share a
   * browser (web) or a machine's cores can then be many without all of them waiting on each other.
   */
  envConcurrency?: number;
  /** Score information gain ('prob' or 'logprob' differences); undefined: do not score. */
  informationGain?: 'prob' | 'logprob';
  rng: Rng;
  log?: (line: string) => void;
}

export interface RolloutBatch {
  trajectories: Trajectory[];
  /** Trajectories dropped because their env failed. */
  dropped: number;
  envSteps: number;
  sampledTokens: number;
  /** Seconds spent in env steps/resets, sampling, and information-gain scoring. */
  seconds: { env: number; sample: number; score: number };
}

/** Fewest context tokens left for the episode when information gain forces the answer after it. */
const MIN_PROBE_CONTEXT = 64;

/** How the ground-truth answer is forced after a context: the tokens to score and which are the answer. */
export interface AnswerProbe {
  tokens: number[];
  /** 1 on the ground-truth answer's own tokens. */
  answerMask: number[];
}

/**
 * Builds the forced answer action for information gain: `answerTool(arg=<truth>)` rendered as the policy
 * writes actions, followed by `<|end|>`; only the truth's tokens are averaged.
 */
export function answerProbe(policy: Policy, spec: EnvSpec, truth: string): AnswerProbe {
  const toolName = spec.answerTool;
  const tool = spec.tools.find((candidate) => candidate.name === toolName);
  if (!tool) {
    throw new TurngymError('NOT_SUPPORTED', `${spec.id} declares no answer tool, so information-gain rewards cannot be computed; use --advantage grpo.`);
  }
  const argument = Object.keys(tool.parameters.shape)[0] ?? 'text';
  const numeric = /^-?\d+(\.\d+)?$/.test(truth) && !tool.parameters.shape[argument]?.safeParse('x').success;
  const rendered = renderAction({ tool: tool.name, args: { [argument]: numeric ? Number(truth) : truth } });
  const truthText = numeric ? truth : JSON.stringify(truth).slice(1, -1);
  const start = rendered.indexOf(truthText);
  const before = policy.tokenizer.encode(rendered.slice(0, start));
  const answer = policy.tokenizer.encode(truthText);
  const after = policy.tokenizer.encode(rendered.slice(start + truthText.length));
  const end = policy.tokenizer.special('<|end|>');
  return {
    tokens: [...before, ...answer, ...after, end],
    answerMask: [...before.map(() => 0), ...answer.map(() => 1), ...after.map(() => 0), 0],
  };
}

interface Running {
  env: Env;
  trajectory: Trajectory;
  context: EpisodeContext;
  probe?: AnswerProbe;
}

/**
 * A wrapper that lets at most `limit` calls run at once (the rest wait, first come first served); undefined
 * or 0: no limit.
 */
export function limitInFlight(limit: number | undefined): <T>(work: () => Promise<T>) => Promise<T> {
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

/**
 * Plays one episode on each env: env i plays group `floor(i / groupSize)` with that group's seed, so the
 * G trajectories of a group share the task. Returns the trajectories that completed.
 */
export async function collectRollouts(policy: Policy, envs: readonly Env[], groupSeeds: readonly number[], options: RolloutOptions): Promise<RolloutBatch> {
  const groupSize = envs.length / groupSeeds.length;
  if (!Number.isInteger(groupSize)) throw new TurngymError('INVALID_OPTIONS', `collectRollouts: ${envs.length} envs cannot be split into ${groupSeeds.length} equal groups.`);
  const seconds = { env: 0, sample: 0, score: 0 };
  const timed = async <T>(part: keyof typeof seconds, work: () => Promise<T> | T): Promise<T> => {
    const start = performance.now();
    try {
      return await work();
    } finally {
      seconds[part] += (performance.now() - start) / 1000;
    }
  };
  const log = options.log ?? (() => {});
  const envCall = limitInFlight(options.envConcurrency);
  let dropped = 0;
  let envSteps = 0;
  let sampledTokens = 0;
  const done: Trajectory[] = [];

  // Reset every env with its group's seed; an env that fails to reset drops its trajectory.
  const started = await timed('env', () =>
    Promise.all(
      envs.map(async (env, index): Promise<Running | undefined> => {
        const group = Math.floor(index / groupSize);
        const seed = groupSeeds[group]!;
        try {
          // Rollouts are training: their tasks come from the 'train' split, never a held-out question.
          const reset = await envCall(() => env.reset({ seed, options: { maxTurns: options.maxTurns, split: 'train' } }));
          const probe = options.informationGain ? answerProbe(policy, env.spec, env.groundTruth!()) : undefined;
          if (probe && probe.tokens.length > policy.config.contextLength - MIN_PROBE_CONTEXT) {
            throw new TurngymError(
              'NOT_SUPPORTED',
              `Information gain: the ground-truth answer of ${env.spec.id} (seed ${seed}) is ${probe.tokens.length} tokens, which leaves under ${MIN_PROBE_CONTEXT} of the policy's ${policy.config.contextLength} context tokens for the episode; use a policy with a longer context or --advantage grpo.`,
            );
          }
          return {
            env,
            trajectory: { group, seed, prompt: reset.observation.text, turns: [], outcome: 0, success: false, truncated: false },
            context: new EpisodeContext(env.spec, reset.observation),
            probe,
          };
        } catch (error) {
          if (TurngymError.is(error, 'NOT_SUPPORTED')) throw error;
          dropped++;
          log(`rollout: dropped a trajectory of group ${group} (seed ${seed}): reset failed: ${describeError(error)}`);
          return undefined;
        }
      }),
    ),
  );
  let running = started.filter((entry): entry is Running => entry !== undefined);
  if (options.informationGain) await timed('score', () => scoreAnswers(policy, running));

  while (running.length > 0) {
    const contexts = running.map((entry) => entry.context.context(policy));
    const samples: Sample[] = await timed('sample', () =>
      policy.sample(contexts, { temperature: options.temperature, topP: options.topP, maxTokens: options.maxActionTokens, maxBatchTokens: options.sampleBatchTokens, rng: options.rng }),
    );
    const results = await timed('env', () =>
      Promise.all(running.map((entry, i) => envCall(() => entry.env.step(samples[i]!.text)).then((result) => ({ ok: true as const, result }), (error: unknown) => ({ ok: false as const, error })))),
    );
    const still: Running[] = [];
    const toScore: Running[] = [];
    for (let i = 0; i < running.length; i++) {
      const entry = running[i]!;
      const sample = samples[i]!;
      const outcome = results[i]!;
      sampledTokens += sample.tokens.length;
      if (!outcome.ok) {
        dropped++;
        log(`rollout: dropped a trajectory of group ${entry.trajectory.group} (seed ${entry.trajectory.seed}): step failed: ${describeError(outcome.error)}`);
        continue;
      }
      envSteps++;
      const result: StepResult = outcome.result;
      entry.trajectory.turns.push({
        context: contexts[i]!,
        tokens: sample.tokens,
        logprobs: sample.logprobs,
        entropies: sample.entropies,
        text: sample.text,
        observation: result.observation.text,
        rewards: { informationGain: 0, format: formatPenalty(result.info, options.formatPenalty), env: result.reward },
        error: result.info.error?.code,
      });
      entry.trajectory.outcome += result.reward;
      entry.context.addAction(sample, policy);
      entry.context.addObservation(result.observation);
      if (result.terminated || result.truncated) {
        Object.assign(entry.trajectory, episodeSuccess(result));
        entry.trajectory.truncated = result.truncated && !result.terminated;
        // A truncated episode's last turn was not an answer: it still gets its information gain.
        if (entry.probe && !result.terminated) toScore.push(entry);
        done.push(entry.trajectory);
      } else {
        if (entry.probe) toScore.push(entry);
        still.push(entry);
      }
    }
    if (toScore.length > 0) await timed('score', () => scoreAnswers(policy, toScore));
    running = still;
  }
  if (options.informationGain) for (const trajectory of done) assignInformationGain(trajectory, options.informationGain);
  done.sort((a, b) => a.group - b.group);
  return { trajectories: done, dropped, envSteps, sampledTokens, seconds };
}

/** Scores the mean log-prob of each entry's ground-truth answer after its current context (batched by `Policy.score`). */
function scoreAnswers(policy: Policy, entries: readonly Running[]): void {
  if (entries.length === 0) return;
  // The forced answer can be longer than an action (a reference solution): the context makes room for it.
  const contexts = entries.map((entry) => entry.context.context(policy, policy.config.contextLength - entry.probe!.tokens.length));
  const scores = policy.score(
    contexts,
    entries.map((entry) => entry.probe!.tokens),
  );
  entries.forEach((entry, i) => {
    const mask = entry.probe!.answerMask;
    const values = scores[i]!.filter((_, t) => mask[t] === 1);
    const mean = values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
    const turn = entry.trajectory.turns[entry.trajectory.turns.length - 1];
    if (turn) turn.answerLogprob = mean;
    else entry.trajectory.initialAnswerLogprob = mean;
  });
}

/** Turns the scored answer log-probs into per-turn information-gain rewards. */
function assignInformationGain(trajectory: Trajectory, mode: 'prob' | 'logprob'): void {
  if (trajectory.initialAnswerLogprob === undefined) return;
  const series = [trajectory.initialAnswerLogprob];
  for (const turn of trajectory.turns) {
    if (turn.answerLogprob === undefined) break;
    series.push(turn.answerLogprob);
  }
  const gains = informationGain(series, mode);
  gains.forEach((gain, t) => {
    trajectory.turns[t]!.rewards.informationGain = Number.isFinite(gain) ? gain : 0;
  });
}
