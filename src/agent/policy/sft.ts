/**
 * Supervised warm start: behaviour cloning on oracle demonstrations.
 *
 * 1. Demonstrations: the env's oracle plays training seeds 0..episodes-1 (OracleAgent + runEpisodes, on
 *    DEMONSTRATION_ENVS instances of the env side by side), on tasks of the 'train' split.
 * 2. Tokenizer: fitted to the rendered transcripts of the demonstrations and of extra oracle episodes on
 *    seeds from 500,000 on (never the held-out seeds; 'train' split too).
 * 3. Examples: each demonstration becomes one sequence (or, when it does not fit the context, one per turn
 *    with the context the policy will see when acting; see context.ts); the loss covers action tokens only.
 * 4. Training: AdamW on the mean negative log-likelihood of action tokens, batches of about `batchTokens`
 *    tokens, linear warm-up then cosine decay.
 * 5. Held-out evaluation: the trained policy plays seeds from 1,000,000 on (never used for training) on
 *    tasks of the 'heldout' split (`evaluatePolicy`, evaluate.ts). For suites with a split key (the multi-hop
 *    search and wiki questions) a held-out question is never a training question; see `TaskSuite.splitKey`.
 */
import { z } from 'zod';
import type { Env, EnvSpec } from '../../envs/env.js';
import { parseOptions, TurngymError } from '../../core/errors.js';
import { make } from '../../envs/registry.js';
import { Rng } from '../../core/rng.js';
import { formatSuccessRate, runEpisodes, type Transcript } from '../agent.js';
import { OracleAgent } from '../baselines.js';
import {
  type Segment,
  encodeSegment,
  encodeSegments,
  episodeSegments,
  headerSegments,
  policySegments,
  turnSegments,
} from './chat.js';
import { buildContext } from './context.js';
import { type EvaluationReport, evaluatePolicy } from './evaluate.js';
import { forwardFlops, type ModelConfig, modelChoiceSchema } from './model.js';
import type { OnProgress } from './play.js';
import type { EpisodeOutcome } from './paired.js';
import { linearObjective, type ScoredSequence, targetCount } from './logprobs.js';
import { Policy } from './policy.js';
import type { SftOptions } from './sft-options.js';
import { type FitOptions, NUMBER_PIECES, Tokenizer } from './tokenizer.js';

/** First seed of the extra episodes the tokenizer is fitted on. */
export const TOKENIZER_SEED_BASE = 500_000;

/**
 * Behaviour cloning's settings, each with its bounds, default and meaning: the one source of {@link SftOptions}
 * (generated from it), of `turngym sft`'s flags, and of the trainer's warm-start defaults.
 */
export const sftOptionsSchema = z
  .object({
    env: z.string().describe('Environment id, e.g. puzzle/guess-number-v0').meta({ placeholder: 'id' }),
    kwargs: z
      .record(z.string(), z.unknown())
      .default({})
      .describe('Env keyword arguments for make(env, kwargs), as a JSON object, e.g. {"hops":2}'),
    episodes: z.number().int().min(1).default(256).describe('Oracle demonstrations (training seeds 0..n-1)'),
    steps: z.number().int().min(1).default(150).describe('Optimizer steps'),
    evalEpisodes: z
      .number()
      .int()
      .min(0)
      .default(100)
      .describe('Held-out episodes (seeds from 1,000,000, tasks of the held-out split); 0: none'),
    batchTokens: z.number().int().min(64).default(2048).describe('Tokens per batch (sequences x padded length)'),
    learningRate: z.number().positive().default(2e-3).describe('Peak learning rate'),
    model: modelChoiceSchema
      .default({})
      .describe('Shape of the fresh policy (unset fields: the defaults of modelShapeSchema, model.ts)'),
    maxActionTokens: z.number().int().min(4).default(48).describe('Most tokens per action'),
    maxVocab: z.number().int().optional().describe("Largest vocabulary (default: the tokenizer's, 2048)"),
    numbers: z
      .enum(NUMBER_PIECES)
      .default('whole')
      .describe(
        'How the tokenizer splits numbers: whole (up to six digits, one token) or digits (one token a digit, so a number copied from the task or an output is the same tokens)',
      )
      .meta({ placeholder: 'how' }),
    subwords: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        'Subword pieces, fitted over the words the vocabulary leaves out, that spell such a word (a name never seen becomes a few recurring pieces, not bytes); part of maxVocab; 0: spelled in bytes',
      ),
    evalTemperature: z
      .number()
      .min(0)
      .default(0)
      .describe('Sampling temperature of the held-out evaluation (0: greedy)'),
    evalSamples: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe('Plays of each held-out task (above 1 needs evalTemperature above 0; see evaluatePolicy)'),
    evalMaxTurns: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("Turn limit of the held-out evaluation (default: the env's)"),
    seed: z.number().int().min(0).default(0).describe('Seed of the weights and batch order'),
  })
  .strict();
/** `behaviourCloning`'s settings, documented one by one (generated from the schema: scripts/train-options.ts). */
export type { SftOptions };

/** What `behaviourCloning` takes besides its settings: progress callbacks, and a policy to start from. */
export interface SftHooks {
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Progress of each long phase (see {@link SFT_PHASES}): `done` of `total`, from 0. */
  progress?: (phase: SftPhase, done: number, total: number) => void;
  /** Start from this policy instead of a fresh one (its tokenizer is kept). */
  policy?: Policy;
}

export interface SftReport {
  env: string;
  kwargs: Record<string, unknown>;
  demonstrations: number;
  oracle_success_rate: number;
  examples: number;
  action_tokens: number;
  steps: number;
  /** Padded tokens per batch and peak learning rate (the settings that decide the run besides the above). */
  batch_tokens: number;
  learning_rate: number;
  tokens_trained: number;
  seconds: number;
  tokens_per_s: number;
  gflops_per_s: number;
  first_loss: number;
  final_loss: number;
  vocab_size: number;
  parameters: number;
  model: ModelConfig;
  heldout: EvaluationReport;
}

/**
 * Envs the oracle plays demonstrations on side by side: a web env's browser then works on another core while
 * this thread plans the next actions (`turngym bench demonstrations`).
 */
export const DEMONSTRATION_ENVS = 4;

/**
 * Plays the env's oracle on `seeds`, one episode each, on tasks of the 'train' split (demonstrations and
 * tokenizer text are training data: they never ask a held-out question), on `envs` side by side (instances of
 * one env); the transcripts come in the order of `seeds`, the same whatever the number of envs.
 */
export async function collectDemonstrations(
  envs: Env | readonly Env[],
  seeds: readonly number[],
  onProgress?: OnProgress,
): Promise<Transcript[]> {
  const players = Array.isArray(envs) ? envs : [envs as Env];
  const oracles = players.map(() => new OracleAgent());
  const episodes = seeds.map((seed) => ({ seed, options: { split: 'train' } }));
  return runEpisodes(players, oracles, episodes, { onProgress });
}

/** All text of a transcript as segments (for fitting a tokenizer). */
function transcriptTexts(spec: EnvSpec, transcript: Transcript): string[] {
  return episodeSegments(spec, transcript.prompt, transcript.turns).map((segment) => segment.text);
}

/** Fits a tokenizer to demonstrations' rendered text. */
export function fitTokenizer(spec: EnvSpec, transcripts: readonly Transcript[], options: FitOptions = {}): Tokenizer {
  return Tokenizer.fit(
    transcripts.flatMap((transcript) => transcriptTexts(spec, transcript)),
    options,
  );
}

/**
 * Training sequences of a demonstration: the whole episode when it fits the context budget (every action
 * then sees exactly the context it will see when acting), otherwise one sequence per turn, each with the
 * context `buildContext` gives at that turn.
 */
export function demonstrationExamples(policy: Policy, spec: EnvSpec, transcript: Transcript): ScoredSequence[] {
  const segments = policySegments(policy, episodeSegments(spec, transcript.prompt, transcript.turns));
  const whole = encodeSegments(segments, policy.tokenizer);
  const longestAction = Math.max(
    0,
    ...segments
      .filter((segment) => segment.role === 'action')
      .map((segment) => encodeSegment(segment, policy.tokenizer).length - 1),
  );
  if (longestAction > policy.maxActionTokens) return []; // the policy could never write this action
  if (whole.tokens.length <= policy.contextBudget) return [{ tokens: whole.tokens, targetMask: whole.actionMask }];
  const examples: ScoredSequence[] = [];
  const history: Segment[] = policySegments(policy, headerSegments(spec, transcript.prompt));
  for (const turn of transcript.turns) {
    const [action, observation] = turnSegments(turn.action, turn.observation) as [Segment, Segment];
    const context = buildContext(history, policy.tokenizer, policy.contextBudget).tokens;
    const actionTokens = encodeSegment(action, policy.tokenizer).slice(1); // text + <|end|>; the role token ends the context
    examples.push({
      tokens: [...context, ...actionTokens],
      targetMask: [...Array<number>(context.length).fill(0), ...Array<number>(actionTokens.length).fill(1)],
    });
    history.push(action, observation);
  }
  return examples;
}

/** Groups sequences of similar length into batches of at most `batchTokens` padded tokens. */
export function packBatches<T extends { tokens: readonly number[] }>(
  sequences: readonly T[],
  batchTokens: number,
): T[][] {
  const sorted = [...sequences].sort((a, b) => a.tokens.length - b.tokens.length);
  const batches: T[][] = [];
  let current: T[] = [];
  for (const sequence of sorted) {
    const longest = Math.max(sequence.tokens.length, ...current.map((item) => item.tokens.length));
    if (current.length > 0 && longest * (current.length + 1) > batchTokens) {
      batches.push(current);
      current = [];
    }
    current.push(sequence);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** The long phases of behaviour cloning, in order, as its `progress` callback names them. */
export const SFT_PHASES = [
  'oracle demonstrations',
  'tokenizer text',
  'behaviour cloning',
  'held-out evaluation',
] as const;
export type SftPhase = (typeof SFT_PHASES)[number];

/**
 * Behaviour cloning from oracle demonstrations, then a held-out evaluation (its episodes' outcomes too, for a
 * paired comparison with a later evaluation on the same tasks: `comparePaired`).
 */
export async function behaviourCloning(
  input: SftOptions & SftHooks,
): Promise<{ policy: Policy; report: SftReport; heldoutOutcomes: EpisodeOutcome[] }> {
  const { log = () => {}, progress, policy: start, ...settings } = input;
  const options = parseOptions(sftOptionsSchema, settings, 'SFT options');
  const { episodes, steps, batchTokens, learningRate: peakRate, kwargs } = options;
  const phase = (name: SftPhase): OnProgress | undefined =>
    progress ? (done, total) => progress(name, done, total) : undefined;
  const envs: Env[] = [];
  let demonstrations: Transcript[];
  let tokenizerText: Transcript[];
  try {
    for (let i = 0; i < DEMONSTRATION_ENVS; i++) envs.push(await make(options.env, kwargs));
    demonstrations = await collectDemonstrations(
      envs,
      Array.from({ length: episodes }, (_, i) => i),
      phase('oracle demonstrations'),
    );
    const textSeeds = Array.from({ length: Math.max(episodes, 256) }, (_, i) => TOKENIZER_SEED_BASE + i);
    tokenizerText = start ? [] : await collectDemonstrations(envs, textSeeds, phase('tokenizer text'));
  } finally {
    await Promise.all(envs.map((env) => env.close()));
  }
  const spec = envs[0]!.spec;
  const oracleSuccess = demonstrations.filter((t) => t.success).length / Math.max(1, demonstrations.length);
  log(
    `[sft] ${demonstrations.length} oracle demonstrations of ${options.env} (oracle success ${oracleSuccess.toFixed(3)})`,
  );
  const policy =
    start ??
    Policy.create({
      tokenizer: fitTokenizer(spec, [...demonstrations, ...tokenizerText], {
        maxVocab: options.maxVocab,
        numbers: options.numbers,
        subwords: options.subwords,
      }),
      model: options.model,
      optimizer: { learningRate: peakRate },
      maxActionTokens: options.maxActionTokens,
      seed: options.seed,
    });
  // Clone successful demonstrations only: a failed oracle episode is not a behaviour to copy.
  const examples = demonstrations
    .filter((t) => t.success)
    .flatMap((transcript) => demonstrationExamples(policy, spec, transcript));
  if (examples.length === 0) {
    const why = demonstrations.some((t) => t.unscored)
      ? "its episodes end without info.success (set info.success to true or false on the step that ends the task: docs/writing-an-env.md, 'How success is decided')"
      : `the oracle never succeeded, or its actions exceed maxActionTokens (${policy.maxActionTokens})`;
    throw new TurngymError('INVALID_OPTIONS', `No usable demonstrations of ${options.env} to clone: ${why}.`);
  }
  const actionTokens = examples.reduce((sum, example) => sum + example.targetMask.reduce((a, b) => a + b, 0), 0);
  const batches = packBatches(examples, batchTokens);
  log(
    `[sft] vocabulary ${policy.tokenizer.vocabSize}, ${policy.model.parameterCount} parameters, ${examples.length} sequences (${actionTokens} action tokens) in ${batches.length} batches of <= ${batchTokens} tokens`,
  );

  const rng = Rng.fromSeed(options.seed + 1);
  let order: number[] = [];
  const warmup = Math.min(20, Math.floor(steps / 10));
  const started = performance.now();
  let tokensTrained = 0;
  let flops = 0;
  let firstLoss = Number.NaN;
  let recent: number[] = [];
  const stepDone = phase('behaviour cloning');
  stepDone?.(0, steps);
  for (let step = 0; step < steps; step++) {
    if (order.length === 0) order = rng.shuffle(batches.map((_, index) => index));
    const batch = batches[order.pop()!]!;
    const progress =
      step < warmup
        ? (step + 1) / warmup
        : 0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * (step - warmup)) / Math.max(1, steps - warmup)));
    policy.optimizer.learningRate = peakRate * Math.min(1, progress);
    const loss = cloningStep(policy, batch, batchTokens);
    const length = Math.max(...batch.map((sequence) => sequence.tokens.length));
    tokensTrained += length * batch.length;
    flops += 3 * forwardFlops(policy.config, length * batch.length, length);
    if (step === 0) firstLoss = loss;
    recent.push(loss);
    stepDone?.(step + 1, steps);
    if ((step + 1) % 25 === 0 || step === steps - 1) {
      const seconds = (performance.now() - started) / 1000;
      log(
        `[sft] step ${step + 1}/${steps}  loss ${(recent.reduce((a, b) => a + b, 0) / recent.length).toFixed(4)}  ${Math.round(tokensTrained / seconds)} tokens/s`,
      );
      if (step < steps - 1) recent = [];
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const finalLoss = recent.reduce((a, b) => a + b, 0) / Math.max(1, recent.length);
  const { report: heldout, outcomes: heldoutOutcomes } = await evaluatePolicy(policy, options.env, {
    episodes: options.evalEpisodes,
    kwargs,
    temperature: options.evalTemperature,
    samples: options.evalSamples,
    maxTurns: options.evalMaxTurns,
    onProgress: phase('held-out evaluation'),
  });
  const played =
    heldout.samples > 1 ? `${heldout.episodes} tasks x ${heldout.samples} plays` : `${heldout.episodes} episodes`;
  log(
    `[sft] held-out success ${formatSuccessRate(heldout.success_rate)} over ${played} (seeds ${heldout.first_seed}..), mean turns ${heldout.mean_turns.toFixed(2)}`,
  );
  return {
    policy,
    report: {
      env: options.env,
      kwargs,
      demonstrations: demonstrations.length,
      oracle_success_rate: oracleSuccess,
      examples: examples.length,
      action_tokens: actionTokens,
      steps,
      batch_tokens: batchTokens,
      learning_rate: peakRate,
      tokens_trained: tokensTrained,
      seconds: round(seconds),
      tokens_per_s: Math.round(tokensTrained / seconds),
      gflops_per_s: round(flops / seconds / 1e9),
      first_loss: round(firstLoss),
      final_loss: round(finalLoss),
      vocab_size: policy.tokenizer.vocabSize,
      parameters: policy.model.parameterCount,
      model: policy.config,
      heldout,
    },
    heldoutOutcomes,
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * One optimizer step of behaviour cloning on `batch`: the mean negative log-prob of its target tokens, whose
 * gradient is computed in passes of at most `batchTokens` padded tokens shared between the policy's threads
 * (`Policy.gradientOf`; with weights -1 / tokens it is the mean's gradient). Returns the loss.
 */
export function cloningStep(policy: Policy, batch: readonly ScoredSequence[], batchTokens: number): number {
  const counts = batch.map(targetCount);
  const total = Math.max(
    1,
    counts.reduce((sum, count) => sum + count, 0),
  );
  const weights = counts.map((count) => ({ logprobs: new Float32Array(count).fill(-1 / total) }));
  const { gradients, values } = policy.gradientOf(batch, linearObjective(weights), { maxBatchTokens: batchTokens });
  policy.applyGradients(gradients);
  let sum = 0;
  for (const { logprobs } of values) for (const logprob of logprobs) sum += logprob;
  return -sum / total;
}
