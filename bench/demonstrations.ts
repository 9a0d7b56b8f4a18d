/**
 * `turngym bench demonstrations`: oracle demonstrations (what behaviour cloning and the trainer's warm start
 * play first) on one env against {@link DEMONSTRATION_ENVS} envs side by side (`collectDemonstrations`), for a
 * web env in a real Chromium and for the quickstart's search env (in process, where side by side can only
 * interleave). Rounds alternate between the two so that load from other work hits both alike; each round plays
 * new seeds (a page or a world seen before could be cached); figures are medians over rounds, and their ratio.
 */
import { collectDemonstrations, DEMONSTRATION_ENVS } from '../src/agent/policy/sft.js';
import type { Env } from '../src/envs/env.js';
import { make } from '../src/envs/registry.js';
import { median, now, round } from './stats.js';
import '../src/envs/builtin.js';

const SETTINGS: readonly { id: string; kwargs: Record<string, unknown> }[] = [
  { id: 'web/forms-v0', kwargs: { difficulty: 1 } },
  { id: 'search/multihop-v0', kwargs: { size: 40, worlds: 100_000, results: 3, snippetChars: 120, difficulty: 1 } },
];

export interface DemonstrationBenchOptions {
  /** Demonstrations per round and side (default 200). */
  episodes?: number;
  /** Rounds per side, alternating (default 3). */
  rounds?: number;
}

export async function runDemonstrationBench(options: DemonstrationBenchOptions = {}) {
  const episodes = options.episodes ?? 200;
  const rounds = options.rounds ?? 3;
  const results: Record<string, unknown>[] = [];
  for (const { id, kwargs } of SETTINGS) {
    const envs: Env[] = [];
    try {
      for (let i = 0; i < DEMONSTRATION_ENVS; i++) envs.push(await make(id, kwargs));
      let seed = 0;
      const rate = async (players: readonly Env[]) => {
        const seeds = Array.from({ length: episodes }, () => seed++);
        const start = now();
        const transcripts = await collectDemonstrations(players, seeds);
        const seconds = (now() - start) / 1000;
        if (transcripts.some((transcript) => !transcript.success))
          throw new Error(`${id}: an oracle demonstration failed`);
        return episodes / seconds;
      };
      await rate(envs); // warm-up: the browser's launch, the JIT
      const one: number[] = [];
      const side: number[] = [];
      for (let r = 0; r < rounds; r++) {
        one.push(await rate(envs.slice(0, 1)));
        side.push(await rate(envs));
      }
      results.push({
        env: id,
        kwargs,
        one_env_episodes_per_s: round(median(one), 2),
        side_by_side_episodes_per_s: round(median(side), 2),
        ratio: round(median(side) / median(one), 2),
      });
    } finally {
      await Promise.all(envs.map((env) => env.close()));
    }
  }
  return { benchmark: 'demonstrations', envs_side_by_side: DEMONSTRATION_ENVS, episodes, rounds, results };
}
