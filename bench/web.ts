/**
 * `turngym bench web`: the web envs in a real Chromium, against a naive Playwright loop run side by side in
 * the same process, on the same browser and the same site servers.
 *
 * Workload: oracle episodes of web/shop-v0, web/forms-v0 and web/wiki-v0 over every difficulty (searching,
 * following links, typing, choosing options, ticking boxes, submitting forms). Each env episode is recorded
 * and at once replayed by the naive loop on the same task, so both do the same actions on the same pages
 * and load from other work on the machine hits both alike. A replay must end where the env's episode did
 * (the same page, the same order placed or form submitted, rightly); the latency figures cover the episodes
 * both sides completed, and `problems` counts the rest (timeouts and faults on a busy machine).
 *
 * The naive loop is what a first Playwright agent does: a new context and page per reset (after closing the
 * previous one), opened with `page.goto`'s default wait for the load event; elements found with locators and
 * acted on with Playwright's auto-waiting actions (`click`, `fill`, `press`, `selectOption`, `check`), then
 * `waitForURL` / `waitForLoadState`; and the whole page's aria snapshot (`page.ariaSnapshot({ mode: 'ai' })`,
 * the text Playwright MCP gives a model) as every step's observation.
 *
 * Figures: step latency p50/p95 (the action and the next observation, from the caller's side, through
 * `make`'s wrappers; `answer` steps touch no page and are left out of both sides), split into steps that
 * stay on the page and steps that load another; reset latency p50/p95 (after an episode, the usual case);
 * steps/s with 8 envs stepping at once (one browser, 8 contexts), resets included; ratios of medians.
 */
import { loadavg } from 'node:os';
import type { BrowserContext, Page } from 'playwright-core';
import type { Env, ToolCall } from '../src/envs/env.js';
import { make } from '../src/envs/registry.js';
import { TurngymError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import { CHROMIUM_ENV, findChromium, packagedChromium, sharedBrowser } from '../src/envs/web/chromium.js';
import type { WebEnv, WebTask, WebTaskSuite } from '../src/envs/web/env.js';
import { formsSuite } from '../src/envs/web/forms.js';
import { SESSION_COOKIE, type Site, type SiteServer } from '../src/envs/web/sites/server.js';
import { acquireSite, releaseSite } from '../src/envs/web/sites/shared.js';
import { shopSuite } from '../src/envs/web/shop.js';
import { wikiSuite } from '../src/envs/web/wiki.js';
import { Wrapper } from '../src/envs/wrappers.js';
import { latencySummary, median, now, round } from './stats.js';
import '../src/envs/builtin.js';

type Suite = WebTaskSuite<WebTask, object>;

const SUITES: Record<string, Suite> = {
  'web/shop-v0': shopSuite as unknown as Suite,
  'web/forms-v0': formsSuite as unknown as Suite,
  'web/wiki-v0': wikiSuite as unknown as Suite,
};
const IDS = Object.keys(SUITES);

export interface WebBenchOptions {
  /** Episodes per env for the latency figures, difficulties cycling from 1 to the suite's highest (default 15). */
  episodes?: number;
  /** Envs stepping at once for the throughput figure (default 8). */
  concurrency?: number;
  /** Length of one throughput run, per side, in ms (default 10000). */
  durationMs?: number;
  /** Throughput runs per side, alternating env and naive loop; figures are their medians (default 3). */
  rounds?: number;
}

/** One recorded env step: what the naive loop needs to do the same. */
interface RecordedStep {
  call: ToolCall;
  /** The element acted on, as `page.locator(tag).nth(nth)` finds it in the same page. */
  target?: { tag: string; nth: number };
  /** Path and query before and after the step. */
  urlBefore: string;
  urlAfter: string;
  /** The step answered with an error observation (e.g. a TIMEOUT): the page is as it was. */
  failed: boolean;
}

interface RecordedEpisode {
  id: string;
  seed: number;
  difficulty: number;
  steps: RecordedStep[];
  /** Whether the oracle solved the task (a step can time out on a machine this busy; the oracle goes on). */
  solved: boolean;
  /** Steps that answered with an error observation (they are not replayed). */
  errors: number;
  /** The episode ended on an infrastructure fault (`ENV_FAILURE`). */
  fault: boolean;
}

interface Samples {
  step: number[];
  inPage: number[];
  navigation: number[];
  reset: number[];
  observationChars: number[];
}

function emptySamples(): Samples {
  return { step: [], inPage: [], navigation: [], reset: [], observationChars: [] };
}

function addSamples(into: Samples, from: Samples): void {
  for (const key of Object.keys(into) as (keyof Samples)[]) into[key].push(...from[key]);
}

// Where the element with a turngym id sits among the page's elements of its tag (a string: nothing of the
// bundler may leak into the page).
const TARGET_OF = (id: number) => `(() => {
  const element = document.querySelector('[data-tg="${id}"]');
  if (!element) return null;
  const tag = element.tagName.toLowerCase();
  return { tag, nth: Array.from(document.querySelectorAll(tag)).indexOf(element) };
})()`;

function webEnvOf(env: Env): WebEnv<WebTask, object> {
  return (env instanceof Wrapper ? env.unwrapped : env) as unknown as WebEnv<WebTask, object>;
}

function difficultyOf(id: string, episode: number): number {
  const [low, high] = SUITES[id]!.difficulties;
  return low + (episode % (high - low + 1));
}

/**
 * Plays one oracle episode on the env; records it (`replayable`: with where each element is, for the naive
 * loop), with the latencies of the steps the naive loop replays
 * (not `answer`, not steps that failed). An infrastructure fault (`ENV_FAILURE`: on a machine this busy, a
 * page can stay frozen past the recovery limit) ends the episode unsolved, as a trainer would retry it.
 */
async function envEpisode(
  env: Env,
  id: string,
  seed: number,
  difficulty: number,
  replayable = true,
): Promise<{ record: RecordedEpisode; samples: Samples }> {
  const web = webEnvOf(env);
  const samples = emptySamples();
  const record: RecordedEpisode = { id, seed, difficulty, steps: [], solved: false, errors: 0, fault: false };
  try {
    let start = now();
    const reset = await env.reset({ seed, options: { difficulty } });
    samples.reset.push(now() - start);
    samples.observationChars.push(reset.observation.text.length);
    const oracle = env.oracle!();
    let observation = reset.observation;
    let info: Record<string, unknown> = reset.info;
    let url = String(reset.info.url);
    for (let turn = 0; turn < env.spec.maxTurns; turn++) {
      const action = await oracle.next(observation, info);
      if (typeof action !== 'object' || action === null)
        throw new Error(`${id} seed ${seed}: the oracle answered ${String(action)}, not a tool call`);
      const elementId = action.args.id;
      // Where the naive loop will find the element (a round trip of the benchmark's own, not timed).
      const target =
        replayable && typeof elementId === 'number'
          ? (((await web.page!.evaluate(TARGET_OF(elementId))) as RecordedStep['target'] | null) ?? undefined)
          : undefined;
      start = now();
      const result = await env.step(action);
      const elapsed = now() - start;
      const failed = result.info.error !== undefined;
      if (failed) record.errors++;
      const urlAfter = typeof result.info.url === 'string' ? result.info.url : url;
      if (action.tool !== 'answer' && !failed) {
        samples.step.push(elapsed);
        (urlAfter === url ? samples.inPage : samples.navigation).push(elapsed);
        samples.observationChars.push(result.observation.text.length);
      }
      record.steps.push({ call: action, target, urlBefore: url, urlAfter, failed });
      url = urlAfter;
      observation = result.observation;
      info = result.info;
      if (result.terminated || result.truncated) {
        record.solved = result.info.success === true;
        break;
      }
    }
  } catch (error) {
    if (!TurngymError.is(error, 'ENV_FAILURE')) throw error;
    record.fault = true;
  }
  return { record, samples };
}

/** The naive loop's own browsing: a context and page per episode, locators, default waits, full snapshots. */
class NaiveLoop {
  private context: BrowserContext | undefined;
  private token: string | undefined;

  constructor(
    private readonly server: SiteServer<object>,
    private readonly suite: Suite,
  ) {}

  /** Replays `episode` with the same latencies taken; checks that it ends where the env's did. */
  async replay(episode: RecordedEpisode): Promise<{ steps: number; samples: Samples }> {
    const samples = emptySamples();
    const start = now();
    const task = this.suite.generate(Rng.fromSeed(episode.seed), episode.difficulty);
    const page = await this.open(task);
    const first = await page.ariaSnapshot({ mode: 'ai' });
    samples.reset.push(now() - start);
    samples.observationChars.push(first.length);
    for (const step of episode.steps) {
      if (step.call.tool === 'answer' || step.failed) continue;
      const begin = now();
      await this.act(page, step);
      const snapshot = await page.ariaSnapshot({ mode: 'ai' });
      const elapsed = now() - begin;
      samples.step.push(elapsed);
      (step.urlAfter === step.urlBefore ? samples.inPage : samples.navigation).push(elapsed);
      samples.observationChars.push(snapshot.length);
    }
    this.check(episode, task, page);
    return { steps: samples.step.length, samples };
  }

  async close(): Promise<void> {
    if (this.token) this.server.closeSession(this.token);
    await this.context?.close();
    this.context = undefined;
  }

  private async open(task: WebTask): Promise<Page> {
    await this.close();
    const browser = await sharedBrowser.browser();
    this.context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    this.context.setDefaultTimeout(30_000);
    this.token = this.server.openSession(this.suite.createState(task));
    await this.context.addCookies([{ name: SESSION_COOKIE, value: this.token, url: this.server.origin }]);
    const page = await this.context.newPage();
    await page.goto(this.server.origin + task.startPath);
    return page;
  }

  private async act(page: Page, step: RecordedStep): Promise<void> {
    const { call } = step;
    const locator = step.target ? page.locator(step.target.tag).nth(step.target.nth) : undefined;
    const args = call.args as Record<string, unknown>;
    switch (call.tool) {
      case 'click':
        await locator!.click();
        break;
      case 'type':
        await locator!.fill(String(args.text));
        if (args.submit === true) await locator!.press('Enter');
        break;
      case 'select':
        await locator!.selectOption(String(args.option));
        break;
      case 'check':
        await (args.checked === false ? locator!.uncheck() : locator!.check());
        break;
      case 'goto':
        await page.goto(this.server.origin + String(args.path));
        return;
      case 'back':
        await page.goBack();
        return;
      case 'scroll':
        await page.mouse.wheel(0, args.direction === 'up' || args.direction === 'top' ? -600 : 600);
        break;
      default:
        throw new Error(`the naive loop cannot replay ${call.tool}`);
    }
    if (step.urlAfter !== step.urlBefore) await page.waitForURL((url) => url.pathname + url.search === step.urlAfter);
    else await page.waitForLoadState();
  }

  private check(episode: RecordedEpisode, task: WebTask, page: Page): void {
    const where = `the naive replay of ${episode.id} seed ${episode.seed}`;
    const last = episode.steps.at(-1)!;
    const url = new URL(page.url());
    if (url.pathname + url.search !== last.urlAfter)
      throw new Error(`${where} ended at ${url.pathname}${url.search}, not ${last.urlAfter}`);
    const state = this.server.session(this.token!)!;
    if (this.suite.finished(task, state) && !this.suite.verify(task, { state }).success)
      throw new Error(`${where} did not do the task right`);
  }
}

/** Envs (or naive loops) stepping at once for `durationMs`; steps/s and episodes/s over all of them. */
async function throughput(
  workers: ((deadline: number) => Promise<{ steps: number; episodes: number }>)[],
  durationMs: number,
) {
  const start = now();
  const deadline = start + durationMs;
  // Every worker settles before a failure is thrown, so nothing is still using an env when they are closed.
  const settled = await Promise.allSettled(workers.map((worker) => worker(deadline)));
  const failed = settled.find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  const counts = settled.map(
    (outcome) => (outcome as PromiseFulfilledResult<{ steps: number; episodes: number }>).value,
  );
  const seconds = (now() - start) / 1000;
  const steps = counts.reduce((sum, count) => sum + count.steps, 0);
  const episodes = counts.reduce((sum, count) => sum + count.episodes, 0);
  return { stepsPerSecond: steps / seconds, episodesPerSecond: episodes / seconds };
}

export async function runWebBench(options: WebBenchOptions = {}) {
  const episodes = options.episodes ?? 15;
  const concurrency = options.concurrency ?? 8;
  const durationMs = options.durationMs ?? 10_000;
  const rounds = options.rounds ?? 3;
  const loadBefore = loadavg()[0]!;
  const chromium = await findChromium();

  // One browser reference held for the whole run, so the naive loops and the envs share one Chromium.
  sharedBrowser.acquire();
  const servers: Record<string, SiteServer<object>> = {};
  for (const id of IDS) servers[id] = (await acquireSite(SUITES[id]!.site as Site<object>)) as SiteServer<object>;
  const envs: Record<string, Env> = {};
  const naive: Record<string, NaiveLoop> = {};
  const pooledIds = Array.from({ length: concurrency }, (_, index) => IDS[index % IDS.length]!);
  const pooled: Env[] = [];
  const pooledNaive: NaiveLoop[] = [];

  try {
    for (const id of IDS) {
      envs[id] = await make(id);
      naive[id] = new NaiveLoop(servers[id]!, SUITES[id]!);
    }
    // Warm-up: the browser starts, the wiki's knowledge base is generated, both sides' code paths run once.
    const recorded: Record<string, RecordedEpisode[]> = Object.fromEntries(IDS.map((id) => [id, []]));
    for (const id of IDS) {
      const played = await envEpisode(envs[id]!, id, 1_000_000, difficultyOf(id, 0));
      if (played.record.solved) await naive[id]!.replay(played.record);
    }

    // Latency: each env episode, then its replay by the naive loop; an episode counts when both completed.
    const trouble = {
      latency: { error_observations: 0, unsolved_episodes: 0, env_failures: 0, naive_failures: 0 },
      throughput: { error_observations: 0, env_failures: 0, naive_failures: 0 },
    };
    const env = emptySamples();
    const baseline = emptySamples();
    const byEnv: Record<string, { env: Samples; naive: Samples }> = Object.fromEntries(
      IDS.map((id) => [id, { env: emptySamples(), naive: emptySamples() }]),
    );
    for (let episode = 0; episode < episodes; episode++) {
      for (const id of IDS) {
        const played = await envEpisode(envs[id]!, id, episode, difficultyOf(id, episode));
        trouble.latency.error_observations += played.record.errors;
        if (played.record.fault) trouble.latency.env_failures++;
        if (!played.record.solved) {
          trouble.latency.unsolved_episodes++;
          continue;
        }
        const replayed = await naive[id]!.replay(played.record).catch(() => undefined);
        if (!replayed) {
          trouble.latency.naive_failures++;
          continue;
        }
        addSamples(byEnv[id]!.env, played.samples);
        addSamples(byEnv[id]!.naive, replayed.samples);
        recorded[id]!.push(played.record);
      }
    }
    for (const mine of Object.values(byEnv)) {
      addSamples(env, mine.env);
      addSamples(baseline, mine.naive);
    }

    // Throughput: `concurrency` envs (ids in turn) playing oracle episodes, then as many naive loops replaying.
    pooled.push(...(await Promise.all(pooledIds.map((id) => make(id)))));
    pooledNaive.push(...pooledIds.map((id) => new NaiveLoop(servers[id]!, SUITES[id]!)));
    await Promise.all(pooled.map((pooledEnv, index) => pooledEnv.reset({ seed: index })));
    let nextSeed = 2_000_000;
    const envWorker = (index: number) => async (deadline: number) => {
      const id = pooledIds[index]!;
      let steps = 0;
      let done = 0;
      while (now() < deadline) {
        const seed = nextSeed++;
        const played = await envEpisode(pooled[index]!, id, seed, difficultyOf(id, seed), false);
        steps += played.record.steps.filter((step) => step.call.tool !== 'answer').length;
        trouble.throughput.error_observations += played.record.errors;
        if (played.record.fault) trouble.throughput.env_failures++;
        done++;
      }
      return { steps, episodes: done };
    };
    const naiveWorker = (index: number) => async (deadline: number) => {
      const mine = recorded[pooledIds[index]!]!;
      if (mine.length === 0)
        throw new Error(`no ${pooledIds[index]} episode was completed on both sides, so there is none to replay`);
      let steps = 0;
      let done = 0;
      while (now() < deadline) {
        const replayed = await pooledNaive[index]!.replay(mine[(index + done++) % mine.length]!).catch(() => undefined);
        if (replayed) steps += replayed.steps;
        else trouble.throughput.naive_failures++;
      }
      return { steps, episodes: done };
    };
    const envRuns: { stepsPerSecond: number; episodesPerSecond: number }[] = [];
    const naiveRuns: { stepsPerSecond: number; episodesPerSecond: number }[] = [];
    for (let round = 0; round < rounds; round++) {
      envRuns.push(
        await throughput(
          pooledIds.map((_, index) => envWorker(index)),
          durationMs,
        ),
      );
      naiveRuns.push(
        await throughput(
          pooledIds.map((_, index) => naiveWorker(index)),
          durationMs,
        ),
      );
    }

    const summary = (samples: Samples) => ({
      step: {
        ...latencySummary(samples.step),
        in_page: latencySummary(samples.inPage),
        navigation: latencySummary(samples.navigation),
      },
      reset: latencySummary(samples.reset),
      observation_chars_p50: median(samples.observationChars),
    });
    const throughputOf = (runs: typeof envRuns) => ({
      envs: concurrency,
      steps_per_s: round(median(runs.map((run) => run.stepsPerSecond))),
      episodes_per_s: round(median(runs.map((run) => run.episodesPerSecond))),
    });
    const envThroughput = throughputOf(envRuns);
    const naiveThroughput = throughputOf(naiveRuns);
    return {
      benchmark: 'web',
      envs: IDS,
      chromium,
      episodes_per_env: episodes,
      machine: { load_average_1m_before: round(loadBefore, 3), load_average_1m_after: round(loadavg()[0]!, 3) },
      ...summary(env),
      throughput: envThroughput,
      naive_baseline: {
        description:
          'new context and page per reset, page.goto waiting for load, locator actions with auto-waiting, waitForURL/waitForLoadState, page.ariaSnapshot({ mode: "ai" }) per step',
        ...summary(baseline),
        throughput: naiveThroughput,
      },
      speedup_p50: {
        step: round(median(baseline.step) / median(env.step)),
        step_in_page: round(median(baseline.inPage) / median(env.inPage)),
        step_navigation: round(median(baseline.navigation) / median(env.navigation)),
        reset: round(median(baseline.reset) / median(env.reset)),
      },
      throughput_ratio: round(envThroughput.steps_per_s / naiveThroughput.steps_per_s),
      // What went wrong on a busy machine: error observations (timeouts), episodes left out of the latency
      // figures, infrastructure faults (ENV_FAILURE) and naive replays that failed (a Playwright timeout).
      problems: trouble,
      by_env: Object.fromEntries(
        IDS.map((id) => {
          const mine = byEnv[id]!;
          return [
            id,
            {
              steps: mine.env.step.length,
              step_p50_ms: round(median(mine.env.step)),
              reset_p50_ms: round(median(mine.env.reset)),
              naive_step_p50_ms: round(median(mine.naive.step)),
              naive_reset_p50_ms: round(median(mine.naive.reset)),
            },
          ];
        }),
      ),
      targets: { step_p50_ms: 30, reset_p50_ms: 100 },
    };
  } finally {
    const everyEnv = [...Object.values(envs), ...pooled];
    const everyLoop = [...Object.values(naive), ...pooledNaive];
    await Promise.allSettled([...everyEnv.map((one) => one.close()), ...everyLoop.map((loop) => loop.close())]);
    for (const id of IDS) await releaseSite(SUITES[id]!.site as Site<unknown>);
    await sharedBrowser.release();
  }
}

export interface BrowserBenchOptions {
  /** Oracle episodes per env and browser in each round (default 6). */
  episodes?: number;
  /** Rounds, alternating the browsers; figures are medians over all rounds (default 3). */
  rounds?: number;
}

/**
 * `turngym bench web-browsers`: the same oracle episodes of every web env in the machine's own Chromium (the
 * first found on the PATH: Debian's headless shell here) and in the one packaged with @sparticuz/chromium,
 * rounds alternating so that load hits both alike; step and reset latency p50/p95 and the launch time of
 * each, with ratios of medians (packaged / system).
 */
export async function runBrowserBench(options: BrowserBenchOptions = {}) {
  const episodes = options.episodes ?? 6;
  const rounds = options.rounds ?? 3;
  const system = await findChromium({ PATH: process.env.PATH, HOME: process.env.HOME });
  const packaged = await packagedChromium();
  if (system.source === 'packaged' || !packaged) {
    throw new TurngymError(
      'NOT_SUPPORTED',
      'bench web-browsers compares a Chromium of the machine (on the PATH, e.g. apt-get install -y chromium-headless-shell) with the packaged one (npm install): one of them is missing.',
    );
  }
  const browsers = { system: system.path, packaged };
  const samples = { system: emptySamples(), packaged: emptySamples() };
  const launches = { system: [] as number[], packaged: [] as number[] };
  const previous = process.env[CHROMIUM_ENV];
  try {
    for (let pass = 0; pass < rounds; pass++) {
      for (const [name, path] of Object.entries(browsers) as [keyof typeof browsers, string][]) {
        process.env[CHROMIUM_ENV] = path;
        const envs = await Promise.all(IDS.map((id) => make(id)));
        const start = now();
        await envs[0]!.reset({ seed: 0 }); // launches this browser (the last env closed the other one)
        launches[name].push(now() - start);
        try {
          for (let episode = 0; episode < episodes; episode++) {
            for (const [index, id] of IDS.entries()) {
              const played = await envEpisode(
                envs[index]!,
                id,
                pass * 1000 + episode,
                difficultyOf(id, episode),
                false,
              );
              addSamples(samples[name], played.samples);
            }
          }
        } finally {
          for (const env of envs) await env.close();
        }
      }
    }
  } finally {
    if (previous === undefined) delete process.env[CHROMIUM_ENV];
    else process.env[CHROMIUM_ENV] = previous;
  }
  const summary = (name: keyof typeof browsers) => ({
    launch_ms_p50: round(median(launches[name])),
    step: latencySummary(samples[name].step),
    reset: latencySummary(samples[name].reset),
  });
  return {
    benchmark: 'web-browsers',
    envs: IDS,
    episodes_per_env_and_round: episodes,
    rounds,
    system: { path: system.path, ...summary('system') },
    packaged: { path: packaged, ...summary('packaged') },
    packaged_over_system_p50: {
      step: round(median(samples.packaged.step) / median(samples.system.step)),
      reset: round(median(samples.packaged.reset) / median(samples.system.reset)),
      launch: round(median(launches.packaged) / median(launches.system)),
    },
  };
}
