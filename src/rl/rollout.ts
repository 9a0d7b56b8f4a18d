/**
 * Rollouts: groups of G trajectories per task, played in lockstep over a set of envs by the episode player
 * (agent/player.ts) with the policy as its actor: one batched sampling call per turn. Each turn keeps what
 * the update needs — its context tokens, the sampled action tokens, their old log-probs and entropies
 * (`PolicyTurn`) — and its reward parts. With information gain on, the policy's belief in the ground-truth
 * answer is scored (batched) before the first turn and after every turn that did not end the episode (IGPO:
 * the final answer turn is rewarded by the outcome instead).
 *
 * An env that fails (throws) drops that trajectory (counted and logged), never the run.
 */
import { renderAction } from '../agent/policy/chat.js';
import { PolicyActor, type PolicyTurn } from '../agent/policy/play.js';
import type { Policy } from '../agent/policy/policy.js';
import { type Episode, playEpisodes, type Transcript } from '../agent/player.js';
import type { Env, EnvSpec } from '../envs/env.js';
import { describeError, TurngymError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { formatPenalty, informationGain, type RewardParts } from './rewards.js';

/** One turn of a rollout: the policy's turn with its reward parts. */
export interface RolloutTurn extends PolicyTurn {
  rewards: RewardParts;
  /** Mean log-prob of the ground-truth answer's tokens after this turn (IGPO), when scored. */
  answerLogprob?: number;
}

/** One trajectory: the transcript of one play of its group's task. */
export interface Trajectory extends Transcript<RolloutTurn> {
  /** The group (task) within the step; the trajectories of a group share the task. */
  group: number;
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
    throw new TurngymError(
      'NOT_SUPPORTED',
      `${spec.id} declares no answer tool, so information-gain rewards cannot be computed; use --advantage grpo.`,
    );
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

/**
 * Plays one episode on each env: env i plays group `floor(i / groupSize)` with that group's seed, so the
 * G trajectories of a group share the task. Returns the trajectories that completed, by group (within a
 * group, in the order they ended).
 */
export async function collectRollouts(
  policy: Policy,
  envs: readonly Env[],
  groupSeeds: readonly number[],
  options: RolloutOptions,
): Promise<RolloutBatch> {
  const groupSize = envs.length / groupSeeds.length;
  if (!Number.isInteger(groupSize))
    throw new TurngymError(
      'INVALID_OPTIONS',
      `collectRollouts: ${envs.length} envs cannot be split into ${groupSeeds.length} equal groups.`,
    );
  const log = options.log ?? (() => {});
  const groupOf = (index: number) => Math.floor(index / groupSize);
  const actor = new PolicyActor(policy, {
    temperature: options.temperature,
    topP: options.topP,
    maxTokens: options.maxActionTokens,
    maxBatchTokens: options.sampleBatchTokens,
    rng: options.rng,
  });
  const probes: AnswerProbe[] = [];
  // Scored answer log-probs of each episode: [k] after k turns.
  const answerLogprobs: number[][] = envs.map(() => []);
  let scoreSeconds = 0;
  const ended: Episode<PolicyTurn>[] = [];
  const played = await playEpisodes(
    envs,
    // Rollouts are training: their tasks come from the 'train' split, never a held-out question.
    envs.map((_, index) => ({
      seed: groupSeeds[groupOf(index)]!,
      options: { maxTurns: options.maxTurns, split: 'train' },
    })),
    actor,
    {
      envConcurrency: options.envConcurrency,
      onStart: options.informationGain
        ? (episode) => void (probes[episode.index] = checkedProbe(policy, episode))
        : undefined,
      // Before the first turn, and after each turn but an answer (a truncated episode's last turn still gets its score).
      afterTurn: options.informationGain
        ? (episodes) => {
            const start = performance.now();
            scoreAnswers(
              policy,
              actor,
              probes,
              answerLogprobs,
              episodes.filter((episode) => !episode.transcript.terminated),
            );
            scoreSeconds += (performance.now() - start) / 1000;
          }
        : undefined,
      onEnd: (episode) => ended.push(episode),
      onError: (error, { index, phase }) => {
        if (TurngymError.is(error, 'NOT_SUPPORTED')) throw error;
        log(
          `rollout: dropped a trajectory of group ${groupOf(index)} (seed ${groupSeeds[groupOf(index)]}): ${phase} failed: ${describeError(error)}`,
        );
      },
    },
  );
  const trajectories = ended.map(({ index, transcript }) =>
    trajectoryOf(transcript, groupOf(index), answerLogprobs[index]!, options),
  );
  trajectories.sort((a, b) => a.group - b.group);
  return {
    trajectories,
    dropped: played.dropped,
    envSteps: played.envSteps,
    sampledTokens: actor.sampledTokens,
    seconds: { env: played.seconds.env, sample: played.seconds.act, score: scoreSeconds },
  };
}

/** The answer probe of an episode, refused when it leaves the episode too little of the policy's context. */
function checkedProbe(policy: Policy, episode: Episode<PolicyTurn>): AnswerProbe {
  const probe = answerProbe(policy, episode.env.spec, episode.env.groundTruth!());
  if (probe.tokens.length > policy.config.contextLength - MIN_PROBE_CONTEXT) {
    throw new TurngymError(
      'NOT_SUPPORTED',
      `Information gain: the ground-truth answer of ${episode.env.spec.id} (seed ${episode.transcript.seed}) is ${probe.tokens.length} tokens, which leaves under ${MIN_PROBE_CONTEXT} of the policy's ${policy.config.contextLength} context tokens for the episode; use a policy with a longer context or --advantage grpo.`,
    );
  }
  return probe;
}

/**
 * Scores the mean log-prob of each episode's ground-truth answer after its current context (batched by
 * `Policy.score`), into `answerLogprobs[index][turns so far]`.
 */
function scoreAnswers(
  policy: Policy,
  actor: PolicyActor,
  probes: readonly AnswerProbe[],
  answerLogprobs: number[][],
  episodes: readonly Episode<PolicyTurn>[],
): void {
  if (episodes.length === 0) return;
  // The forced answer can be longer than an action (a reference solution): the context makes room for it.
  const contexts = episodes.map((episode) =>
    actor.context(episode).context(policy, policy.config.contextLength - probes[episode.index]!.tokens.length),
  );
  const scores = policy.score(
    contexts,
    episodes.map((episode) => probes[episode.index]!.tokens),
  );
  episodes.forEach((episode, i) => {
    const mask = probes[episode.index]!.answerMask;
    const values = scores[i]!.filter((_, t) => mask[t] === 1);
    answerLogprobs[episode.index]![episode.transcript.turns.length] =
      values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
  });
}

/** A played episode as a trajectory of `group`: each turn with its reward parts, information gain when scored. */
function trajectoryOf(
  transcript: Transcript<PolicyTurn>,
  group: number,
  answerLogprobs: readonly number[],
  options: RolloutOptions,
): Trajectory {
  const trajectory: Trajectory = {
    ...transcript,
    group,
    ...(answerLogprobs[0] !== undefined ? { initialAnswerLogprob: answerLogprobs[0] } : {}),
    turns: transcript.turns.map((turn, t) => ({
      ...turn,
      rewards: { informationGain: 0, format: formatPenalty(turn.info, options.formatPenalty), env: turn.reward },
      ...(answerLogprobs[t + 1] !== undefined ? { answerLogprob: answerLogprobs[t + 1] } : {}),
    })),
  };
  if (options.informationGain) assignInformationGain(trajectory, options.informationGain);
  return trajectory;
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
