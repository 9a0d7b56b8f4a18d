/**
 * Training-curve plots for the run report, rendered to SVG text at generation time with vega-lite and
 * vega (no canvas, no browser, no network), so report.html works offline and shows its plots without
 * running any script.
 */
import { METRICS, type MetricsRecord } from './metrics.js';

/** What one plot shows. */
export interface PlotDefinition {
  /** HTML id of the plot's figure, e.g. `plot-success-rate`. */
  id: string;
  title: string;
  /** The metric name in metrics.jsonl. */
  metric: string;
  /** One sentence under the plot saying what it measures. */
  caption: string;
  /** Values are fractions in [0, 1], shown as percentages. */
  fraction?: boolean;
  /** Draw a smoothed curve over the faded raw values (noisy per-step metrics). */
  smooth?: boolean;
  /** Draw the values as steps (schedules that change in stages). */
  stepwise?: boolean;
  /** Also plot this value of eval.json's `before` (at step 0) and `after` (at the last step). */
  evaluation?: 'success_rate';
}

/** The report's plots, in order. */
export const PLOTS: readonly PlotDefinition[] = [
  {
    id: 'plot-success-rate',
    title: 'Success rate',
    metric: METRICS.successRate,
    caption: 'Fraction of training episodes the verifier accepted.',
    fraction: true,
    smooth: true,
  },
  {
    id: 'plot-return',
    title: 'Episodic return',
    metric: METRICS.episodicReturn,
    caption: 'Mean sum of env rewards per training episode.',
    smooth: true,
  },
  {
    id: 'plot-entropy',
    title: 'Policy entropy',
    metric: METRICS.entropy,
    caption: 'Mean per-token entropy of sampled actions (nats); a collapse means the policy stopped exploring.',
    smooth: true,
  },
  {
    id: 'plot-covariance',
    title: 'Covariance of log-prob and advantage',
    metric: METRICS.covMean,
    caption: 'Mean of (A - mean A)(log p - mean log p) over action tokens; it drives the entropy change.',
    smooth: true,
  },
  {
    id: 'plot-clip-fraction',
    title: 'Clip fraction',
    metric: METRICS.clipFraction,
    caption: 'Fraction of action tokens whose gradient was clipped (PPO clip, or Clip-Cov).',
    fraction: true,
    smooth: true,
  },
  {
    id: 'plot-kl',
    title: 'KL to the rollout policy',
    metric: METRICS.ppoKl,
    caption: 'Approximate KL between the updated policy and the one that sampled the batch.',
    smooth: true,
  },
  {
    id: 'plot-horizon',
    title: 'Horizon schedule',
    metric: METRICS.maxTurns,
    caption: 'Maximum turns per episode set by the curriculum.',
    stepwise: true,
  },
  {
    id: 'plot-turns',
    title: 'Turns per episode',
    metric: METRICS.turnsMean,
    caption: 'Mean number of turns the policy took per training episode.',
    smooth: true,
  },
  {
    id: 'plot-information-gain',
    title: 'Information gain',
    metric: METRICS.informationGain,
    caption: 'Mean per-turn information gain (IGPO): how much each turn raised the probability of the right answer.',
    smooth: true,
  },
  {
    id: 'plot-tokens-per-second',
    title: 'Tokens per second',
    metric: METRICS.tokensPerSecond,
    caption: 'Training throughput: action tokens sampled and trained on per second.',
    smooth: true,
  },
  {
    id: 'plot-eval-success',
    title: 'Held-out success rate',
    metric: METRICS.evalSuccessRate,
    caption:
      'Success rate on held-out tasks, at the steps where the trainer evaluated (and before and after training, from eval.json).',
    fraction: true,
    evaluation: 'success_rate',
  },
];

/** One run's values of one metric. */
export interface Series {
  run: string;
  points: { step: number; value: number }[];
}

/** The colours of runs, in order (Tableau 10, readable on white and for most colour-blind readers). */
export const RUN_COLOURS = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

/** Most points drawn per series; longer runs are thinned evenly (the last point is always kept). */
export const MAX_POINTS = 1000;

/** The finite values of `metric` over the records (nulls, gaps and non-numbers are left out). */
export function seriesOf(run: string, records: readonly MetricsRecord[], metric: string): Series {
  const points: Series['points'] = [];
  for (const record of records) {
    const value = record[metric];
    if (typeof value === 'number' && Number.isFinite(value) && Number.isFinite(record.step))
      points.push({ step: record.step, value });
  }
  return { run, points: thin(points, MAX_POINTS) };
}

function thin<T>(points: T[], max: number): T[] {
  if (points.length <= max) return points;
  const kept: T[] = [];
  for (let index = 0; index < max; index++) kept.push(points[Math.round((index * (points.length - 1)) / (max - 1))]!);
  return kept;
}

/**
 * Debiased exponential moving average (as TensorBoard's smoothing). The weight grows with the number of
 * points so that long runs get a comparable amount of smoothing: 0.6 up to 50 points, up to 0.98.
 */
export function smooth(values: readonly number[]): number[] {
  const weight = Math.min(0.98, Math.max(0.6, 1 - 20 / values.length));
  let average = 0;
  return values.map((value, index) => {
    average = average * weight + (1 - weight) * value;
    return average / (1 - weight ** (index + 1));
  });
}

type Vega = typeof import('vega');
type VegaLite = typeof import('vega-lite');
let libraries: Promise<{ vega: Vega; vegaLite: VegaLite }> | undefined;

/** vega and vega-lite load on first use, so importing the rl/ package stays cheap. */
function loadLibraries(): Promise<{ vega: Vega; vegaLite: VegaLite }> {
  libraries ??= Promise.all([import('vega'), import('vega-lite')]).then(([vega, vegaLite]) => ({ vega, vegaLite }));
  return libraries;
}

/**
 * Renders one plot to SVG text: a line per run (colour by run; the page carries the legend), with the
 * raw values faded under a smoothed curve when `definition.smooth` is set. `runs` fixes the colour of each
 * run across all plots. Series without points are left out; at least one must have points.
 */
export async function renderPlot(
  definition: PlotDefinition,
  series: readonly Series[],
  runs: readonly string[],
): Promise<string> {
  const { vega, vegaLite } = await loadLibraries();
  const rows: { run: string; step: number; value: number; smoothed: number }[] = [];
  for (const { run, points } of series) {
    const smoothed = definition.smooth
      ? smooth(points.map((point) => point.value))
      : points.map((point) => point.value);
    points.forEach((point, index) =>
      rows.push({ run, step: point.step, value: point.value, smoothed: smoothed[index]! }),
    );
  }
  const colour = {
    field: 'run',
    type: 'nominal',
    title: 'run',
    scale: { domain: [...runs], range: runs.map((_, index) => RUN_COLOURS[index % RUN_COLOURS.length]) },
    // The report shows one legend for all plots.
    legend: null,
  };
  const x = { field: 'step', type: 'quantitative', title: 'step', axis: { tickMinStep: 1, format: ',d' } };
  const ticks = axisTicks(
    rows.flatMap((row) => [row.value, row.smoothed]),
    definition.fraction === true,
  );
  const y = (field: string) => ({
    field,
    type: 'quantitative',
    title: null,
    axis: { values: ticks.values, format: ticks.format },
    scale: { domain: ticks.domain, zero: false, nice: false },
  });
  const sparse = series.every((entry) => entry.points.length <= 30);
  const interpolate = definition.stepwise ? 'step-after' : 'linear';
  const layer = definition.smooth
    ? [
        {
          mark: { type: 'line', strokeWidth: 1, opacity: 0.3, interpolate },
          encoding: { x, y: y('value'), color: colour },
        },
        { mark: { type: 'line', strokeWidth: 2, interpolate }, encoding: { x, y: y('smoothed'), color: colour } },
      ]
    : [
        {
          mark: { type: 'line', strokeWidth: 2, interpolate, point: sparse },
          encoding: { x, y: y('value'), color: colour },
        },
      ];
  const spec = {
    width: 340,
    height: 170,
    data: { values: rows },
    layer,
    config: {
      font: 'system-ui, -apple-system, "Segoe UI", sans-serif',
      axis: { labelColor: '#555', titleColor: '#555', gridColor: '#eee', domainColor: '#bbb', tickColor: '#bbb' },
      view: { stroke: null },
    },
  };
  const compiled = vegaLite.compile(spec as unknown as Parameters<VegaLite['compile']>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    // vega numbers clip paths with a process-wide counter; prefix them so plots from different runs of
    // the generator can never share an id in one document.
    return svg
      .replace(/id="clip(\d+)"/g, `id="${definition.id}-clip$1"`)
      .replace(/url\(#clip(\d+)\)/g, `url(#${definition.id}-clip$1)`);
  } finally {
    view.finalize();
  }
}

/**
 * Clean y-axis ticks for `values`: about five, at a round spacing (1, 2 or 5 times a power of ten), from a
 * round number below the smallest value to one above the largest, every label with the same decimals
 * (`2.280, 2.285, ...` was `2.28, 2.285, 2.29, ...`), in percent for fractions, with thousands separators and
 * never SI prefixes ("m" for milli reads wrong on a KL).
 */
export function axisTicks(
  values: readonly number[],
  fraction = false,
): { values: number[]; domain: [number, number]; format: string } {
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (low === high) {
    const pad = Math.abs(low) * 0.1 || (fraction ? 0.1 : 1);
    [low, high] = [low - pad, high + pad];
  }
  const step = tickStep(low, high, 5);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const first = Math.floor(low / step + 1e-9);
  const last = Math.ceil(high / step - 1e-9);
  const ticks = Array.from({ length: last - first + 1 }, (_, index) =>
    Number(((first + index) * step).toFixed(decimals + 1)),
  );
  const format = fraction ? `.${Math.max(0, decimals - 2)}%` : `,.${decimals}f`;
  return { values: ticks, domain: [ticks[0]!, ticks.at(-1)!], format };
}

/** d3's tick spacing: 1, 2 or 5 times a power of ten, giving about `count` intervals over [low, high]. */
function tickStep(low: number, high: number, count: number): number {
  const rough = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const ratio = rough / power;
  return power * (ratio >= Math.sqrt(50) ? 10 : ratio >= Math.sqrt(10) ? 5 : ratio >= Math.sqrt(2) ? 2 : 1);
}
