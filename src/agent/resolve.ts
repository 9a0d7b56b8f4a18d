/**
 * Builds an agent from its command-line name: `oracle`, `random` (and the policy / remote agents that
 * their modules add to this list).
 */
import { TurngymError } from '../envs/errors.js';
import type { Agent } from './agent.js';
import { baselineAgent } from './baselines.js';

export interface AgentOptions {
  /** Seed of the agent's own randomness. */
  seed?: number;
}

/** Names and forms `createAgent` accepts, for help texts. */
export const AGENT_FORMS = ['oracle', 'random'];

/** Creates an agent from a name such as `oracle` or `random`. */
export async function createAgent(name: string, options: AgentOptions = {}): Promise<Agent> {
  const baseline = baselineAgent(name, options.seed ?? 0);
  if (baseline) return baseline;
  throw new TurngymError('INVALID_OPTIONS', `Unknown agent '${name}'. Use one of: ${AGENT_FORMS.join(', ')}.`);
}
