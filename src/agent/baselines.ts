/**
 * Baseline agents: `oracle` plays the task suite's reference solution (privileged), `random` calls a random
 * tool with random arguments drawn from the tool's schema (a floor for any learner).
 */
import type { z } from 'zod';
import type { Observation, Oracle, ResetInfo, StepInfo, ToolSpec } from '../envs/env.js';
import { TurngymError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { Agent, AgentAction, EpisodeStart } from './agent.js';

/** Plays the reference solution of each episode. Needs an env with an oracle. */
export class OracleAgent implements Agent {
  readonly name = 'oracle';
  readonly privileged = true;
  private oracle: Oracle | undefined;

  start(episode: EpisodeStart): void {
    if (!episode.oracle)
      throw new TurngymError('NOT_SUPPORTED', `${episode.spec.id} has no oracle, so the oracle agent cannot play it.`);
    this.oracle = episode.oracle;
  }

  async act(observation: Observation, info: ResetInfo | StepInfo): Promise<AgentAction> {
    if (!this.oracle) throw new TurngymError('RESET_NEEDED', 'OracleAgent.act called before start()');
    return { action: await this.oracle.next(observation, info) };
  }
}

/** Calls a uniformly random tool with arguments sampled from its schema. Seeded. */
export class RandomAgent implements Agent {
  readonly name = 'random';
  private tools: ToolSpec[] = [];
  private readonly rng: Rng;

  constructor(seed = 0) {
    this.rng = Rng.fromSeed(seed);
  }

  start(episode: EpisodeStart): void {
    this.tools = episode.spec.tools;
  }

  async act(): Promise<AgentAction> {
    const tool = this.rng.pick(this.tools);
    const args: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(tool.parameters.shape as Record<string, z.ZodType>)) {
      args[key] = sampleValue(field, this.rng, 0);
    }
    return { action: { tool: tool.name, args } };
  }
}

const WORDS = ['a', 'the', 'city', 'red', '42', 'name', 'river', 'x', 'blue', 'search'];

/** A random value of a zod type's shape (numbers respect min/max checks where present). */
function sampleValue(schema: z.ZodType, rng: Rng, depth: number): unknown {
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
  const inner = def.innerType as z.ZodType | undefined;
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'nullable':
    case 'prefault':
      return sampleValue(inner!, rng, depth);
    case 'number': {
      const bag = (schema as unknown as { _zod: { bag: { minimum?: number; maximum?: number } } })._zod.bag;
      const low = Number.isFinite(bag.minimum) ? bag.minimum! : 0;
      const high = Number.isFinite(bag.maximum) ? bag.maximum! : low + 100;
      return rng.int(Math.ceil(low), Math.floor(Math.max(low, Math.min(high, low + 10_000))));
    }
    case 'boolean':
      return rng.chance(0.5);
    case 'enum':
      return rng.pick(Object.values(def.entries as Record<string, string>));
    case 'literal':
      return (def.values as unknown[])[0];
    case 'array':
      return depth > 2 ? [] : [sampleValue(def.element as z.ZodType, rng, depth + 1)];
    case 'string':
    default:
      return Array.from({ length: rng.int(1, 3) }, () => rng.pick(WORDS)).join(' ');
  }
}

/** Builds a baseline agent by name (`oracle`, `random`); undefined for other names. */
export function baselineAgent(name: string, seed = 0): Agent | undefined {
  if (name === 'oracle') return new OracleAgent();
  if (name === 'random') return new RandomAgent(seed);
  return undefined;
}
