import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TurngymError } from '../../src/core/errors.js';
import { launchChromium } from '../../src/envs/web/chromium.js';
import { METRICS } from '../../src/rl/metrics.js';
import { PLOTS, smooth } from '../../src/rl/plots.js';
import { MAX_VIEWER_TRAJECTORIES, plotSeries, toolNameOf, writeReport } from '../../src/rl/report.js';
import { readRun } from '../../src/rl/run-directory.js';
import type { TrajectoryRecord } from '../../src/rl/trajectories.js';
import { fixtureRoot, writeFixtureRun } from './run-fixture.js';

const root = fixtureRoot();
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The number of rendered plots (figures with an inline SVG) in a report. */
function renderedPlots(html: string): number {
  return (html.match(/<figure class="plot" id="plot-[\w-]+"[^>]*>/g) ?? []).length;
}

function figure(html: string, id: string): string {
  const start = html.indexOf(`id="${id}"`);
  return html.slice(start, html.indexOf('</figure>', start));
}

describe('writeReport', () => {
  it('writes a self-contained report with every plot, the trajectories and the configuration', async () => {
    const dir = writeFixtureRun(root, 'complete');
    const result = await writeReport(dir);
    expect(result.path).toBe(join(dir, 'report.html'));
    expect(result.runs).toEqual(['complete']);
    expect(result.notes).toEqual([]);
    expect(result.plots.map((plot) => plot.rendered)).toEqual(PLOTS.map(() => true));
    expect(result.trajectories).toBe(16);

    const html = readFileSync(result.path, 'utf8');
    expect(renderedPlots(html)).toBe(PLOTS.length);
    for (const plot of PLOTS) {
      const section = figure(html, plot.id);
      expect(section, plot.id).toContain('<svg');
      expect(section, plot.id).toMatch(/class="mark-line role-mark/);
      expect(section, plot.id).toContain(plot.metric);
    }
    // Offline: no external scripts, styles, images or fonts; namespaces in SVG are not fetched.
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/url\(\s*["']?(https?:)?\/\//i);
    expect(html).not.toContain('<link');
    expect(html).not.toContain('@import');
    // The configuration and held-out evaluation.
    expect(html).toContain('<code>entropyControl.kind</code>');
    expect(html).toContain('clip-cov');
    expect(html).toMatch(/Held-out evaluation[\s\S]*12\.5%[\s\S]*62\.5%[\s\S]*\+50\.0 pts/);
    expect(html).toMatch(/solved only after \/ only before[\s\S]*>17 \/ 1 \(p = 2\.7e-4\)</);
    // The trajectories are embedded for the viewer.
    const data = JSON.parse(
      /<script type="application\/json" id="trajectory-data">([\s\S]*?)<\/script>/.exec(html)![1]!,
    );
    expect(data.runs[0].trajectories).toHaveLength(16);
    expect(data.runs[0].trajectories[0].turns[0]).toMatchObject({
      tool: 'search',
      action: 'search("who founded Northwind Optics")',
    });
  });

  it('overlays compared runs with one colour per run and marks differing options', async () => {
    const dir = writeFixtureRun(root, 'baseline-run', { seed: 1 });
    const other = writeFixtureRun(root, 'clip-cov-run', { seed: 2, learning: 0.3 });
    const result = await writeReport(dir, { compare: [other] });
    expect(result.runs).toEqual(['baseline-run', 'clip-cov-run']);
    expect(result.trajectories).toBe(32);
    const html = readFileSync(result.path, 'utf8');
    for (const plot of PLOTS) {
      const section = figure(html, plot.id);
      expect(section, plot.id).toContain('stroke="#4e79a7"');
      expect(section, plot.id).toContain('stroke="#f28e2b"');
    }
    expect(html).toMatch(/<p class="legend">.*baseline-run.*clip-cov-run.*<\/p>/);
    expect(html).toMatch(
      /<tr class="differs"><th scope="row"><code>seed<\/code><\/th><td><code>1<\/code><\/td><td><code>2<\/code><\/td><\/tr>/,
    );
    expect(html).toContain('<select id="filter-run">');
    // The report goes into the first run's directory only.
    expect(existsSync(join(other, 'report.html'))).toBe(false);
  });

  it('renders what is there when config and metrics are missing', async () => {
    const dir = writeFixtureRun(root, 'half-written', { without: ['config', 'metrics', 'eval'] });
    const result = await writeReport(dir);
    expect(result.notes).toEqual([
      "half-written: config.json is missing: the run's options are unknown.",
      'half-written: metrics.jsonl is missing: no training curves to plot (the run may have stopped before its first step).',
    ]);
    expect(result.plots.every((plot) => !plot.rendered)).toBe(true);
    const html = readFileSync(result.path, 'utf8');
    expect(renderedPlots(html)).toBe(0);
    expect(figure(html, 'plot-entropy')).toContain('No metrics were recorded, so this plot is left out.');
    expect(html).toContain('No config.json was found.');
    expect(html).toContain('<section id="notes"');
    expect(result.trajectories).toBe(16);
  });

  it('leaves out only the plots whose metric was never logged, and says so', async () => {
    const dir = writeFixtureRun(root, 'no-entropy', { without: ['metrics'] });
    const lines = Array.from({ length: 20 }, (_, step) =>
      JSON.stringify({
        step,
        time: step,
        [METRICS.successRate]: step / 20,
        [METRICS.entropy]: null,
        [METRICS.maxTurns]: 5,
      }),
    );
    writeFileSync(join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
    const result = await writeReport(dir);
    const rendered = result.plots.filter((plot) => plot.rendered).map((plot) => plot.id);
    // Held-out success comes from eval.json when the metrics have none.
    expect(rendered).toEqual(['plot-success-rate', 'plot-horizon', 'plot-eval-success']);
    const html = readFileSync(result.path, 'utf8');
    expect(figure(html, 'plot-entropy')).toContain(
      'No run logged <code>actor/entropy</code>, so this plot is left out.',
    );
  });

  it('plots held-out success from the metrics, with eval.json before and after where the metrics have no value', () => {
    const definition = PLOTS.find((plot) => plot.id === 'plot-eval-success')!;
    const run = readRun(writeFixtureRun(root, 'evaluation', { steps: 30 }));
    expect(plotSeries(run, definition).points).toEqual([
      { step: 0, value: 0.125 },
      ...run.metrics
        .filter((record) => record[METRICS.evalSuccessRate] !== undefined)
        .map((record) => ({ step: record.step, value: record[METRICS.evalSuccessRate] })),
    ]);
    expect(plotSeries(run, definition).points.map((point) => point.step)).toEqual([0, 9, 19, 29]);
    const withoutMetrics = readRun(writeFixtureRun(root, 'evaluation-only', { without: ['metrics'] }));
    expect(plotSeries(withoutMetrics, definition).points).toEqual([
      { step: 0, value: 0.125 },
      { step: 1, value: 0.625 },
    ]);
    const entropy = PLOTS.find((plot) => plot.id === 'plot-entropy')!;
    expect(plotSeries(withoutMetrics, entropy).points).toEqual([]);
  });

  it('reads a crashed run: a metrics line cut short, a broken trajectory line, a config cut mid-write', async () => {
    const dir = writeFixtureRun(root, 'crashed', { steps: 30 });
    appendFileSync(join(dir, 'metrics.jsonl'), '{"step":30,"time":126.1,"charts/success_rate":0.5');
    appendFileSync(join(dir, 'trajectories.jsonl'), '{"step":29,"env":"search/multihop-v0","seed":3,"turns":[{"act');
    writeFileSync(join(dir, 'config.json'), '{"env": "search/multihop-v0", "steps": 3');
    const result = await writeReport(dir);
    expect(result.notes).toEqual([
      expect.stringMatching(
        /^crashed: config\.json could not be read \(.*JSON.*\); it is ignored\. A run that crashed while writing it leaves it cut short\.$/,
      ),
      'crashed: metrics.jsonl: 1 line could not be read and was skipped (a line cut short by a crash, or not JSON).',
      'crashed: trajectories.jsonl: 1 line could not be read and was skipped (a line cut short by a crash, or not a trajectory record).',
    ]);
    expect(result.plots.every((plot) => plot.rendered)).toBe(true);
    const run = readRun(dir);
    expect(run.metrics.at(-1)!.step).toBe(29);
    expect(run.trajectories).toHaveLength(16);
    const html = readFileSync(result.path, 'utf8');
    expect(html).toContain('metrics.jsonl: 1 line could not be read and was skipped');
  });

  it('rejects a path that is not a run directory, with a message that says what to give', async () => {
    const missing = join(root, 'no-such-run');
    await expect(writeReport(missing)).rejects.toThrow(
      `No run directory at '${missing}' (${missing} does not exist). Give the path of a run, e.g. runs/quickstart.`,
    );
    const file = join(root, 'a-file.txt');
    writeFileSync(file, 'hello');
    await expect(writeReport(file)).rejects.toThrow(
      `'${file}' is a file, not a run directory. Give the directory that holds metrics.jsonl and config.json.`,
    );
    const empty = join(root, 'empty-dir');
    mkdirSync(empty);
    await expect(writeReport(empty)).rejects.toThrow(
      `'${empty}' does not look like a run directory: it has none of config.json, metrics.jsonl, trajectories.jsonl, eval.json, checkpoints/.`,
    );
    const error = await writeReport(missing).catch((caught: unknown) => caught);
    expect(TurngymError.is(error, 'INVALID_OPTIONS')).toBe(true);
    // A bad --compare path fails before anything is written.
    const dir = writeFixtureRun(root, 'bad-compare');
    await expect(writeReport(dir, { compare: [missing] })).rejects.toThrow('No run directory at');
    expect(existsSync(join(dir, 'report.html'))).toBe(false);
  });

  it('samples a long trajectory file evenly and says how many it shows', async () => {
    const dir = writeFixtureRun(root, 'many-trajectories', { steps: 10 });
    const one = JSON.parse(readFileSync(join(dir, 'trajectories.jsonl'), 'utf8').split('\n')[0]!) as TrajectoryRecord;
    const lines = Array.from({ length: 1000 }, (_, index) =>
      JSON.stringify({ ...one, step: Math.floor(index / 8), group: index % 8 }),
    );
    writeFileSync(join(dir, 'trajectories.jsonl'), `${lines.join('\n')}\n`);
    const result = await writeReport(dir);
    expect(result.trajectories).toBe(MAX_VIEWER_TRAJECTORIES);
    expect(result.notes).toContain(
      `many-trajectories: the viewer shows ${MAX_VIEWER_TRAJECTORIES} of 1000 trajectories, sampled evenly over training.`,
    );
    const html = readFileSync(result.path, 'utf8');
    const data = JSON.parse(/id="trajectory-data">([\s\S]*?)<\/script>/.exec(html)![1]!);
    const steps = data.runs[0].trajectories.map((trajectory: TrajectoryRecord) => trajectory.step);
    expect(steps[0]).toBe(0);
    expect(steps.at(-1)).toBe(124);
  });
});

describe('toolNameOf', () => {
  const tools = ['search', 'answer'];
  it('finds the tool of function-call, JSON and tagged actions', () => {
    expect(toolNameOf('search("x", k=3)', tools)).toBe('search');
    expect(toolNameOf('{"tool": "answer", "args": {"text": "Paris"}}', tools)).toBe('answer');
    expect(toolNameOf('<tool_call>{"name": "search", "arguments": {"query": "q"}}</tool_call>', tools)).toBe('search');
  });
  it('returns undefined for unknown tools and text that is no call', () => {
    expect(toolNameOf('serch("x")', tools)).toBeUndefined();
    expect(toolNameOf('I think the answer is Paris', tools)).toBeUndefined();
    expect(toolNameOf('{"tool": ', tools)).toBeUndefined();
  });
});

describe('smooth', () => {
  it('is a debiased moving average: constant input stays constant, steps are followed gradually', () => {
    expect(smooth([2, 2, 2])).toEqual([2, 2, 2]);
    const followed = smooth([0, 0, 0, 1, 1, 1]);
    expect(followed[2]).toBe(0);
    expect(followed[3]).toBeGreaterThan(0);
    expect(followed[3]).toBeLessThan(followed[5]!);
    expect(followed[5]).toBeLessThan(1);
  });
});

describe('report.html in Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('renders every plot and a transcript, with no console errors and no network requests', async () => {
    const dir = writeFixtureRun(root, 'browser-run', { seed: 4 });
    const other = writeFixtureRun(root, 'browser-other', { seed: 5, learning: 0.4 });
    // Recorded text is shown as text, never run as markup.
    const hostile = JSON.parse(
      readFileSync(join(dir, 'trajectories.jsonl'), 'utf8').split('\n')[0]!,
    ) as TrajectoryRecord;
    hostile.step = 60;
    hostile.turns[0]!.observation =
      '</script><script>window.injected = true</script><img src=x onerror="window.injected = true">';
    appendFileSync(join(dir, 'trajectories.jsonl'), `${JSON.stringify(hostile)}\n`);
    const result = await writeReport(dir, { compare: [other] });

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning')
        problems.push(`${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('dialog', (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on('request', (request) => requests.push(request.url()));
    try {
      await page.goto(pathToFileURL(result.path).href, { waitUntil: 'load' });

      // Every plot is an SVG with line marks, one line per run at least.
      expect(await page.locator('figure.plot').count()).toBe(PLOTS.length);
      for (const plot of PLOTS) {
        const lines = page.locator(`#${plot.id} svg .mark-line path`);
        expect(await lines.count(), plot.id).toBeGreaterThanOrEqual(2);
        const box = await page.locator(`#${plot.id} svg`).boundingBox();
        expect(box!.width, plot.id).toBeGreaterThan(200);
        expect(box!.height, plot.id).toBeGreaterThan(100);
      }

      // The trajectory viewer shows a transcript.
      await expect.poll(() => page.locator('#trajectory-list li').count()).toBe(17);
      const detail = page.locator('#trajectory-detail');
      expect(await detail.locator('.turn').count()).toBeGreaterThanOrEqual(3);
      expect(await detail.locator('.message.task pre').textContent()).toContain('In which city was the founder of');
      expect(await detail.locator('.tool-name').first().textContent()).toBe('search');
      expect(await detail.textContent()).toContain('info gain');
      expect(await page.locator('#trajectory-count').textContent()).toBe('17 of 17 trajectories');

      // Filters: successes only, then one step, then the compared run.
      await page.selectOption('#filter-outcome', 'success');
      const successes = await page.locator('#trajectory-list li').count();
      expect(successes).toBeGreaterThan(0);
      expect(await page.locator('#trajectory-list li .badge.failure').count()).toBe(0);
      await page.selectOption('#filter-outcome', 'all');
      await page.selectOption('#filter-step', '60');
      expect(await page.locator('#trajectory-list li').count()).toBe(1);
      expect(await detail.locator('.observation pre').first().textContent()).toBe(hostile.turns[0]!.observation);
      expect(await page.evaluate(() => (window as unknown as { injected?: boolean }).injected)).toBeUndefined();
      await page.selectOption('#filter-run', '1');
      expect(await page.locator('#trajectory-count').textContent()).toBe('16 of 16 trajectories');
      await page.locator('#trajectory-list li').nth(2).click();
      expect(await page.locator('#trajectory-list li.selected').count()).toBe(1);
      expect(await page.locator('#trajectory-list li').nth(2).getAttribute('aria-selected')).toBe('true');
      await page.selectOption('#filter-run', '0');

      const screenshot = join(tmpdir(), 'turngym-report-screenshot.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      expect(readFileSync(screenshot).subarray(1, 4).toString()).toBe('PNG');

      expect(problems).toEqual([]);
      expect(requests.filter((url) => !url.startsWith('file:') && !url.startsWith('data:'))).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
