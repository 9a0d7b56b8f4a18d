/**
 * Playing episodes with a policy: `PolicyAgent` (one episode at a time, the Agent interface, what
 * `turngym run --agent checkpoint:DIR` uses) and `playEpisodes` (many episodes in lockstep, one batched
 * sampling call per turn: evaluation and RL rollouts).
 */
import type { Env, EnvSpec, Observation, ResetInfo, StepInfo, StepResult } from '../../envs/env.js';
import { TurngymError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import { type Agent, type AgentAction, type EpisodeStart, episodeSuccess, type Transcript, type Turn, taskKind } from '../agent.js';
import { type Segment, headerSegments } from './chat.js';
import { buildContext } from './context.js';
import type { Policy, Sample } from './policy.js';

export interface ActingOptions {
  /** Sampling temperature; 0 is greedy. Default 1. */
  temperature?: number;
  /** Nucleus sampling mass. Default 1. */
  topP?: number;
  /** Seed of the sampling randomness. Default 0. */
  seed?: number;
}

/** Progress of a long phase (episodes played, steps taken): `done` of `total`, called at the start (0) and after each. */
export type OnProgress = (done: number, total: number) => void;

/** A turn played by a policy, with what a trainer needs: the context it saw and the sampled tokens. */
export interface PolicyTurn extends Turn {
  /** Context tokens the action was sampled from (ending with `<|action|>`). */
  context: number[];
  /** Sampled action tokens (with `<|end|>` when the policy wrote it). */
  tokens: number[];
  /** Log-prob of each sampled token (also in `logprobs`). */
  logprobs: number[];
  /** Entropy of each token's distribution. */
  entropies: number[];
}

export interface PolicyTranscript extends Transcript {
  turns: PolicyTurn[];
}

/** An episode's transcript so far, as segments, with the policy's own action tokens kept exactly. */
export class EpisodeContext {
  private readonly segments: Segment[];

  constructor(spec: EnvSpec, prompt: Observation) {
    this.segments = headerSegments(spec, prompt);
  }

  /**
   * Tokens to sample the next action from (ending with `<|action|>`), within `budget` tokens (default: room
   * for an action of the policy's `maxActionTokens`; a scorer that appends a longer continuation passes less).
   */
  context(policy: Policy, budget = policy.contextBudget): number[] {
    return buildContext(this.segments, policy.tokenizer, budget).tokens;
  }

  /** Records a sampled action (its tokens without `<|end|>`). */
  addAction(sample: Sample, policy: Policy): void {
    const end = policy.tokenizer.special('<|end|>');
    const tokens = sample.finished && sample.tokens[sample.tokens.length - 1] === end ? sample.tokens.slice(0, -1) : sample.tokens;
    this.segments.push({ role: 'action', text: sample.text, tokens });
  }

  /** Records the observation the action produced. */
  addObservation(observation: Observation): void {
    this.segments.push({ role: 'observation', text: observation.text });
  }
}

/** An Agent that acts with a policy: it renders the transcript, fits it to the context, and samples an action. */
export class PolicyAgent implements Agent {
  readonly name: string;
  private episode: EpisodeContext | undefined;
  private acted = false;
  private readonly rng: Rng;

  constructor(
    readonly policy: Policy,
    private readonly options: ActingOptions & { name?: string; disposeOnClose?: boolean } = {},
  ) {
    this.name = options.name ?? 'policy';
    this.rng = Rng.fromSeed(options.seed ?? 0);
  }

  start(episode: EpisodeStart): void {
    this.episode = new EpisodeContext(episode.spec, episode.observation);
    this.acted = false;
  }

  async act(observation: Observation, _info: ResetInfo | StepInfo): Promise<AgentAction> {
    if (!this.episode) throw new TurngymError('RESET_NEEDED', 'PolicyAgent.act called before start(): start an episode first.');
    if (this.acted) this.episode.addObservation(observation);
    const [sample] = this.policy.sample([this.episode.context(this.policy)], { temperature: this.options.temperature, topP: this.options.topP, rng: this.rng });
    this.episode.addAction(sample!, this.policy);
    this.acted = true;
    return { action: sample!.text, logprobs: sample!.logprobs };
  }

  /** Frees the policy's tensors when the agent owns it (`disposeOnClose`, as for checkpoint agents). */
  async close(): Promise<void> {
    if (this.options.disposeOnClose) this.policy.dispose();
  }
}

/**
 * Plays one episode per seed with `envs` running side by side (each takes the next seed when its episode
 * ends); every turn, the contexts of all running episodes are sampled in one batch. Returns transcripts in
 * seed order.
 */
export async function playEpisodes(
  policy: Policy,
  envs: readonly Env[],
  seeds: readonly number[],
  options: ActingOptions & { resetOptions?: Record<string, unknown>; onProgress?: OnProgress } = {},
): Promise<PolicyTranscript[]> {
  const rng = Rng.fromSeed(options.seed ?? 0);
  const transcripts: PolicyTranscript[] = new Array(seeds.length);
  let nextSeed = 0;
  let ended = 0;
  options.onProgress?.(0, seeds.length);
  interface Running {
    env: Env;
    index: number;
    context: EpisodeContext;
    transcript: PolicyTranscript;
  }
  const start = async (env: Env): Promise<Running | undefined> => {
    if (nextSeed >= seeds.length) return undefined;
    const index = nextSeed++;
    const reset = await env.reset({ seed: seeds[index], options: options.resetOptions });
    const transcript: PolicyTranscript = {
      env: env.spec.id,
      agent: 'policy',
      seed: reset.info.seed,
      ...taskKind(reset.info),
      prompt: reset.observation,
      turns: [],
      return: 0,
      success: false,
      terminated: false,
      truncated: false,
    };
    return { env, index, context: new EpisodeContext(env.spec, reset.observation), transcript };
  };
  let running = (await Promise.all(envs.map(start))).filter((entry): entry is Running => entry !== undefined);
  while (running.length > 0) {
    const contexts = running.map((entry) => entry.context.context(policy));
    const samples = policy.sample(contexts, { temperature: options.temperature, topP: options.topP, rng });
    const results: StepResult[] = await Promise.all(running.map((entry, i) => entry.env.step(samples[i]!.text)));
    const still: Running[] = [];
    for (let i = 0; i < running.length; i++) {
      const entry = running[i]!;
      const sample = samples[i]!;
      const result = results[i]!;
      entry.context.addAction(sample, policy);
      entry.context.addObservation(result.observation);
      entry.transcript.turns.push({
        action: sample.text,
        observation: result.observation,
        reward: result.reward,
        info: result.info,
        context: contexts[i]!,
        tokens: sample.tokens,
        logprobs: sample.logprobs,
        entropies: sample.entropies,
      });
      entry.transcript.return += result.reward;
      if (result.terminated || result.truncated) {
        Object.assign(entry.transcript, episodeSuccess(result));
        entry.transcript.terminated = result.terminated;
        entry.transcript.truncated = result.truncated;
        transcripts[entry.index] = entry.transcript;
        options.onProgress?.(++ended, seeds.length);
        const next = await start(entry.env);
        if (next) still.push(next);
      } else {
        still.push(entry);
      }
    }
    running = still;
  }
  return transcripts;
}

/**
 * The agent `turngym run --agent checkpoint:DIR` uses: initialises the fastest backend, loads the checkpoint,
 * and acts greedily unless a temperature is given. The agent owns the policy (closing it frees the weights).
 */
export async function checkpointAgent(directory: string, options: ActingOptions = {}): Promise<PolicyAgent> {
  const { initBackend } = await import('./backend.js');
  const { loadCheckpoint } = await import('./checkpoint.js');
  await initBackend('auto');
  const policy = await loadCheckpoint(directory);
  return new PolicyAgent(policy, { temperature: 0, ...options, name: `checkpoint:${directory}`, disposeOnClose: true });
}
