/**
 * Summarises training runs for docs/experiments.md: held-out success before/after, entropy at the start
 * and end, training success and format-error rate early and late, mean clip fraction, and the correlation between the logged
 * covariance at step t and the change of entropy from step t to t+1 (the Entropy-Mechanism paper's claim:
 * the entropy change tracks minus the covariance). With `--plots DIR --name NAME` it also draws the runs
 * overlaid (entropy, training success, covariance, horizon) as SVG files `DIR/NAME-<metric>.svg`.
 *
 *   npx tsx scripts/summarize-runs.ts runs/exp-entropy-none runs/exp-entropy-clip-cov runs/exp-entropy-kl-cov \
 *       --plots docs/experiments --name entropy
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { METRICS, type MetricsRecord } from '../src/rl/metrics.js';
import { PLOTS, renderPlot, seriesOf } from '../src/rl/plots.js';
import { readRun } from '../src/rl/run-directory.js';

/** Pearson correlation; NaN with fewer than three pairs. */
function pearson(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 3) return Number.NaN;
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

const format = (value: number | null | undefined, digits = 3) =>
  value === undefined || value === null || !Number.isFinite(value) ? '-' : value.toFixed(digits);

/** Pairs (cov_t, H_{t+1} - H_t) over consecutive steps of one run. */
function covarianceAndEntropyChange(records: readonly MetricsRecord[]): { cov: number[]; delta: number[] } {
  const cov: number[] = [];
  const delta: number[] = [];
  for (let t = 0; t + 1 < records.length; t++) {
    const c = records[t]![METRICS.covMean];
    const h0 = records[t]![METRICS.entropy];
    const h1 = records[t + 1]![METRICS.entropy];
    if ([c, h0, h1].every((v) => typeof v === 'number' && Number.isFinite(v))) {
      cov.push(c!);
      delta.push(h1! - h0!);
    }
  }
  return { cov, delta };
}

const args = process.argv.slice(2);
const option = (name: string) => {
  const index = args.indexOf(name);
  if (index < 0) return undefined;
  const [value] = args.splice(index, 2).slice(1);
  return value;
};
const plotDirectory = option('--plots');
const plotName = option('--name') ?? 'runs';
const runDirectories = args;

const rows = [
  '| run | held-out before | held-out after | entropy first → last | train success first 5 → last 5 | format errors first 5 → last 5 | clip frac | corr(cov_t, ΔH_t) | steps | s/step |',
  '|---|---|---|---|---|---|---|---|---|---|',
];
const pooled = { cov: [] as number[], delta: [] as number[] };
const runs: { name: string; records: MetricsRecord[] }[] = [];
for (const directory of runDirectories) {
  const { metrics: records, evaluation = {} } = readRun(directory);
  runs.push({ name: basename(directory), records });
  const series = (name: string) =>
    records.map((record) => record[name]).filter((value): value is number => typeof value === 'number');
  const entropy = series(METRICS.entropy);
  const success = series(METRICS.successRate);
  const formatErrors = series(METRICS.formatErrors);
  const { cov, delta } = covarianceAndEntropyChange(records);
  pooled.cov.push(...cov);
  pooled.delta.push(...delta);
  rows.push(
    `| ${basename(directory)} | ${format(evaluation.before?.success_rate)} | ${format(evaluation.after?.success_rate)} | ${format(entropy[0])} → ${format(entropy[entropy.length - 1])} | ${format(mean(success.slice(0, 5)))} → ${format(mean(success.slice(-5)))} | ${format(mean(formatErrors.slice(0, 5)))} → ${format(mean(formatErrors.slice(-5)))} | ${format(mean(series(METRICS.clipFraction)), 4)} | ${format(pearson(cov, delta), 2)} (n=${cov.length}) | ${records.length} | ${format(mean(series(METRICS.timeStep)), 1)} |`,
  );
}
console.log(rows.join('\n'));
console.log(
  `\npooled corr(cov_t, ΔH_t) over all runs: ${format(pearson(pooled.cov, pooled.delta), 3)} (n=${pooled.cov.length})`,
);

if (plotDirectory) {
  mkdirSync(plotDirectory, { recursive: true });
  const names = runs.map((run) => run.name);
  for (const metric of [
    METRICS.entropy,
    METRICS.successRate,
    METRICS.covMean,
    METRICS.maxTurns,
    METRICS.informationGain,
  ]) {
    const definition = PLOTS.find((plot) => plot.metric === metric)!;
    const series = runs
      .map((run) => seriesOf(run.name, run.records, metric))
      .filter((entry) => entry.points.length > 0);
    if (series.length === 0) continue;
    const path = join(plotDirectory, `${plotName}-${definition.id.replace(/^plot-/, '')}.svg`);
    writeFileSync(path, await renderPlot(definition, series, names));
    console.log(`wrote ${path}`);
  }
}
