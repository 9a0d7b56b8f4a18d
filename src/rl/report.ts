/**
 * The run report: one self-contained `report.html` per run directory, readable offline. Plots are inline
 * SVG rendered at generation time (see plots.ts), the trajectory viewer is plain inline JavaScript with
 * the trajectories embedded as JSON, and nothing is loaded from the network.
 *
 *   const { path, notes } = await writeReport('runs/quickstart', { compare: ['runs/baseline'] });
 *
 * A crashed or half-written run still gets a report: what is missing is listed at the top, each plot whose
 * metric was never logged is replaced by a note, and the rest renders.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { cutText } from '../envs/wrappers.js';
import { formatPValue } from '../agent/policy/paired.js';
import { PLOTS, type PlotDefinition, RUN_COLOURS, type Series, renderPlot, seriesOf } from './plots.js';
import { VIEWER_SCRIPT } from './report-viewer.js';
import { METRICS } from './metrics.js';
import { type RunData, RUN_FILES, readRun } from './run-directory.js';
import type { TrajectoryRecord } from './trajectories.js';

export interface ReportOptions {
  /** Other run directories to overlay on the same plots (one colour per run). */
  compare?: readonly string[];
}

/** What `writeReport` did. */
export interface ReportResult {
  /** Path of the report.html written. */
  path: string;
  /** Display names of the runs, the reported run first. */
  runs: string[];
  /** Each plot, and whether it was drawn (false: no run logged its metric). */
  plots: { id: string; title: string; rendered: boolean }[];
  /** Trajectories embedded in the viewer (all runs). */
  trajectories: number;
  /** What was missing or skipped, prefixed with the run's name. */
  notes: string[];
}

/** Most trajectories embedded per run; longer files are sampled evenly over training (the report says so). */
export const MAX_VIEWER_TRAJECTORIES = 400;
/** Longest prompt or observation text kept per message in the viewer. */
export const MAX_VIEWER_TEXT = 4000;

/**
 * Reads `runDir` (and the `compare` runs) and writes `runDir/report.html`, replacing an older report.
 * Throws a `TurngymError` (`INVALID_OPTIONS`) when a path is not a run directory; anything missing inside
 * a run becomes a note in the report and in the result.
 */
export async function writeReport(runDir: string, options: ReportOptions = {}): Promise<ReportResult> {
  const runs = [readRun(runDir), ...(options.compare ?? []).map((dir) => readRun(dir))];
  const unique = runs.filter((run, index) => runs.findIndex((other) => other.dir === run.dir) === index);
  nameRuns(unique);
  const { html, result } = await renderReport(unique);
  const path = join(unique[0]!.dir, RUN_FILES.report);
  // Written beside and renamed, so a reader never sees half a report.
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, html);
  renameSync(partial, path);
  return { ...result, path };
}

/** Gives runs that share a directory name a longer name (`parent/name`), so the legend tells them apart. */
function nameRuns(runs: RunData[]): void {
  for (const run of runs) {
    if (runs.filter((other) => other.name === run.name).length > 1)
      run.name = `${basename(dirname(run.dir))}/${run.name}`;
  }
}

/** Renders the report of `runs` (the first is the reported run; the others are overlaid) to HTML. */
export async function renderReport(
  runs: readonly RunData[],
): Promise<{ html: string; result: Omit<ReportResult, 'path'> }> {
  const primary = runs[0]!;
  const names = runs.map((run) => run.name);
  const notes = runs.flatMap((run) => run.notes.map((note) => `${run.name}: ${note}`));

  const plots: ReportResult['plots'] = [];
  const figures: string[] = [];
  for (const definition of PLOTS) {
    const series = runs.map((run) => plotSeries(run, definition)).filter((entry) => entry.points.length > 0);
    const caption = `<figcaption><h3>${escapeHtml(definition.title)}</h3><p>${escapeHtml(definition.caption)} <code>${escapeHtml(definition.metric)}</code></p></figcaption>`;
    if (series.length === 0) {
      plots.push({ id: definition.id, title: definition.title, rendered: false });
      const why = runs.some((run) => run.metrics.length > 0)
        ? `No run logged <code>${escapeHtml(definition.metric)}</code>, so this plot is left out.`
        : 'No metrics were recorded, so this plot is left out.';
      figures.push(
        `<figure class="plot skipped" id="${definition.id}" data-metric="${escapeHtml(definition.metric)}">${caption}<p class="plot-note">${why}</p></figure>`,
      );
      continue;
    }
    const missing = runs.filter((run) => !series.some((entry) => entry.run === run.name)).map((run) => run.name);
    const missingNote =
      missing.length > 0 ? `<p class="plot-note">Not logged by ${missing.map(escapeHtml).join(', ')}.</p>` : '';
    const svg = await renderPlot(definition, series, names);
    plots.push({ id: definition.id, title: definition.title, rendered: true });
    figures.push(
      `<figure class="plot" id="${definition.id}" data-metric="${escapeHtml(definition.metric)}">${caption}<div class="plot-svg">${svg}</div>${missingNote}</figure>`,
    );
  }

  const viewerRuns = runs.map((run) => ({ name: run.name, trajectories: viewerTrajectories(run, notes) }));
  const trajectoryCount = viewerRuns.reduce((sum, run) => sum + run.trajectories.length, 0);

  const html = page({
    title: `turngym report · ${primary.name}`,
    body: [
      header(runs),
      notes.length > 0
        ? `<section id="notes" class="notes"><h2>Notes</h2><ul>${notes.map((note) => `<li>${escapeHtml(note)}</li>`).join('')}</ul></section>`
        : '',
      summaryTable(runs),
      evaluationTable(runs),
      `<section id="plots"><h2>Training curves</h2>${runs.length > 1 ? legend(names) : ''}<div class="plot-grid">${figures.join('\n')}</div></section>`,
      trajectorySection(viewerRuns),
      configurationSection(runs),
    ].join('\n'),
    data: { runs: viewerRuns },
  });
  return { html, result: { runs: names, plots, trajectories: trajectoryCount, notes } };
}

/**
 * The values a plot shows for one run: the metric's finite values and, for the held-out success plot,
 * eval.json's before (at step 0) and after (at the last logged step) unless the metrics already hold a
 * value at that step, so held-out success is plotted even when the trainer evaluated only before and after.
 */
export function plotSeries(run: RunData, definition: PlotDefinition): Series {
  const series = seriesOf(run.name, run.metrics, definition.metric);
  if (!definition.evaluation || !run.evaluation) return series;
  const points = [...series.points];
  const add = (step: number, value: number | null | undefined) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || points.some((point) => point.step === step)) return;
    points.push({ step, value });
  };
  add(0, run.evaluation.before?.[definition.evaluation]);
  add(run.metrics.at(-1)?.step ?? 1, run.evaluation.after?.[definition.evaluation]);
  return { ...series, points: points.sort((a, b) => a.step - b.step) };
}

interface ViewerTurn {
  action: string;
  observation: string;
  reward: number;
  format: number;
  tool?: string;
  error?: string;
  information_gain?: number;
  answer_probability?: number;
  advantage?: number;
}

type ViewerTrajectory = Omit<TrajectoryRecord, 'turns'> & { turns: ViewerTurn[] };

/** The run's trajectories as the viewer gets them: sampled evenly when there are many, long texts cut. */
function viewerTrajectories(run: RunData, notes: string[]): ViewerTrajectory[] {
  let records = [...run.trajectories].sort((a, b) => a.step - b.step || a.group - b.group);
  if (records.length > MAX_VIEWER_TRAJECTORIES) {
    notes.push(
      `${run.name}: the viewer shows ${MAX_VIEWER_TRAJECTORIES} of ${records.length} trajectories, sampled evenly over training.`,
    );
    const total = records.length;
    records = Array.from(
      { length: MAX_VIEWER_TRAJECTORIES },
      (_, index) => records[Math.round((index * (total - 1)) / (MAX_VIEWER_TRAJECTORIES - 1))]!,
    );
  }
  return records.map((record) => {
    const names = (record.tools ?? []).map((tool) => tool.name);
    return {
      ...record,
      prompt: cutText(String(record.prompt), MAX_VIEWER_TEXT),
      tools: record.tools ?? [],
      turns: record.turns.map((turn) => ({
        ...turn,
        action: cutText(String(turn.action), MAX_VIEWER_TEXT),
        observation: cutText(String(turn.observation ?? ''), MAX_VIEWER_TEXT),
        tool: toolNameOf(String(turn.action), names),
      })),
    };
  });
}

/**
 * The tool an action text calls, when it names one of `tools`: function-call syntax `search("x")`, JSON
 * `{"tool": ...}` / `{"name": ...}`, or either inside `<tool_call>...</tool_call>`. Undefined otherwise.
 */
export function toolNameOf(action: string, tools: readonly string[]): string | undefined {
  const tagged = /<tool_call>([\s\S]*?)(?:<\/tool_call>|$)/.exec(action);
  const body = (tagged ? tagged[1]! : action).trim();
  let name: unknown;
  if (body.startsWith('{')) {
    try {
      const parsed = JSON.parse(body) as { tool?: unknown; name?: unknown };
      name = parsed.tool ?? parsed.name;
    } catch {
      return undefined;
    }
  } else {
    name = /^([A-Za-z_][\w-]*)\s*\(/.exec(body)?.[1];
  }
  return typeof name === 'string' && tools.includes(name) ? name : undefined;
}

function header(runs: readonly RunData[]): string {
  const primary = runs[0]!;
  const env = stringAt(primary.config, 'env') ?? primary.trajectories[0]?.env;
  const facts = [
    env ? `env <code>${escapeHtml(env)}</code>` : '',
    `<code>${escapeHtml(primary.dir)}</code>`,
    `generated ${escapeHtml(new Date().toISOString().replace('T', ' ').slice(0, 16))} UTC`,
  ].filter(Boolean);
  const compared =
    runs.length > 1
      ? `<p class="compared">compared with ${runs
          .slice(1)
          .map((run, index) => `${swatch(index + 1)}<strong>${escapeHtml(run.name)}</strong>`)
          .join(', ')}</p>`
      : '';
  return `<header class="page-header"><h1>${runs.length > 1 ? swatch(0) : ''}${escapeHtml(primary.name)}</h1><p class="facts">${facts.join(' · ')}</p>${compared}</header>`;
}

function swatch(index: number): string {
  return `<span class="swatch" style="background:${RUN_COLOURS[index % RUN_COLOURS.length]}"></span>`;
}

function legend(names: readonly string[]): string {
  return `<p class="legend">${names.map((name, index) => `<span>${swatch(index)}${escapeHtml(name)}</span>`).join('')}</p>`;
}

/** One row per run: how far it got and where it ended. */
function summaryTable(runs: readonly RunData[]): string {
  const rows = runs.map((run, index) => {
    const last = run.metrics.at(-1);
    const cells = [
      `${runs.length > 1 ? swatch(index) : ''}${escapeHtml(run.name)}`,
      last ? String(last.step) : '–',
      last && typeof last.time === 'number' ? formatDuration(last.time) : '–',
      formatValue(finalValue(run, METRICS.successRate), true),
      formatValue(finalValue(run, METRICS.episodicReturn)),
      formatValue(finalValue(run, METRICS.entropy)),
      formatValue(finalValue(run, METRICS.turnsMean)),
      String(run.trajectories.length),
      String(run.checkpoints.length),
    ];
    return `<tr>${cells.map((cell, column) => `<td${column > 0 ? ' class="number"' : ''}>${cell}</td>`).join('')}</tr>`;
  });
  const headings = [
    'run',
    'last step',
    'wall time',
    'success rate',
    'return',
    'entropy',
    'turns',
    'trajectories',
    'checkpoints',
  ];
  return `<section id="summary"><h2>Summary</h2><table class="summary"><thead><tr>${headings.map((heading, column) => `<th${column > 0 ? ' class="number"' : ''}>${heading}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table><p class="hint">Training values are means over the last 10% of logged steps.</p></section>`;
}

/** Mean of a metric over the last 10% of the steps that logged it. */
function finalValue(run: RunData, metric: string): number | undefined {
  const values = run.metrics
    .map((record) => record[metric])
    .filter((value): value is number => typeof value === 'number' && Number.isFinite(value));
  if (values.length === 0) return undefined;
  const tail = values.slice(-Math.max(1, Math.ceil(values.length / 10)));
  return tail.reduce((sum, value) => sum + value, 0) / tail.length;
}

/** eval.json of each run: held-out success before and after training, and the paired comparison of the two. */
function evaluationTable(runs: readonly RunData[]): string {
  const withEvaluation = runs.filter((run) => run.evaluation);
  if (withEvaluation.length === 0) return '';
  const rows = withEvaluation.map((run) => {
    const { before, after, paired } = run.evaluation!;
    const change =
      typeof before?.success_rate === 'number' && typeof after?.success_rate === 'number'
        ? after.success_rate - before.success_rate
        : undefined;
    const cells = [
      `${runs.length > 1 ? swatch(runs.indexOf(run)) : ''}${escapeHtml(run.name)}`,
      formatValue(before?.success_rate, true),
      formatValue(after?.success_rate, true),
      change === undefined
        ? '–'
        : `<span class="${change >= 0 ? 'good' : 'bad'}">${change >= 0 ? '+' : '−'}${(Math.abs(change) * 100).toFixed(1)} pts</span>`,
      `${formatValue(before?.mean_return)} → ${formatValue(after?.mean_return)}`,
      `${formatValue(before?.mean_turns)} → ${formatValue(after?.mean_turns)}`,
      String(after?.episodes ?? before?.episodes ?? '–'),
      paired ? `${paired.solved_newly} / ${paired.solved_no_longer} (p = ${formatPValue(paired.success_p)})` : '–',
    ];
    return `<tr>${cells.map((cell, column) => `<td${column > 0 ? ' class="number"' : ''}>${cell}</td>`).join('')}</tr>`;
  });
  const headings = [
    'run',
    'success before',
    'success after',
    'change',
    'return',
    'turns',
    'episodes',
    'solved only after / only before (sign test)',
  ];
  return `<section id="evaluation"><h2>Held-out evaluation</h2><table class="summary"><thead><tr>${headings.map((heading, column) => `<th${column > 0 ? ' class="number"' : ''}>${heading}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function trajectorySection(runs: { name: string; trajectories: ViewerTrajectory[] }[]): string {
  const runFilter =
    runs.length > 1
      ? `<label>run <select id="filter-run">${runs.map((run, index) => `<option value="${index}">${escapeHtml(run.name)} (${run.trajectories.length})</option>`).join('')}</select></label>`
      : '';
  const empty = runs.every((run) => run.trajectories.length === 0);
  return `<section id="trajectories"><h2>Trajectories</h2>
<div class="filters">${runFilter}<label>step <select id="filter-step"></select></label><label>outcome <select id="filter-outcome"><option value="all">all</option><option value="success">success</option><option value="failure">failure</option></select></label><span id="trajectory-count" class="hint"></span></div>
${empty ? '<p class="plot-note">No trajectories were recorded.</p>' : ''}
<div class="viewer"><ol id="trajectory-list" role="listbox" aria-label="trajectories"></ol><article id="trajectory-detail"></article></div></section>`;
}

/** The options of each run as a flat table; with several runs, rows whose values differ are marked. */
function configurationSection(runs: readonly RunData[]): string {
  const flat = runs.map((run) => (run.config ? flatten(run.config) : undefined));
  if (flat.every((entry) => entry === undefined))
    return `<section id="configuration"><h2>Configuration</h2><p class="plot-note">No ${RUN_FILES.config} was found.</p></section>`;
  const keys = [...new Set(flat.flatMap((entry) => (entry ? Object.keys(entry) : [])))];
  const rows = keys.map((key) => {
    const values = flat.map((entry) => (entry && key in entry ? entry[key]! : undefined));
    const differs = runs.length > 1 && new Set(values.map((value) => value ?? '\u0000')).size > 1;
    return `<tr${differs ? ' class="differs"' : ''}><th scope="row"><code>${escapeHtml(key)}</code></th>${values.map((value) => `<td><code>${value === undefined ? '<span class="hint">–</span>' : escapeHtml(value)}</code></td>`).join('')}</tr>`;
  });
  const head =
    runs.length > 1
      ? `<thead><tr><th>option</th>${runs.map((run, index) => `<th>${swatch(index)}${escapeHtml(run.name)}</th>`).join('')}</tr></thead>`
      : '';
  const hint = runs.length > 1 ? '<p class="hint">Highlighted rows differ between runs.</p>' : '';
  return `<section id="configuration"><h2>Configuration</h2>${hint}<table class="config">${head}<tbody>${rows.join('')}</tbody></table></section>`;
}

/** `{a: {b: 1}, c: [1, 2]}` → `{'a.b': '1', c: '[1,2]'}`. */
function flatten(
  value: Record<string, unknown>,
  prefix = '',
  out: Record<string, string> = {},
): Record<string, string> {
  for (const [key, entry] of Object.entries(value)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (typeof entry === 'object' && entry !== null && !Array.isArray(entry) && Object.keys(entry).length > 0)
      flatten(entry as Record<string, unknown>, name, out);
    else out[name] = typeof entry === 'string' ? entry : JSON.stringify(entry);
  }
  return out;
}

function stringAt(config: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = config?.[key];
  return typeof value === 'string' ? value : undefined;
}

function formatValue(value: number | null | undefined, fraction = false): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  if (fraction) return `${(value * 100).toFixed(1)}%`;
  return Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 1 ? value.toFixed(2) : value.toPrecision(3);
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(0)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** JSON that is safe inside a `<script>` element (no `</script>`, no `<!--`). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function page({ title, body, data }: { title: string; body: string; data: unknown }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="turngym report">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
<script type="application/json" id="trajectory-data">${scriptJson(data)}</script>
<script>${VIEWER_SCRIPT}</script>
</body>
</html>
`;
}

const STYLE = `
:root { --ink: #1f2328; --muted: #59636e; --line: #d8dee4; --soft: #f6f8fa; --accent: #4e79a7; --good: #1a7f37; --bad: #cf222e; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 24px; margin: 0 0 4px; display: flex; align-items: center; }
h2 { font-size: 18px; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 0; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
.page-header .facts, .page-header .compared { margin: 0; color: var(--muted); }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 6px; vertical-align: -1px; }
.hint { color: var(--muted); font-size: 12.5px; }
.good { color: var(--good); } .bad { color: var(--bad); }
.notes { background: #fff8c5; border: 1px solid #d4a72c66; border-radius: 8px; padding: 4px 16px; margin-top: 20px; }
.notes h2 { border: 0; margin: 8px 0 0; font-size: 15px; }
.notes ul { margin: 6px 0 10px; padding-left: 20px; }
table { border-collapse: collapse; }
table.summary { width: 100%; }
table.summary th, table.summary td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
table.summary .number { text-align: right; font-variant-numeric: tabular-nums; }
table.summary thead th { color: var(--muted); font-weight: 600; font-size: 12.5px; }
.legend { display: flex; gap: 18px; flex-wrap: wrap; margin: 0 0 8px; }
.plot-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 16px; }
.plot { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: #fff; }
.plot figcaption p { margin: 2px 0 6px; color: var(--muted); font-size: 12.5px; }
.plot figcaption code { font-size: 11.5px; background: var(--soft); padding: 0 4px; border-radius: 4px; }
.plot-svg svg { max-width: 100%; height: auto; display: block; }
.plot.skipped { background: var(--soft); }
.plot-note { color: var(--muted); font-style: italic; margin: 6px 0 0; }
.filters { display: flex; gap: 16px; align-items: center; flex-wrap: wrap; margin-bottom: 10px; }
.filters select { font: inherit; padding: 3px 6px; border: 1px solid var(--line); border-radius: 6px; background: #fff; margin-left: 4px; }
.viewer { display: grid; grid-template-columns: 260px 1fr; gap: 16px; align-items: start; }
#trajectory-list { list-style: none; margin: 0; padding: 0; border: 1px solid var(--line); border-radius: 8px; max-height: 720px; overflow: auto; }
.trajectory-item { display: grid; grid-template-columns: 22px 1fr; padding: 6px 10px; border-bottom: 1px solid var(--line); cursor: pointer; }
.trajectory-item:hover { background: var(--soft); }
.trajectory-item.selected { background: #ddf4ff; }
.trajectory-item .item-meta { grid-column: 2; color: var(--muted); font-size: 12px; }
.badge { font-weight: 700; }
.badge.success { color: var(--good); } .badge.failure { color: var(--bad); }
#trajectory-detail { border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; min-height: 200px; }
.detail-header h3 { font-size: 15px; margin-bottom: 6px; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0; }
.chip { display: inline-flex; align-items: center; gap: 5px; border: 1px solid var(--line); border-radius: 999px; padding: 1px 9px; font-size: 12px; background: #fff; }
.chip-label { color: var(--muted); }
.chip-value { font-variant-numeric: tabular-nums; font-weight: 600; }
.chip.good .chip-value { color: var(--good); } .chip.bad .chip-value { color: var(--bad); }
.gain-bar { display: inline-block; height: 8px; border-radius: 2px; }
.gain-bar.up { background: var(--good); } .gain-bar.down { background: var(--bad); }
.message { margin: 6px 0; border-left: 3px solid var(--line); padding: 2px 0 2px 10px; }
.message .role { font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); }
.message pre { margin: 2px 0 0; white-space: pre-wrap; word-break: break-word; }
.message.task { border-color: #8250df; }
.message.action { border-color: var(--accent); }
.message.action pre { color: #0a3069; font-weight: 600; }
.message.observation { border-color: #afb8c1; }
.tools { margin: 8px 0; color: var(--muted); }
.tools dt { font-family: ui-monospace, Menlo, Consolas, monospace; color: var(--ink); margin-top: 4px; }
.tools dd { margin: 0 0 0 16px; }
.turn { border-top: 1px dashed var(--line); padding-top: 8px; margin-top: 10px; }
.turn-head { display: flex; gap: 8px; align-items: center; font-size: 12.5px; }
.turn-number { font-weight: 700; }
.tool-name { font-family: ui-monospace, Menlo, Consolas, monospace; background: #ddf4ff; color: #0a3069; border-radius: 4px; padding: 0 6px; }
.error-code { font-family: ui-monospace, Menlo, Consolas, monospace; background: #ffebe9; color: var(--bad); border-radius: 4px; padding: 0 6px; }
.empty { color: var(--muted); }
table.config { width: 100%; }
table.config th, table.config td { text-align: left; padding: 3px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
table.config th[scope=row] { font-weight: 400; color: var(--muted); width: 32%; }
table.config td code { white-space: pre-wrap; word-break: break-word; }
table.config tr.differs { background: #fff8c5; }
@media (max-width: 800px) { .viewer { grid-template-columns: 1fr; } }
`;
