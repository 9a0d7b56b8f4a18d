/**
 * The web env: a task suite played on a bundled site in a real Chromium (playwright-core).
 *
 * One browser per process ({@link sharedBrowser}); each episode gets a fresh, isolated browser context with
 * the episode's site session, and the next context is prepared in the background while the agent plays (its
 * page already on the site), so a reset costs one navigation. A step is one `page.evaluate` for the action,
 * which also returns the observation when the page stayed, or, when the action navigated, that call and a
 * wait for the next page: a page of the site sends its observation by itself once it has loaded.
 *
 * Agent mistakes (an unknown id, typing into a button, a missing option, a path off the site, a page that
 * throws, an action that times out) are error observations with the page as it now is. A step that leaves
 * the site (a link, a page script) is one too, and the browser is taken back to the site first. A crashed
 * page or browser is an {@link EnvFailureError} on `step` and is recovered by the next `reset`.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { EnvSpec, Observation, ResetOptions, ResetResult, StepResult, ToolCall } from '../env.js';
import { type ActionErrorCode, EnvFailureError, describeError } from '../../core/errors.js';
import { type Task, TaskEnv, type TaskSuite, type Verdict } from '../task.js';
import { sharedBrowser } from './chromium.js';
import { PAGE_SCRIPT } from './page-script.js';
import { BLANK_PATH, SESSION_COOKIE, type Site, type SiteServer } from './sites/server.js';
import { acquireSite, releaseSite } from './sites/shared.js';

/** Settings every web env accepts as kwargs. */
export interface WebSettings {
  /** Time limit of one action, including the page load it causes, in ms (default 5000). */
  actionTimeoutMs: number;
  /** Add a PNG screenshot (base64) to every observation. */
  screenshot: boolean;
  /** Most characters of page tree per observation; a longer page is shown around the viewport. */
  maxTreeChars: number;
}

export const DEFAULT_WEB_SETTINGS: WebSettings = { actionTimeoutMs: 5000, screenshot: false, maxTreeChars: 6000 };

/** A web task: where the episode starts, on top of the usual prompt and answer. */
export interface WebTask extends Task {
  /** Path the episode's page opens at, e.g. `/`. */
  startPath: string;
}

/** What a web task's verifier sees: the site session's state (orders, submissions) and the answer, if any. */
export interface WebSubmission<State> {
  state: State;
  answer?: string;
}

/** A task suite played on a bundled site. */
export interface WebTaskSuite<T extends WebTask, State> extends TaskSuite<T, WebSubmission<State>> {
  readonly site: Site<State>;
  /** A fresh session state for the task (its catalogue, its form). */
  createState(task: T): State;
  /** True once the agent's doing ends the episode (an order placed, a form submitted). */
  finished(task: T, state: State): boolean;
}

/** What one observation of the page says, before it is turned into text. */
interface PageView {
  url: string;
  title: string;
  lines: string[];
  /** Index of the first line in the viewport, and of the last. */
  firstVisible: number;
  lastVisible: number;
  scroll: number | null;
  errors: string[];
  /** Popups the page script blocked since the last observation. */
  popups: number;
  /** An id of the document (one per page load), to tell a new page from the one an action ran in. */
  document: string;
}

interface ActOutcome {
  error: string | null;
  navigating: boolean;
  errors: string[];
  /** The page scrolled. */
  moved: boolean;
  /** The page after the action, when it did not start loading another (taken in the same round trip). */
  view?: PageView;
}

/** A browser context with its page and the bookkeeping of one episode. */
interface Episode {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Requests to anything but the site, aborted. */
  blocked: { count: number; urls: string[] };
  /** DOMContentLoaded events of the main frame so far. */
  loads: number;
  /** Things that happened beside the action (dialogs, popups, downloads), told in the next observation. */
  notes: string[];
  crashed: boolean;
  /** The last main-frame navigation that failed (shown as the URL of the browser's error page). */
  failedUrl?: string;
  /** The URL of the last page of the site observed: where the browser returns when it leaves the site. */
  siteUrl?: string;
  /** True while the env opens the episode's own page (so it is not taken for a popup). */
  opening: boolean;
  /** Resolves pending load waits early (a download, a blocked navigation, a crash). */
  wake: (() => void)[];
  /** The session's token: its cookie is set when the context is prepared, the session opens at reset. */
  token?: string;
  /** The page as an action that stayed on it left it, for the observation that follows the action. */
  afterAction?: PageView;
  /** The last observation a page sent by itself when it loaded, and how many it has sent. */
  pushed?: { view: PageView; sequence: number };
  pushes: number;
  /** The document of the last observation. */
  document?: string;
  /**
   * The window of tree lines shown when the page's tree is over the budget, for one document: it starts
   * `offset` lines past the first line in the viewport (at line `start`) and shows `shown` lines; the
   * viewport ends at line `lastVisible`.
   */
  window: { document?: string; offset: number; start: number; shown: number; lastVisible: number };
}

/** Where an action started: the pushes so far and the document it ran in. */
interface Since {
  pushes: number;
  document: string | undefined;
}

class ActionTimeout extends Error {}

/** Least time allowed for an episode's first page to open (reset). */
const FIRST_PAGE_TIMEOUT_MS = 30_000;

/** The binding a page calls with its first observation once it has loaded (see the page script). */
const LOADED_BINDING = '__turngymLoaded';

/** Longest wait, after a page has loaded, for the observation it sends by itself before asking for one. */
const PUSH_GRACE_MS = 1000;

/** Time allowed to replace a frozen page (closing it kills its renderer, which can take a moment), and the most `close()` waits for background work. */
const RECOVERY_MS = 15_000;

// Page-side expressions are strings, so no bundler helper can leak into the page. The site's blank page,
// opened before the episode, does not count as a page to go back to.
const CAN_GO_BACK = `(() => {
  const navigation = window.navigation;
  if (!navigation || !navigation.currentEntry) return false;
  const index = navigation.currentEntry.index;
  return navigation.entries().some((entry) => entry.index === index - 1 && !String(entry.url).includes(${JSON.stringify(BLANK_PATH)}));
})()`;

/** A web env for one task suite. Build it with {@link WebEnv.open}, which starts the site and takes a browser reference. */
export class WebEnv<T extends WebTask, State> extends TaskEnv<T> {
  private server!: SiteServer<State>;
  private episode: Episode | undefined;
  private spare: Promise<Episode | undefined> | undefined;
  private readonly background = new Set<Promise<unknown>>();
  private opened = false;
  private lastScreenshot: string | undefined;

  private constructor(
    spec: EnvSpec,
    private readonly webSuite: WebTaskSuite<T, State>,
    difficulty: number,
    readonly settings: WebSettings,
  ) {
    super(spec, webSuite as unknown as TaskSuite<T, never>, difficulty);
  }

  /** Creates the env: starts (or shares) the site's server and takes a reference on the shared browser. */
  static async open<T extends WebTask, State>(
    spec: EnvSpec,
    suite: WebTaskSuite<T, State>,
    difficulty: number,
    settings: Partial<WebSettings> = {},
  ): Promise<WebEnv<T, State>> {
    const env = new WebEnv(spec, suite, difficulty, { ...DEFAULT_WEB_SETTINGS, ...settings });
    env.server = await acquireSite(suite.site);
    sharedBrowser.acquire();
    env.opened = true;
    return env;
  }

  /** The site's origin, e.g. `http://127.0.0.1:41234` (for tests and debugging). */
  get origin(): string {
    return this.server.origin;
  }

  /** The current episode's page (for tests and debugging; agents never get it). */
  get page(): Page | undefined {
    return this.episode?.page;
  }

  /** Privileged: the current episode's site state (orders, submissions). */
  siteState(): State | undefined {
    return this.episode?.token ? this.server.session(this.episode.token) : undefined;
  }

  override async reset(options: ResetOptions = {}): Promise<ResetResult> {
    const result = await super.reset(options);
    return this.lastScreenshot
      ? { ...result, observation: { ...result.observation, screenshot: this.lastScreenshot } }
      : result;
  }

  protected override async startEpisode(task: T): Promise<{ text: string; info: Record<string, unknown> }> {
    if (!this.opened) throw new EnvFailureError(`${this.spec.id} is closed.`);
    // The previous episode's context is closed only once this episode's first page is up, so that the
    // browser's work of closing it does not slow the reset.
    const previous = this.detach();
    try {
      const browser = await sharedBrowser.browser();
      // No agent action can slow the first page, so its limit is generous: only an overloaded machine or a
      // hung browser reaches it.
      const limitMs = Math.max(this.settings.actionTimeoutMs, FIRST_PAGE_TIMEOUT_MS);
      let episode: Episode;
      let view: PageView;
      for (let attempt = 0; ; attempt++) {
        const spare = attempt === 0 ? await this.takeSpare(browser) : undefined;
        episode = spare ?? (await whileConnected(browser, this.prepare(browser, false)));
        this.server.openSession(this.webSuite.createState(task), episode.token);
        this.episode = episode;
        try {
          const since = this.since(episode);
          await this.timed(
            episode.page.goto(this.server.origin + task.startPath, { waitUntil: 'domcontentloaded', timeout: limitMs }),
            'opening the first page',
            limitMs,
          );
          await this.awaitPush(episode, since);
          view = await this.observe(episode, since);
          break;
        } catch (error) {
          this.retire();
          // The prepared page can have crashed after it was checked, before its 'crash' event arrived (a crash
          // that took every renderer, say; the navigation then fails as crashed or aborted): a fresh context
          // gets a renderer of its own. Not after a timeout, which a second try would only make longer.
          if (spare && !(error instanceof ActionTimeout)) continue;
          if (error instanceof EnvFailureError) throw error;
          throw new EnvFailureError(
            `${this.spec.id}: the episode's first page did not open: ${describeError(error).split('\n')[0]}`,
            { cause: error },
          );
        }
      }
      const text = await this.render(episode, view, undefined);
      // The next episode's context is prepared while this one is played.
      this.spare = whileConnected(browser, this.prepare(browser, true)).catch(() => undefined);
      this.track(this.spare);
      return { text: `${task.prompt}\n\n${text}`, info: { url: view.url, blocked_requests: episode.blocked.count } };
    } finally {
      if (previous) this.track(previous.context.close().catch(() => undefined));
    }
  }

  protected async callTool(call: ToolCall, task: T): Promise<StepResult> {
    const episode = this.liveEpisode();
    if (call.tool === 'answer') {
      const verdict = this.webSuite.verify(task, { state: this.sessionState(episode), answer: String(call.args.text) });
      return this.final(verdict);
    }
    let error: { code: ActionErrorCode; message: string } | undefined;
    const since = this.since(episode);
    try {
      error = await this.perform(episode, call, since);
    } catch (thrown) {
      if (thrown instanceof ActionTimeout) error = { code: 'TIMEOUT', message: thrown.message };
      else throw this.infrastructure(episode, thrown);
    }
    let view: PageView;
    try {
      view = await this.observe(episode, since);
      if (!this.onSite(episode.page.url())) {
        const left = view.url;
        view = await this.returnToSite(episode);
        const message = `The page left the site for ${left}; only this site can be browsed, so the browser ${this.onSite(episode.page.url()) ? 'went back to' : 'could not go back; it is on'} ${view.url}.`;
        error = error ? { code: error.code, message: `${error.message} ${message}` } : { code: 'TOOL_ERROR', message };
      }
    } catch (thrown) {
      throw this.infrastructure(episode, thrown);
    }
    if (!error && view.errors.length > 0)
      error = { code: 'TOOL_ERROR', message: `The page threw an error: ${view.errors.join(' | ')}` };
    const text = await this.render(episode, view, error?.message);
    const state = this.sessionState(episode);
    if (this.webSuite.finished(task, state)) {
      const verdict = this.webSuite.verify(task, { state });
      return {
        ...this.final(verdict, text),
        info: { success: verdict.success, url: view.url, blocked_requests: episode.blocked.count },
      };
    }
    const observation: Observation = { text };
    if (this.lastScreenshot) observation.screenshot = this.lastScreenshot;
    return {
      observation,
      reward: 0,
      terminated: false,
      truncated: false,
      info: { ...(error ? { error } : {}), url: view.url, blocked_requests: episode.blocked.count },
    };
  }

  protected override async dispose(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    this.retire();
    const spare = this.spare;
    this.spare = undefined;
    if (spare) this.track(spare.then((prepared) => prepared?.context.close()).catch(() => undefined));
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
    await releaseSite(this.webSuite.site as Site<unknown>);
    await sharedBrowser.release();
  }

  // ---------------------------------------------------------------------------------------------------

  private final(verdict: Verdict, pageText?: string): StepResult {
    const outcome = verdict.success ? 'Task complete.' : 'Task failed.';
    const text = [pageText, `${outcome}${verdict.feedback ? ` ${verdict.feedback}` : ''}`].filter(Boolean).join('\n\n');
    return {
      observation: { text },
      reward: verdict.score,
      terminated: true,
      truncated: false,
      info: { success: verdict.success },
    };
  }

  private sessionState(episode: Episode): State {
    const state = episode.token ? this.server.session(episode.token) : undefined;
    if (!state) throw new EnvFailureError(`${this.spec.id}: the episode's site session is gone.`);
    return state;
  }

  private liveEpisode(): Episode {
    const episode = this.episode;
    if (!episode) throw new EnvFailureError(`${this.spec.id}: no episode in progress; call reset().`);
    if (episode.crashed)
      throw new EnvFailureError(
        `${this.spec.id}: the page crashed; call reset() to start a new episode (the browser recovers there).`,
      );
    if (!episode.browser.isConnected())
      throw new EnvFailureError(
        `${this.spec.id}: the browser is gone (crashed or killed); call reset() to start a new episode in a new browser.`,
      );
    return episode;
  }

  private infrastructure(episode: Episode, error: unknown): EnvFailureError {
    const reason = episode.crashed
      ? 'the page crashed'
      : !episode.browser.isConnected()
        ? 'the browser is gone'
        : describeError(error).split('\n')[0];
    return new EnvFailureError(`${this.spec.id}: ${reason}; call reset() to start a new episode.`, { cause: error });
  }

  /** Carries out a browser action; returns the agent's mistake, if any. Throws ActionTimeout or infrastructure errors. */
  private async perform(
    episode: Episode,
    call: ToolCall,
    since: Since,
  ): Promise<{ code: ActionErrorCode; message: string } | undefined> {
    const { page } = episode;
    const args = call.args;
    if (call.tool === 'scroll' && this.scrollWindow(episode, String(args.direction))) return undefined;
    switch (call.tool) {
      case 'goto': {
        const target = this.resolvePath(String(args.path));
        if (typeof target !== 'string') return { code: 'TOOL_ERROR', message: target.error };
        return this.navigate(
          episode,
          () => page.goto(target, { waitUntil: 'domcontentloaded', timeout: this.settings.actionTimeoutMs }),
          `goto(${JSON.stringify(args.path)})`,
          since,
        );
      }
      case 'back': {
        // The previous history entry must be a page of the site (not the empty page the tab opened with, nor the site's blank page).
        const offSite = !this.onSite(page.url());
        // A page that navigates away while asked has a page to go back to.
        const canGoBack =
          offSite ||
          (await this.timed(page.evaluate<boolean>(CAN_GO_BACK)).catch((error: unknown) =>
            isContextDestroyed(error) ? true : Promise.reject(error),
          ));
        if (!canGoBack) return { code: 'TOOL_ERROR', message: 'There is no previous page of this site to go back to.' };
        return this.navigate(
          episode,
          () => page.goBack({ waitUntil: 'domcontentloaded', timeout: this.settings.actionTimeoutMs }),
          'back()',
          since,
        );
      }
      default: {
        const kind = call.tool;
        const id = args.id ?? 0;
        const argument =
          kind === 'type' ? args.text : kind === 'select' ? args.option : kind === 'scroll' ? args.direction : null;
        const flag = kind === 'type' ? args.submit === true : kind === 'check' ? args.checked !== false : false;
        const loadsBefore = episode.loads;
        let outcome: ActOutcome;
        try {
          outcome = await this.timed(
            page.evaluate<ActOutcome>(
              `window.__turngym.act(${[kind, id, argument, flag].map((value) => JSON.stringify(value)).join(', ')})`,
            ),
            `${kind}(${id || argument})`,
          );
        } catch (error) {
          if (error instanceof ActionTimeout) {
            await this.unfreeze(episode);
            throw error;
          }
          if (/__turngym/.test(describeError(error)))
            return {
              code: 'TOOL_ERROR',
              message: 'This page cannot be operated (it is not a page of the site); use back() or goto(path).',
            };
          // A script of the page (a javascript: link, a timer) navigated while the action ran.
          if (isContextDestroyed(error)) {
            await this.waitForLoad(episode, loadsBefore);
            return {
              code: 'TOOL_ERROR',
              message: `${kind}(${id || argument}) was cut short: the page went to another page meanwhile; look at it before acting again.`,
            };
          }
          throw error;
        }
        episode.afterAction = outcome.view;
        if (outcome.navigating) {
          const waited = await this.waitForLoad(episode, loadsBefore);
          if (!waited) {
            await this.stopLoading(episode);
            return {
              code: 'TIMEOUT',
              message: `${kind}(${id}) started loading a page that did not arrive within ${this.settings.actionTimeoutMs} ms; loading was stopped.`,
            };
          }
          if (episode.loads > loadsBefore) await this.awaitPush(episode, since);
        }
        if (kind === 'scroll') this.moveWindow(episode, String(argument), outcome.moved);
        if (outcome.error) return { code: 'TOOL_ERROR', message: outcome.error };
        if (outcome.errors.length > 0)
          return { code: 'TOOL_ERROR', message: `The page threw an error: ${outcome.errors.join(' | ')}` };
        return undefined;
      }
    }
  }

  private async navigate(
    episode: Episode,
    go: () => Promise<unknown>,
    what: string,
    since: Since,
  ): Promise<{ code: ActionErrorCode; message: string } | undefined> {
    let response: unknown;
    try {
      response = await this.timed(go(), what);
    } catch (error) {
      if (error instanceof ActionTimeout) {
        await this.stopLoading(episode);
        return {
          code: 'TIMEOUT',
          message: `${what} did not load within ${this.settings.actionTimeoutMs} ms; loading was stopped.`,
        };
      }
      const message = describeError(error).split('\n')[0]!;
      if (/Timeout/i.test(message)) {
        await this.stopLoading(episode);
        return {
          code: 'TIMEOUT',
          message: `${what} did not load within ${this.settings.actionTimeoutMs} ms; loading was stopped.`,
        };
      }
      if (!episode.browser.isConnected() || episode.crashed) throw error;
      return { code: 'TOOL_ERROR', message: `${what} failed: ${message.replace(/^page\.\w+: /, '')}` };
    }
    await this.awaitPush(episode, since);
    const status = (response as { status?: () => number } | null)?.status?.();
    if (status !== undefined && status >= 400)
      return { code: 'TOOL_ERROR', message: `${what}: the site answered ${status}.` };
    return undefined;
  }

  /**
   * With a tree over the budget, `scroll` first moves the window of lines within the viewport: down to the
   * lines of the viewport not shown yet, or back up. True when that is all it does (the page stays put).
   */
  private scrollWindow(episode: Episode, direction: string): boolean {
    const window = episode.window;
    if (window.document === undefined || window.document !== episode.document) return false;
    if (direction === 'down' && window.start + window.shown <= window.lastVisible) {
      window.offset += window.shown;
      return true;
    }
    if (direction === 'up' && window.offset > 0) {
      window.offset = Math.max(0, window.offset - window.shown);
      return true;
    }
    return false;
  }

  /** After the page scrolled (or could not): where the window of lines goes. */
  private moveWindow(episode: Episode, direction: string, moved: boolean): void {
    const window = episode.window;
    if (direction === 'bottom') window.offset = Number.MAX_SAFE_INTEGER;
    else if (moved || direction === 'top') window.offset = 0;
    // The page cannot scroll further, but its tree goes on: the window moves by itself.
    else if (direction === 'down') window.offset += Math.max(1, window.shown);
  }

  /** Where an action starts, for {@link freshPush}. */
  private since(episode: Episode): Since {
    return { pushes: episode.pushes, document: episode.document };
  }

  /** The observation a page of a new document sent after `since`, if one has arrived. */
  private freshPush(episode: Episode, since: Since): PageView | undefined {
    const pushed = episode.pushed;
    return pushed && pushed.sequence > since.pushes && pushed.view.document !== since.document
      ? pushed.view
      : undefined;
  }

  /**
   * After a new page of the site has loaded, waits (at most PUSH_GRACE_MS) for the observation it sends by
   * itself, which usually arrives with or just after the load event; without it, `observe` asks.
   */
  private async awaitPush(episode: Episode, since: Since): Promise<void> {
    if (this.freshPush(episode, since) || !episode.page.url().startsWith(`${this.server.origin}/`)) return;
    await new Promise<void>((resolve) => {
      const check = () => {
        if (this.freshPush(episode, since) || episode.crashed) finish();
      };
      const finish = () => {
        clearTimeout(timer);
        episode.wake = episode.wake.filter((wake) => wake !== check);
        resolve();
      };
      const timer = setTimeout(finish, Math.min(PUSH_GRACE_MS, this.settings.actionTimeoutMs));
      episode.wake.push(check);
    });
  }

  /**
   * A goto argument as a full URL of the site, or why it is refused. Accepted: a path (`/search?q=x`, or
   * `search`, taken from the root) or a full URL with the scheme http: or https:, exactly the site's origin
   * and no user name or password. Everything else is refused before the browser sees it: other schemes
   * (a `blob:` URL has the site's origin inside it, so its parsed origin is the site's: the scheme is
   * checked too), other hosts and ports, and control characters (the URL parser drops tabs and newlines,
   * so `java\tscript:` would read as `javascript:`).
   */
  private resolvePath(path: string): string | { error: string } {
    const origin = this.server.origin;
    const trimmed = path.trim();
    const refuse = {
      error: `goto only opens pages of this site: give a path such as /search (got ${JSON.stringify(trimmed.slice(0, 200))}).`,
    };
    if (CONTROL_CHARACTER.test(trimmed)) return refuse;
    const absolute = /^[a-z][a-z0-9+.-]*:/i.test(trimmed) || /^[/\\]{2}/.test(trimmed) || trimmed.startsWith('\\');
    let url: URL;
    try {
      url = absolute ? new URL(trimmed) : new URL(trimmed.startsWith('/') ? trimmed : `/${trimmed}`, origin);
    } catch {
      return refuse;
    }
    const http = url.protocol === 'http:' || url.protocol === 'https:';
    return http && url.origin === origin && url.username === '' && url.password === '' ? url.href : refuse;
  }

  /** True for a page of the site (the blank page opened before an episode is not one). */
  private onSite(url: string): boolean {
    return url.startsWith(`${this.server.origin}/`) && !url.startsWith(`${this.server.origin}${BLANK_PATH}`);
  }

  /**
   * Takes a browser that left the site (a link, a script, a blocked request's error page) back to it: back
   * in history when the entry before is a page of the site, else to the last page of the site it showed.
   * Returns the page it is on then (off the site still only if both failed).
   */
  private async returnToSite(episode: Episode): Promise<PageView> {
    const { page } = episode;
    const options = { waitUntil: 'domcontentloaded', timeout: this.settings.actionTimeoutMs } as const;
    const since = this.since(episode);
    episode.failedUrl = undefined;
    await this.timed(page.goBack(options), 'going back to the site').catch(() => undefined);
    if (!this.onSite(page.url()))
      await this.timed(page.goto(episode.siteUrl ?? `${this.server.origin}/`, options), 'going back to the site').catch(
        () => undefined,
      );
    await this.awaitPush(episode, since);
    return this.observe(episode, since);
  }

  /** Waits until a page newer than `loadsBefore` has loaded (true), or the action timeout passes (false). */
  private waitForLoad(episode: Episode, loadsBefore: number): Promise<boolean> {
    if (episode.loads > loadsBefore) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), this.settings.actionTimeoutMs);
      const check = () => {
        if (episode.loads > loadsBefore || episode.crashed) finish(true);
      };
      const finish = (value: boolean) => {
        clearTimeout(timer);
        episode.wake = episode.wake.filter((w) => w !== wakeEarly && w !== check);
        resolve(value);
      };
      const wakeEarly = () => finish(true);
      episode.wake.push(check);
      episode.wake.push(wakeEarly);
    });
  }

  /**
   * Cancels a navigation that is still waiting for its page. It goes through DevTools (`Page.stopLoading`,
   * handled by the browser process) because Playwright's evaluate waits for the pending page to arrive.
   */
  private async stopLoading(episode: Episode): Promise<void> {
    const stop = (async () => {
      const session = await episode.context.newCDPSession(episode.page);
      try {
        await session.send('Page.stopLoading');
      } finally {
        await session.detach().catch(() => undefined);
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, RECOVERY_MS);
    });
    await Promise.race([stop.catch(() => undefined), limit]).finally(() => clearTimeout(timer));
  }

  /**
   * Replaces a page whose script froze (an endless loop): a busy renderer answers no DevTools command, so
   * the page is closed (the browser kills its renderer) and the same URL opened in a new page of the same
   * context, keeping the episode's cookies and site session.
   */
  private async unfreeze(episode: Episode): Promise<void> {
    const frozen = episode.page;
    const url = frozen.url();
    const recovery = (async () => {
      await frozen.close({ runBeforeUnload: false }).catch(() => undefined);
      const page = await this.openPage(episode);
      episode.notes.push('The page stopped responding and was reloaded.');
      if (url.startsWith(`${this.server.origin}/`)) {
        await page
          .goto(url, { waitUntil: 'domcontentloaded', timeout: this.settings.actionTimeoutMs })
          .catch(() => undefined);
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new EnvFailureError(
              `${this.spec.id}: a frozen page could not be replaced within ${RECOVERY_MS} ms; call reset().`,
            ),
          ),
        RECOVERY_MS,
      );
    });
    await Promise.race([recovery, limit]).finally(() => clearTimeout(timer));
  }

  /**
   * The page as it is now (see {@link readPage}), with its URL as the agent is shown it: the path on the
   * site, or the full URL off it (the page's own idea of its path misleads there: a blob: URL's path is a
   * whole URL, about:blank's is "blank").
   */
  private async observe(episode: Episode, since?: Since): Promise<PageView> {
    const view = await this.readPage(episode, since);
    const url = episode.page.url();
    if (this.onSite(url)) episode.siteUrl = url;
    else view.url = url.startsWith('chrome-error:') && episode.failedUrl ? episode.failedUrl : url;
    return view;
  }

  /** The observation a new page sent by itself since `since`, or one asked for. */
  private async readPage(episode: Episode, since?: Since): Promise<PageView> {
    const afterAction = episode.afterAction;
    episode.afterAction = undefined;
    const pushed = since ? this.freshPush(episode, since) : undefined;
    if (pushed) {
      episode.pushed = undefined;
      episode.document = pushed.document;
      return pushed;
    }
    // The action stayed on the page, and no page has loaded since (a navigation it did not foresee).
    if (
      afterAction &&
      afterAction.document === episode.document &&
      episode.page.url().startsWith(`${this.server.origin}/`)
    )
      return afterAction;
    for (let attempt = 0; ; attempt++) {
      try {
        const view = await this.timed(
          episode.page.evaluate<PageView | null>('window.__turngym ? window.__turngym.observe() : null'),
          'reading the page',
        );
        if (!view)
          return {
            url: displayUrl(episode.page.url(), this.server.origin),
            title: '',
            lines: ['(this page is not part of the site; use back() or goto(path))'],
            firstVisible: 0,
            lastVisible: 0,
            scroll: null,
            errors: [],
            popups: 0,
            document: '',
          };
        episode.document = view.document;
        return view;
      } catch (error) {
        // A script navigated the page while we read it: wait for the new page and read again.
        if (attempt < 2 && (isContextDestroyed(error) || /navigat/i.test(describeError(error)))) {
          await this.waitForLoad(episode, episode.loads - 1);
          continue;
        }
        if (attempt < 1 && error instanceof ActionTimeout) {
          await this.unfreeze(episode);
          continue;
        }
        throw error;
      }
    }
  }

  private async render(episode: Episode, view: PageView, error: string | undefined): Promise<string> {
    const header = [`URL: ${view.url}`, `Title: ${view.title}`];
    if (view.popups > 0)
      episode.notes.push(
        `${view.popups === 1 ? 'A popup window was' : `${view.popups} popup windows were`} blocked: this environment keeps to one tab.`,
      );
    for (const note of episode.notes.splice(0)) header.push(`Note: ${note}`);
    if (error) header.push(`Error: ${error}`);
    else if (view.errors.length > 0) header.push(`Error: The page threw an error: ${view.errors.join(' | ')}`);
    const offset = episode.window.document === view.document ? episode.window.offset : 0;
    const cut = cutTree(view, this.settings.maxTreeChars, offset);
    episode.window = {
      document: view.document,
      offset: cut.offset,
      start: cut.start,
      shown: cut.shown,
      lastVisible: view.lastVisible,
    };
    const tree = cut.text;
    this.lastScreenshot = this.settings.screenshot
      ? (
          await episode.page.screenshot({ type: 'png', timeout: this.settings.actionTimeoutMs }).catch(() => undefined)
        )?.toString('base64')
      : undefined;
    return `${header.join('\n')}\n\n${tree}`;
  }

  /** Rejects with ActionTimeout if `work` takes longer than `limitMs` (the action timeout unless told). */
  private timed<R>(work: Promise<R>, what = 'the action', limitMs = this.settings.actionTimeoutMs): Promise<R> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ActionTimeout(`${what} did not finish within ${limitMs} ms; it was stopped.`)),
        limitMs,
      );
    });
    return Promise.race([work, limit]).finally(() => clearTimeout(timer));
  }

  /**
   * A fresh context and page, with the network confined to the site, every page event wired up and the
   * cookie of the episode's session-to-be set. `ahead` (a spare for a later reset): the page also opens the
   * site's blank page, so that the renderer for the site is running when the episode starts.
   */
  private async prepare(browser: Browser, ahead: boolean): Promise<Episode> {
    const context = await browser.newContext({
      acceptDownloads: false,
      serviceWorkers: 'block',
      viewport: { width: 1024, height: 768 },
    });
    const episode: Episode = {
      browser,
      context,
      page: undefined as unknown as Page,
      blocked: { count: 0, urls: [] },
      loads: 0,
      notes: [],
      crashed: false,
      opening: false,
      wake: [],
      pushes: 0,
      window: { offset: 0, start: 0, shown: 0, lastVisible: 0 },
    };
    try {
      await context.addInitScript(PAGE_SCRIPT);
      // Each page of the site sends its first observation as soon as it has loaded, which saves asking the
      // renderer for it (a round trip that waits behind the new page's first layout and paint).
      await context.exposeBinding(LOADED_BINDING, ({ page, frame }, view: PageView) => {
        if (page !== episode.page || frame !== page.mainFrame()) return;
        episode.pushes++;
        episode.pushed = { view, sequence: episode.pushes };
        for (const wake of [...episode.wake]) wake();
      });
      const origin = this.server.origin;
      // Anything not on the site's origin is aborted; the regex lets Playwright decide without a round trip.
      await context.route(new RegExp(`^(?!${escapeRegExp(origin)}/)`), async (route) => {
        episode.blocked.count++;
        if (episode.blocked.urls.length < 20) episode.blocked.urls.push(route.request().url());
        await route.abort('blockedbyclient').catch(() => undefined);
      });
      context.on('requestfailed', (request) => {
        const reason = request.failure()?.errorText ?? '';
        // Aborted loads (a download, a slow page we stopped) are told elsewhere; blocked ones are told here.
        if (
          request.isNavigationRequest() &&
          request.frame() === episode.page?.mainFrame() &&
          !/ERR_ABORTED/.test(reason)
        ) {
          episode.failedUrl = request.url();
          episode.notes.push(
            `Loading ${displayUrl(request.url(), origin)} failed (${reason || 'blocked'}): only this site can be reached.`,
          );
          for (const wake of [...episode.wake]) wake();
        }
      });
      // Every page but the episode's own is a popup the page script could not block (a form into a new window).
      context.on('page', (popup) => {
        if (episode.opening || popup === episode.page) return;
        episode.notes.push('A popup window was opened and closed at once: this environment keeps to one tab.');
        popup.close().catch(() => undefined);
      });
      await this.openPage(episode);
      episode.token = this.server.newToken();
      await context.addCookies([{ name: SESSION_COOKIE, value: episode.token, url: origin }]);
      if (ahead) await episode.page.goto(origin + BLANK_PATH, { waitUntil: 'domcontentloaded', timeout: RECOVERY_MS });
      return episode;
    } catch (error) {
      await context.close().catch(() => undefined);
      throw error;
    }
  }

  /** Opens the episode's page in its context and wires up its events (loads, dialogs, downloads, crashes). */
  private async openPage(episode: Episode): Promise<Page> {
    episode.opening = true;
    let page: Page;
    try {
      page = await episode.context.newPage();
    } finally {
      episode.opening = false;
    }
    episode.page = page;
    page.on('domcontentloaded', () => {
      if (episode.page !== page) return;
      episode.loads++;
      for (const wake of [...episode.wake]) wake();
    });
    page.on('dialog', (dialog) => {
      const kind = dialog.type();
      episode.notes.push(
        `${/^[aeiou]/.test(kind) ? 'An' : 'A'} ${kind} dialog said ${JSON.stringify(dialog.message().slice(0, 200))}; it was accepted.`,
      );
      dialog.accept().catch(() => undefined);
    });
    page.on('download', (download) => {
      episode.notes.push(`A download (${download.suggestedFilename()}) was refused: downloads are off.`);
      download.cancel().catch(() => undefined);
      for (const wake of [...episode.wake]) wake();
    });
    page.on('crash', () => {
      if (episode.page !== page) return;
      episode.crashed = true;
      for (const wake of [...episode.wake]) wake();
    });
    return page;
  }

  /** The context prepared in the background, if it belongs to the live browser. */
  private async takeSpare(browser: Browser): Promise<Episode | undefined> {
    const spare = this.spare;
    this.spare = undefined;
    const prepared = await spare;
    if (
      prepared &&
      prepared.browser === browser &&
      browser.isConnected() &&
      !prepared.page.isClosed() &&
      !prepared.crashed
    )
      return prepared;
    if (prepared) this.track(prepared.context.close().catch(() => undefined));
    return undefined;
  }

  /** Ends the current episode: its session is dropped and its context closed in the background. */
  private retire(): void {
    const episode = this.detach();
    if (episode) this.track(episode.context.close().catch(() => undefined));
  }

  /** Ends the current episode but leaves its context open; returns it (the caller closes the context). */
  private detach(): Episode | undefined {
    const episode = this.episode;
    this.episode = undefined;
    if (!episode) return undefined;
    if (episode.token) this.server.closeSession(episode.token);
    for (const wake of [...episode.wake]) wake();
    return episode;
  }

  /** Keeps background work (closing contexts, preparing the next one) for `close()` to wait on, for at most RECOVERY_MS. */
  private track(work: Promise<unknown>): void {
    let timer: NodeJS.Timeout | undefined;
    const bounded = Promise.race([
      work,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, RECOVERY_MS))),
    ]).finally(() => clearTimeout(timer));
    this.background.add(bounded);
    bounded.finally(() => this.background.delete(bounded)).catch(() => undefined);
  }
}

/**
 * The tree's lines within `maxChars`: all of them if they fit, else a window that starts at the first line
 * in the viewport, `offset` lines further, and never past the last window that reaches the end. Returns the
 * text, the offset that was used, the first line shown and how many were shown.
 */
export function cutTree(
  view: Pick<PageView, 'lines' | 'firstVisible' | 'scroll'>,
  maxChars: number,
  offset = 0,
): { text: string; offset: number; start: number; shown: number } {
  const { lines } = view;
  const scroll = view.scroll !== null && view.scroll > 0 ? `\n(scrolled ${view.scroll}% down)` : '';
  const total = lines.reduce((sum, line) => sum + line.length + 1, 0);
  if (total <= maxChars)
    return {
      text: (lines.length > 0 ? lines.join('\n') : '(the page is empty)') + scroll,
      offset: 0,
      start: 0,
      shown: lines.length,
    };
  let lastStart = lines.length;
  for (let tail = 0; lastStart > 0 && tail + lines[lastStart - 1]!.length + 1 <= maxChars; lastStart--)
    tail += lines[lastStart - 1]!.length + 1;
  lastStart = Math.min(lastStart, lines.length - 1);
  const base = Math.min(view.firstVisible, lines.length - 1);
  const start = Math.max(0, Math.min(base + offset, Math.max(base, lastStart)));
  const kept: string[] = [];
  let used = 0;
  let index = start;
  for (; index < lines.length; index++) {
    if (used + lines[index]!.length + 1 > maxChars && kept.length > 0) break;
    kept.push(lines[index]!.slice(0, maxChars));
    used += lines[index]!.length + 1;
  }
  const above = start > 0 ? [`(${start} lines above; scroll up to see them)`] : [];
  const below = index < lines.length ? [`(${lines.length - index} more lines below; scroll down to see them)`] : [];
  return { text: [...above, ...kept, ...below].join('\n') + scroll, offset: start - base, start, shown: kept.length };
}

/**
 * `work`, or an {@link EnvFailureError} as soon as the browser disconnects: a Playwright call that is under
 * way when its browser is killed (seen with `newPage`) can stay pending for ever.
 */
function whileConnected<R>(browser: Browser, work: Promise<R>): Promise<R> {
  let onDisconnected: (() => void) | undefined;
  const gone = new Promise<never>((_, reject) => {
    onDisconnected = () => reject(new EnvFailureError('The browser disconnected (crashed or killed).'));
    if (browser.isConnected()) browser.on('disconnected', onDisconnected);
    else onDisconnected();
  });
  return Promise.race([work, gone]).finally(() => browser.off('disconnected', onDisconnected!));
}

/** Control characters (C0, DEL, C1): never part of a path an agent means. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

/** Playwright's error for a call whose page navigated away under it. */
function isContextDestroyed(error: unknown): boolean {
  return /context was destroyed/i.test(describeError(error));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function displayUrl(url: string, origin: string): string {
  return url.startsWith(`${origin}/`) ? url.slice(origin.length) : url;
}
