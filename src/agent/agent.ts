/**
 * The Agent interface: an observation in, an action out (with token log-probs when the agent has them),
 * `runEpisode`, which plays one episode of an env with an agent (through the episode player, player.ts) and
 * keeps the transcript, and `runEpisodes`, which plays many on several envs side by side.
 */
import type { Action, Env, EnvSpec, Observation, Oracle, ResetInfo, ResetOptions, StepInfo } from '../envs/env.js';
import { TurngymError } from '../core/errors.js';
import { type Actor, playEpisodes, type PlayOptions, type Transcript } from './player.js';

export { episodeSuccess, taskKind, type Transcript, type Turn } from './player.js';

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

/** Plays one episode to its end (terminated or truncated) and returns the transcript. */
export async function runEpisode(env: Env, agent: Agent, options: ResetOptions = {}): Promise<Transcript> {
  return (await runEpisodes([env], [agent], [options]))[0]!;
}

/**
 * Plays `episodes` (each the options of its reset) on `envs` side by side, env i's episodes with `agents[i]`
 * (an agent holds one episode's state at a time; the agents are alike, and transcripts carry the first one's
 * name), and returns their transcripts in the order of `episodes`.
 * Envs whose work happens elsewhere (a web env's browser, a remote server) then work at the same time.
 */
export async function runEpisodes(
  envs: readonly Env[],
  agents: readonly Agent[],
  episodes: readonly ResetOptions[],
  options: Pick<PlayOptions, 'onProgress'> = {},
): Promise<Transcript[]> {
  if (agents.length !== envs.length || (envs.length === 0 && episodes.length > 0))
    throw new TurngymError(
      'INVALID_OPTIONS',
      `runEpisodes needs at least one env and one agent an env: ${agents.length} agents for ${envs.length} envs`,
    );
  return (await playEpisodes(envs, episodes, agentsActor(agents), options)).transcripts;
}

/** Agents as the player's actor, the agent of an env's slot deciding its episodes. */
function agentsActor(agents: readonly Agent[]): Actor {
  return {
    name: agents[0]?.name ?? 'agent',
    async start({ env, slot, observation, info }) {
      const agent = agents[slot]!;
      // Before its first turn, an episode's info is its reset's.
      await agent.start?.({
        spec: env.spec,
        observation,
        info: info as ResetInfo,
        oracle: agent.privileged && env.oracle ? env.oracle() : undefined,
      });
    },
    act: (episodes) =>
      Promise.all(episodes.map((episode) => agents[episode.slot]!.act(episode.observation, episode.info))),
  };
}

/** Renders a transcript as plain text (what `turngym run` prints). */
export function formatTranscript(transcript: Transcript): string {
  const lines = [
    `=== ${transcript.env} · seed ${transcript.seed} · agent ${transcript.agent}`,
    `[task] ${transcript.prompt.text}`,
  ];
  transcript.turns.forEach((turn, index) => {
    const action =
      typeof turn.action === 'string' ? turn.action : `${turn.action.tool}(${JSON.stringify(turn.action.args)})`;
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
