/**
 * The paired comparison of two `turngym eval --record FILE` files of the same tasks (matched by seed), as
 * `eval --baseline` prints it: for two policies evaluated by different code, e.g. a checkpoint of an older env
 * against a newer one on the same seeds (docs/experiments.md, section 35). Prints JSON: each file's success
 * rate, the tasks solved by the first only and by the second only, and the exact sign test.
 *
 *   npx tsx scripts/pair-records.ts runs/p39d/whole-s0-eval200.jsonl runs/p39c/mid-s0-eval200.jsonl
 */
import { readFileSync } from 'node:fs';
import { comparePaired, type EpisodeOutcome } from '../src/agent/policy/paired.js';

interface RecordedEpisode {
  seed: number;
  steps: { result: { info: { episode?: { success?: boolean; return?: number } } } }[];
}

function outcomesBySeed(path: string): Map<number, EpisodeOutcome> {
  const outcomes = new Map<number, EpisodeOutcome>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const episode = JSON.parse(line) as RecordedEpisode;
    const end = episode.steps.at(-1)?.result.info.episode;
    outcomes.set(episode.seed, { success: end?.success === true, return: end?.return ?? 0 });
  }
  return outcomes;
}

const [first, second] = process.argv.slice(2);
if (!first || !second) {
  console.error('usage: npx tsx scripts/pair-records.ts FIRST.jsonl SECOND.jsonl (two eval --record files)');
  process.exit(2);
}
const [a, b] = [outcomesBySeed(first), outcomesBySeed(second)];
const seeds = [...a.keys()].filter((seed) => b.has(seed)).sort((x, y) => x - y);
const rate = (outcomes: Map<number, EpisodeOutcome>) =>
  seeds.filter((seed) => outcomes.get(seed)!.success).length / Math.max(1, seeds.length);
const paired = comparePaired(
  seeds.map((seed) => a.get(seed)!),
  seeds.map((seed) => b.get(seed)!),
);
console.log(JSON.stringify({ success: [rate(a), rate(b)], ...paired }, null, 2));
