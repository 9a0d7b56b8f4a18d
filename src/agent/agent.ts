/**
 * The Agent interface: an observation in, an action out (with token log-probs when the agent has them),
 * and `runEpisode`, which plays one episode of an env with an agent and keeps the transcript.
 */
import type { Action, Env, EnvSpec, Observation, Oracle, ResetInfo, ResetOptions, StepInfo, StepResult } from '../envs/env.js';

/** What an agent returns for one turn. */
export interface AgentAction {
  action: Action;
  /** Per-token log-probabilities of the action's tokens, when the agent samples from a model. */
  logprobs?: number[];
  /** Token usage of a model call (remote LLM agents). */
  usage?: { promptTokens: number; completionTokens: number };
}

/** Everything an agent is told when an episode starts. */
export interface EpisodeStart {
  spec: EnvSpec;
  observation: Observation;
  info: ResetInfo;
  /** Only for agents that declare `privileged`: the episode's reference-solution player. */
  oracle?: Oracle;
}

export interface Agent {
  readonly name: string;
  /** Privileged agents (the oracle) receive the episode's oracle. No learning agent may be privileged. */
  readonly privileged?: boolean;
  /** Called once per episode, before the first `act`. */
  start?(episode: EpisodeStart): void | Promise<void>;
  act(observation: Observation, info: ResetInfo | StepInfo): Promise<AgentAction>;
  /** Frees resources (connections, models). */
  close?(): Promise<void>;
}

/** One turn of a transcript. */
export interface Turn {
  action: Action;
  logprobs?: number[];
  observation: Observation;
  reward: number;
  info: StepInfo;
}

/** A played episode. */
export interface Transcript {
  env: string;
  agent: string;
  seed: number;
  /** The task's kind and variant, when the env reports them (`reset`'s `info.kind` / `info.variant`). */
  kind?: string;
  variant?: string;
  prompt: Observation;
  turns: Turn[];
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
  return { success: last.info.success === true, ...(last.terminated && typeof last.info.success !== 'boolean' ? { unscored: true as const } : {}) };
}

/**
 * The share of episodes solved, or null when it is unknown: some episode ended its task without saying
 * whether it was solved (see {@link episodeSuccess}), as every episode of an env that never sets
 * `info.success` does. Counting such episodes as failures would report 0 for an env that may solve them all.
 */
export function successRate(episodes: readonly { success: boolean; unscored?: true }[]): number | null {
  if (episodes.some((episode) => episode.unscored)) return null;
  return episodes.reduce((sum, episode) => sum + (episode.success ? 1 : 0), 0) / Math.max(1, episodes.length);
}

/** A success rate as text: three decimals, or `n/a (info.success not set)` when it is unknown. */
export function formatSuccessRate(rate: number | null | undefined): string {
  return typeof rate === 'number' ? rate.toFixed(3) : 'n/a (info.success not set)';
}

/** The task's kind and variant from `reset`'s info, where they are strings (a remote env may send anything). */
export function taskKind(info: ResetInfo): Pick<Transcript, 'kind' | 'variant'> {
  return {
    ...(typeof info.kind === 'string' ? { kind: info.kind } : {}),
    ...(typeof info.variant === 'string' ? { variant: info.variant } : {}),
  };
}

/** Plays one episode to its end (terminated or truncated) and returns the transcript. */
export async function runEpisode(env: Env, agent: Agent, options: ResetOptions = {}): Promise<Transcript> {
  const reset = await env.reset(options);
  await agent.start?.({
    spec: env.spec,
    observation: reset.observation,
    info: reset.info,
    oracle: agent.privileged && env.oracle ? env.oracle() : undefined,
  });
  const turns: Turn[] = [];
  let observation = reset.observation;
  let info: ResetInfo | StepInfo = reset.info;
  let last: StepResult | undefined;
  let usage: Transcript['usage'];
  for (;;) {
    const decision = await agent.act(observation, info);
    if (decision.usage) {
      usage ??= { promptTokens: 0, completionTokens: 0 };
      usage.promptTokens += decision.usage.promptTokens;
      usage.completionTokens += decision.usage.completionTokens;
    }
    last = await env.step(decision.action);
    turns.push({ action: decision.action, logprobs: decision.logprobs, observation: last.observation, reward: last.reward, info: last.info });
    observation = last.observation;
    info = last.info;
    if (last.terminated || last.truncated) break;
  }
  return {
    env: env.spec.id,
    agent: agent.name,
    seed: reset.info.seed,
    ...taskKind(reset.info),
    prompt: reset.observation,
    turns,
    return: turns.reduce((sum, turn) => sum + turn.reward, 0),
    ...episodeSuccess(last),
    terminated: last.terminated,
    truncated: last.truncated,
    ...(usage ? { usage } : {}),
  };
}

/** Renders a transcript as plain text (what `turngym run` prints). */
export function formatTranscript(transcript: Transcript): string {
  const lines = [`=== ${transcript.env} · seed ${transcript.seed} · agent ${transcript.agent}`, `[task] ${transcript.prompt.text}`];
  transcript.turns.forEach((turn, index) => {
    const action = typeof turn.action === 'string' ? turn.action : `${turn.action.tool}(${JSON.stringify(turn.action.args)})`;
    lines.push(`[${index + 1}] > ${action}`);
    lines.push(indent(turn.observation.text) + (turn.reward !== 0 ? `   (reward ${round(turn.reward)})` : ''));
  });
  const ending = transcript.terminated ? 'terminated' : 'truncated';
  const outcome = transcript.unscored ? 'ended (info.success not set)' : transcript.success ? 'success' : 'failure';
  lines.push(`=== ${outcome} · return ${round(transcript.return)} · ${transcript.turns.length} turns · ${ending}`);
  return lines.join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
