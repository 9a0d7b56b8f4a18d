/**
 * Builds an agent from its command-line name (`turngym run --agent`): `oracle` and `random` (baselines.ts),
 * `ws://HOST:PORT` (a remote agent, remote/agent.ts), `openai:MODEL` (remote/openai.ts) and `checkpoint:DIR`
 * (a trained policy, policy/play.ts). The last three are imported only when named.
 */
import { TurngymError } from '../core/errors.js';
import type { Agent } from './agent.js';
import { baselineAgent } from './baselines.js';

export interface AgentOptions {
  /** Seed of the agent's own randomness. */
  seed?: number;
  /** `openai:MODEL`: the endpoint root (default https://api.openai.com/v1). */
  baseUrl?: string;
  /** `openai:MODEL`: the API key (the CLI reads $TURNGYM_API_KEY, then $OPENAI_API_KEY). */
  apiKey?: string;
  /**
   * Remote agents: how long (ms) to wait for each action (`ws://`: each act; `openai:`: each request, which a
   * timeout retries). [default 120000 for ws://, 60000 for openai:] An agent that runs in this process refuses it.
   */
  timeoutMs?: number;
}

/** Names and forms `createAgent` accepts, for help texts. */
export const AGENT_FORMS = ['oracle', 'random', 'ws://HOST:PORT', 'openai:MODEL', 'checkpoint:DIR'];

/** Creates an agent from a name such as `oracle` or `random`. */
export async function createAgent(name: string, options: AgentOptions = {}): Promise<Agent> {
  const websocket = /^wss?:\/\//.test(name);
  if (options.timeoutMs !== undefined && !websocket && !name.startsWith('openai:')) {
    throw new TurngymError(
      'INVALID_OPTIONS',
      `An agent timeout (--agent-timeout) is for remote agents (ws://HOST:PORT, openai:MODEL); '${name}' runs in this process.`,
    );
  }
  const baseline = baselineAgent(name, options.seed ?? 0);
  if (baseline) return baseline;
  if (websocket)
    return (await import('./remote/agent.js')).RemoteAgent.connect(name, { actTimeoutMs: options.timeoutMs });
  if (name.startsWith('checkpoint:'))
    return (await import('./policy/play.js')).checkpointAgent(name.slice('checkpoint:'.length), { seed: options.seed });
  if (name.startsWith('openai:')) {
    const { OpenAIAgent } = await import('./remote/openai.js');
    return new OpenAIAgent({
      model: name.slice('openai:'.length),
      baseUrl: options.baseUrl,
      apiKey: options.apiKey,
      timeoutMs: options.timeoutMs,
    });
  }
  throw new TurngymError('INVALID_OPTIONS', `Unknown agent '${name}'. Use one of: ${AGENT_FORMS.join(', ')}.`);
}
