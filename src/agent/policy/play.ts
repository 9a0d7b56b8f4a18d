/**
 * Playing episodes with a policy: `PolicyActor` (the episode player's actor: one batched sampling call per
 * turn for every running episode; held-out evaluation and RL rollouts), `PolicyAgent` (one episode at a time,
 * the Agent interface, what `turngym run --agent checkpoint:DIR` uses), and `EpisodeContext`, the transcript
 * both render for the policy.
 */
import type { EnvSpec, Observation, ResetInfo, StepInfo, StepResult } from '../../envs/env.js';
import { TurngymError } from '../../core/errors.js';
import { Rng } from '../../core/rng.js';
import type { Agent, AgentAction, EpisodeStart } from '../agent.js';
import type { Actor, Decision, Episode, Turn } from '../player.js';
import { type Segment, headerSegments, policySegments } from './chat.js';
import { buildContext } from './context.js';
import type { Policy, Sample, SampleOptions } from './policy.js';

export type { OnProgress } from '../player.js';

export interface ActingOptions {
  /** Sampling temperature; 0 is greedy. Default 1. */
  temperature?: number;
  /** Nucleus sampling mass. Default 1. */
  topP?: number;
  /** Seed of the sampling randomness. Default 0. */
  seed?: number;
}

/** A turn played by a policy, with what a trainer needs: the context it saw and the sampled tokens. */
export interface PolicyTurn extends Turn {
  /** The action as the policy wrote it. */
  action: string;
  /** Context tokens the action was sampled from (ending with `<|action|>`). */
  context: number[];
  /** Sampled action tokens (with `<|end|>` when the policy wrote it). */
  tokens: number[];
  /** Log-prob of each sampled token. */
  logprobs: number[];
  /** Entropy of each token's distribution. */
  entropies: number[];
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
    return buildContext(policySegments(policy, this.segments), policy.tokenizer, budget).tokens;
  }

  /** Records a sampled action (its tokens without `<|end|>`). */
  addAction(sample: Sample, policy: Policy): void {
    const end = policy.tokenizer.special('<|end|>');
    const tokens =
      sample.finished && sample.tokens[sample.tokens.length - 1] === end ? sample.tokens.slice(0, -1) : sample.tokens;
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
    if (!this.episode)
      throw new TurngymError('RESET_NEEDED', 'PolicyAgent.act called before start(): start an episode first.');
    if (this.acted) this.episode.addObservation(observation);
    const [sample] = this.policy.sample([this.episode.context(this.policy)], {
      temperature: this.options.temperature,
      topP: this.options.topP,
      rng: this.rng,
    });
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
 * The policy as the episode player's actor: each turn, the contexts of every running episode are sampled in
 * one batch (`Policy.sample` with `sampling`: temperature, top-p, most tokens, batch size, random stream).
 */
export class PolicyActor implements Actor<PolicyTurn> {
  readonly name = 'policy';
  /** Action tokens sampled so far (those of steps that then failed included). */
  sampledTokens = 0;
  private readonly contexts: EpisodeContext[] = [];

  constructor(
    readonly policy: Policy,
    private readonly sampling: SampleOptions = {},
  ) {}

  /** The transcript the policy sees of a running episode (e.g. to score a continuation after it). */
  context(episode: Episode<PolicyTurn>): EpisodeContext {
    return this.contexts[episode.slot]!;
  }

  start(episode: Episode<PolicyTurn>): void {
    this.contexts[episode.slot] = new EpisodeContext(episode.env.spec, episode.observation);
  }

  act(episodes: readonly Episode<PolicyTurn>[]): Decision<PolicyTurn>[] {
    const contexts = episodes.map((episode) => this.context(episode).context(this.policy));
    const samples = this.policy.sample(contexts, this.sampling);
    return samples.map((sample, i) => {
      this.sampledTokens += sample.tokens.length;
      this.context(episodes[i]!).addAction(sample, this.policy);
      return {
        action: sample.text,
        logprobs: sample.logprobs,
        fields: { context: contexts[i]!, tokens: sample.tokens, entropies: sample.entropies },
      };
    });
  }

  observe(episode: Episode<PolicyTurn>, result: StepResult): void {
    this.context(episode).addObservation(result.observation);
  }
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
