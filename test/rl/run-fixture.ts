/**
 * Realistic run directories for tests of the report, the CLI and the exporter: metrics.jsonl with the
 * trainer's metric names over ~50 steps (a scaling-inter horizon, entropy that decays, success that
 * rises), trajectories.jsonl of multi-hop search episodes with IGPO values, config.json and eval.json.
 * Values come from a seeded Rng, so a fixture is the same on every run.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/core/rng.js';
import { horizonAt } from '../../src/rl/curriculum.js';
import { METRICS, MetricsWriter } from '../../src/rl/metrics.js';
import type { TrajectoryRecord, TrajectoryTurn } from '../../src/rl/trajectories.js';

export interface FixtureOptions {
  steps?: number;
  seed?: number;
  /** How fast success improves (1 = a good run, 0 = it learns nothing). */
  learning?: number;
  /** Leave these files out. */
  without?: ('config' | 'metrics' | 'trajectories' | 'eval' | 'checkpoints')[];
}

export const FIXTURE_ENV = 'search/multihop-v0';
export const FIXTURE_TOOLS = [
  {
    name: 'search',
    description: 'search(query: string, k?: number): the top k passages (default 3) for a BM25 query.',
  },
  { name: 'open', description: 'open(id: string): the full text of a passage.' },
  { name: 'answer', description: 'answer(text: string): submit the final answer; ends the episode.' },
];

/** A new temp directory for a test's runs (under the OS temp dir). */
export function fixtureRoot(): string {
  return mkdtempSync(join(tmpdir(), 'turngym-report-'));
}

/** Writes a run directory `root/name` and returns its path. */
export function writeFixtureRun(root: string, name: string, options: FixtureOptions = {}): string {
  const { steps = 50, seed = 1, learning = 1, without = [] } = options;
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const rng = Rng.fromSeed(seed);
  const curriculum = { kind: 'scaling-inter' as const, stages: [5, 8, 10], every: 20 };
  const noise = (scale: number) => (rng.float() - 0.5) * 2 * scale;

  if (!without.includes('config')) {
    const config = {
      env: FIXTURE_ENV,
      preset: 'quickstart',
      seed,
      steps,
      groupSize: 4,
      tasksPerStep: 4,
      learningRate: 3e-4,
      advantage: 'igpo',
      gamma: 1,
      entropyControl: { kind: 'clip-cov', ratio: 2e-4, lowerBound: 1, upperBound: 5 },
      curriculum,
      policy: { layers: 2, heads: 4, width: 128, vocabulary: 'fitted' },
    };
    writeFileSync(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  }

  if (!without.includes('metrics')) {
    const writer = new MetricsWriter(join(dir, 'metrics.jsonl'));
    for (let step = 0; step < steps; step++) {
      const progress = step / Math.max(1, steps - 1);
      const success = Math.min(1, Math.max(0, 0.15 + 0.55 * learning * (1 - Math.exp(-3 * progress)) + noise(0.08)));
      const record: Record<string, number> = {
        step,
        time: 4.2 * (step + 1) + noise(0.5),
        [METRICS.successRate]: success,
        [METRICS.episodicReturn]: success + noise(0.05),
        [METRICS.entropy]: 1.6 * Math.exp(-1.2 * progress) + 0.3 + noise(0.04),
        [METRICS.covMean]: 0.02 * Math.exp(-2 * progress) + noise(0.004),
        [METRICS.covMax]: 2.5 + noise(0.5),
        [METRICS.clipFraction]: 0.0002 + Math.abs(noise(0.0001)),
        [METRICS.ppoKl]: 0.004 + Math.abs(noise(0.002)),
        [METRICS.policyLoss]: noise(0.1),
        [METRICS.gradNorm]: 0.8 + noise(0.2),
        [METRICS.maxTurns]: horizonAt(curriculum, step),
        [METRICS.turnsMean]: Math.min(horizonAt(curriculum, step), 2.5 + 2 * progress + noise(0.3)),
        [METRICS.informationGain]: 0.03 + 0.05 * progress + noise(0.01),
        [METRICS.formatErrors]: Math.max(0, 0.2 * (1 - progress) + noise(0.03)),
        [METRICS.tokensPerSecond]: 950 + noise(60),
        [METRICS.envStepsPerSecond]: 40 + noise(5),
        [METRICS.timeStep]: 4.2 + noise(0.5),
      };
      if (step % 10 === 9 || step === steps - 1) record[METRICS.evalSuccessRate] = Math.min(1, success + noise(0.05));
      writer.write(record as never);
    }
  }

  if (!without.includes('trajectories')) {
    const lines: string[] = [];
    for (const step of [-1, 0, Math.floor(steps / 2), steps - 1]) {
      for (let group = 0; group < 2; group++) {
        for (let member = 0; member < 2; member++)
          lines.push(JSON.stringify(trajectory(rng, step, group, member, horizonAt(curriculum, Math.max(0, step)))));
      }
    }
    writeFileSync(join(dir, 'trajectories.jsonl'), `${lines.join('\n')}\n`);
  }

  if (!without.includes('eval')) {
    const evaluation = {
      before: { success_rate: 0.125, mean_return: 0.125, mean_turns: 3.4, episodes: 32 },
      after: { success_rate: 0.125 + 0.5 * learning, mean_return: 0.1 + 0.5 * learning, mean_turns: 4.1, episodes: 32 },
      paired: {
        episodes: 32,
        solved_newly: Math.round(17 * learning),
        solved_no_longer: Math.round(learning),
        success_p: learning === 1 ? 0.00027 : 1,
        return_higher: 18,
        return_lower: 2,
        return_p: 0.0004,
      },
    };
    writeFileSync(join(dir, 'eval.json'), `${JSON.stringify(evaluation, null, 2)}\n`);
  }

  if (!without.includes('checkpoints')) {
    mkdirSync(join(dir, 'checkpoints', `step-${steps}`), { recursive: true });
    writeFileSync(join(dir, 'checkpoints', `step-${steps}`, 'model.json'), '{}');
  }
  return dir;
}

const CITIES = [
  { person: 'Ada Brennan', company: 'Northwind Optics', city: 'Tallinn' },
  { person: 'Jonas Varga', company: 'Kestrel Motors', city: 'Porto' },
  { person: 'Mira Okafor', company: 'Bluefin Analytics', city: 'Ghent' },
];

function trajectory(rng: Rng, step: number, group: number, member: number, maxTurns: number): TrajectoryRecord {
  const fact = CITIES[(group + Math.max(0, step)) % CITIES.length]!;
  const success = rng.chance(step < 0 ? 0.2 : 0.3 + step / 80);
  const turns: TrajectoryTurn[] = [];
  let probability = 0.08 + rng.float() * 0.05;
  const initial = probability;
  const step1 = (action: string, observation: string, extra: Partial<TrajectoryTurn> = {}) => {
    const next = Math.min(0.97, Math.max(0.01, probability + (rng.float() - 0.25) * 0.3));
    turns.push({
      action,
      observation,
      reward: 0,
      format: 0,
      answer_probability: next,
      information_gain: next - probability,
      advantage: (rng.float() - 0.4) * 1.5,
      ...extra,
    });
    probability = next;
  };
  step1(
    `search("who founded ${fact.company}")`,
    `[1] ${fact.company} was founded in 2004 by ${fact.person}, an engineer.\n[2] ${fact.company} makes lenses for microscopes.\n[3] Optics firms in the Baltics grew in the 2000s.`,
  );
  if (member === 1)
    step1('serch("x")', "Unknown tool 'serch'. Use one of: search(query, k?), open(id), answer(text).", {
      format: -0.5,
      error: 'UNKNOWN_TOOL',
    });
  step1(
    `search("${fact.person} born")`,
    `[1] ${fact.person} (born 1971 in ${fact.city}) is a physicist <b>and</b> entrepreneur.\n[2] Unrelated passage about shipping.`,
  );
  const answer = success ? fact.city : 'Riga';
  turns.push({
    action: `answer("${answer}")`,
    observation: success ? 'Correct.' : `Wrong: '${answer}' is not the answer.`,
    reward: success ? 1 : 0,
    format: 0,
    answer_probability: success ? 0.92 : probability,
    information_gain: (success ? 0.92 : probability) - probability,
    advantage: success ? 1.2 : -0.8,
  });
  return {
    step,
    env: FIXTURE_ENV,
    seed: 1000 + 10 * Math.max(0, step) + group,
    group,
    prompt: `Answer the question using the search tools. In which city was the founder of ${fact.company} born?`,
    tools: FIXTURE_TOOLS,
    initial_answer_probability: initial,
    turns,
    outcome: success ? 1 : 0,
    success,
    return: turns.reduce((sum, turn) => sum + turn.reward, 0),
    truncated: false,
    max_turns: maxTurns,
  };
}
