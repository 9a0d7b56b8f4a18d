/**
 * Held-out evaluation: a policy plays seeds from HELDOUT_SEED_BASE on (never used for training or for the
 * tokenizer) on tasks of the 'heldout' split, and `evaluatePolicy` reports success rate, return, turns and
 * malformed actions. For suites with a split key (the multi-hop search and wiki questions) a held-out
 * question is never a training question; see `TaskSuite.splitKey`. Used by the warm start (sft.ts), the
 * trainer's before/after evaluation and `turngym eval`.
 */
import type { Env } from '../../envs/env.js';
import { isFormatError, TurngymError } from '../../core/errors.js';
import { make } from '../../envs/registry.js';
import type { Split } from '../../envs/task.js';
import { Rng } from '../../core/rng.js';
import { successRate } from '../agent.js';
import { type OnProgress, playEpisodes, type Transcript } from '../player.js';
import { type EpisodeOutcome, type KindSummary, summarizeByKind } from './paired.js';
import { PolicyActor, type PolicyTurn } from './play.js';
import type { Policy } from './policy.js';

/** First held-out seed: evaluation seeds are never used for training or for the tokenizer. */
export const HELDOUT_SEED_BASE = 1_000_000;

export interface EvaluationReport {
  env: string;
  /** Tasks played (seeds first_seed .. first_seed + episodes - 1). */
  episodes: number;
  /** Plays of each task (sampled; 1 unless asked): the figures below are means over every play, so with
   * several the success rate is the mean over tasks of the fraction of a task's plays that succeeded. */
  samples: number;
  first_seed: number;
  /** The split the tasks were drawn from (suites without a split key play any task; see `TaskSuite.splitKey`). */
  split: Split;
  temperature: number;
  /** Turn limit of the episodes (the env's own unless the evaluation set one). */
  max_turns: number;
  /** Null when unknown: an episode ended without the env setting `info.success` (see `successRate`). */
  success_rate: number | null;
  mean_return: number;
  mean_turns: number;
  /** Fraction of turns whose action was malformed (did not parse or validate: `isFormatError`). */
  format_error_rate: number;
  /** Plays without a malformed turn, and their success rate (null when there are none): whether a change
   * in success comes from better decisions or only from fewer malformed actions. */
  well_formed_episodes: number;
  well_formed_success_rate: number | null;
  /** The same figures within each kind of task, when the env reports kinds (`ResetInfo.kind`). */
  by_kind?: Record<string, KindSummary>;
}

/**
 * Plays held-out seeds with the policy (batched) and reports success rate, return and turns. Tasks come
 * from the 'heldout' split unless `split` says otherwise ('train' measures how well the policy does on
 * training questions, for comparison). With `samples` > 1 (at a temperature above 0) each task is played
 * that many times, and the transcripts list a task's plays one after another (task-major); `outcomes` are
 * the same episodes as a paired comparison reads them (`comparePaired`).
 */
export async function evaluatePolicy(
  policy: Policy,
  envId: string,
  options: {
    episodes: number;
    samples?: number;
    kwargs?: Record<string, unknown>;
    firstSeed?: number;
    temperature?: number;
    parallel?: number;
    seed?: number;
    maxTurns?: number;
    split?: Split;
    /** Append every episode (task, actions, observations) to this JSONL file, as `turngym run --record` does. */
    recordTo?: string;
    /** Called as episodes end (every play counts). */
    onProgress?: OnProgress;
  },
): Promise<{ report: EvaluationReport; transcripts: Transcript<PolicyTurn>[]; outcomes: EpisodeOutcome[] }> {
  const firstSeed = options.firstSeed ?? HELDOUT_SEED_BASE;
  const split = options.split ?? 'heldout';
  const temperature = options.temperature ?? 0;
  const samples = options.samples ?? 1;
  if (!Number.isInteger(samples) || samples < 1)
    throw new TurngymError('INVALID_OPTIONS', `evaluatePolicy: samples must be a whole number >= 1, got ${samples}.`);
  if (samples > 1 && temperature === 0)
    throw new TurngymError(
      'INVALID_OPTIONS',
      `evaluatePolicy: ${samples} samples of each task at temperature 0 would play the same greedy episode ${samples} times; set a temperature above 0.`,
    );
  const parallel = Math.max(1, Math.min(options.parallel ?? 32, options.episodes * samples));
  const envs: Env[] = [];
  try {
    for (let i = 0; i < parallel; i++)
      envs.push(await make(envId, options.kwargs ?? {}, { maxTurns: options.maxTurns, recordTo: options.recordTo }));
    const seeds = Array.from({ length: options.episodes * samples }, (_, i) => firstSeed + Math.floor(i / samples));
    const actor = new PolicyActor(policy, { temperature, rng: Rng.fromSeed(options.seed ?? 0) });
    const { transcripts } = await playEpisodes(
      envs,
      seeds.map((seed) => ({ seed, options: { split } })),
      actor,
      { onProgress: options.onProgress },
    );
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
    const byKind = summarizeByKind(transcripts);
    const malformedTurns = transcripts.map(
      (t) => t.turns.filter((turn) => isFormatError(turn.info.error?.code)).length,
    );
    const wellFormed = transcripts.filter((_, i) => malformedTurns[i] === 0);
    const turns = transcripts.reduce((sum, t) => sum + t.turns.length, 0);
    return {
      report: {
        env: envId,
        episodes: options.episodes,
        samples,
        first_seed: firstSeed,
        split,
        temperature,
        max_turns: options.maxTurns ?? envs[0]!.spec.maxTurns,
        success_rate: successRate(transcripts),
        mean_return: mean(transcripts.map((t) => t.return)),
        mean_turns: mean(transcripts.map((t) => t.turns.length)),
        format_error_rate: malformedTurns.reduce((sum, n) => sum + n, 0) / Math.max(1, turns),
        well_formed_episodes: wellFormed.length,
        well_formed_success_rate: wellFormed.length > 0 ? successRate(wellFormed) : null,
        ...(byKind ? { by_kind: byKind } : {}),
      },
      transcripts,
      outcomes: episodeOutcomes(transcripts),
    };
  } finally {
    await Promise.all(envs.map((env) => env.close()));
  }
}

/** What each episode contributes to a paired comparison (`comparePaired`), in the transcripts' order. */
function episodeOutcomes(transcripts: readonly Transcript[]): EpisodeOutcome[] {
  return transcripts.map((t) => ({ success: t.success, return: t.return, kind: t.kind, variant: t.variant }));
}
