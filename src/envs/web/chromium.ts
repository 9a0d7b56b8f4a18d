/**
 * Finding and launching Chromium, and sharing one browser per process.
 *
 * Lookup order: the `TURNGYM_CHROMIUM` environment variable (a path to a Chromium or Chrome binary), then
 * `chromium-headless-shell` on the PATH (Debian's package: `apt-get install -y chromium-headless-shell`),
 * then `chromium` / `chromium-browser`, then a browser installed by Playwright itself (`npx playwright install
 * chromium`). The headless shell comes first because it is the same engine without the desktop browser
 * around it: on a 2-core machine a navigation took 25-40 ms in it against 200-600 ms in the full browser's
 * headless mode, and a reset about 70 ms against 550-1,100 ms (Playwright prefers it for headless runs too).
 *
 * One browser serves every web env of the process; each episode gets its own isolated context. The browser's
 * lifetime is reference-counted ({@link SharedBrowser.acquire} / `release`): the last env to close closes
 * it, so no Chromium process outlives the envs. A browser that crashed or was killed is relaunched on the
 * next `browser()` call.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Browser } from 'playwright-core';
import { EnvFailureError, TurngymError, describeError } from '../errors.js';

/** The environment variable that names the Chromium binary to use. */
export const CHROMIUM_ENV = 'TURNGYM_CHROMIUM';

/**
 * Flags for a quiet, headless, offline browser: no sandbox (containers and CI run as root), no GPU, and
 * none of the background traffic (updates, sync, safe browsing lists, QUIC probes) that a gym must not make.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const INSTALL_HINT =
  `Install it with \`apt-get install -y chromium-headless-shell\` (Debian; or \`chromium\`) or \`npx playwright install chromium\`, ` +
  `or point ${CHROMIUM_ENV} at a Chromium or Chrome binary.`;

/** Where the Chromium binary was found, and how. */
export interface ChromiumLocation {
  path: string;
  source: 'env' | 'path' | 'playwright';
}

/**
 * Finds a Chromium binary (see the module docs for the order). Throws a `NOT_SUPPORTED` error that says
 * how to install one when none is found.
 */
export async function findChromium(environment: NodeJS.ProcessEnv = process.env): Promise<ChromiumLocation> {
  const fromEnv = environment[CHROMIUM_ENV];
  if (fromEnv) {
    if (!isExecutable(fromEnv)) {
      throw new TurngymError('NOT_SUPPORTED', `${CHROMIUM_ENV}=${fromEnv} is not an executable file. ${INSTALL_HINT}`);
    }
    return { path: fromEnv, source: 'env' };
  }
  for (const name of ['chromium-headless-shell', 'chromium', 'chromium-browser']) {
    const found = onPath(name, environment.PATH ?? '');
    if (found) return { path: debianBinary(found), source: 'path' };
  }
  try {
    const { chromium } = await import('playwright-core');
    const path = chromium.executablePath();
    if (path && isExecutable(path)) return { path, source: 'playwright' };
  } catch {
    // Playwright knows no browser for this platform; fall through to the error below.
  }
  throw new TurngymError('NOT_SUPPORTED', `No Chromium found for the web environments. ${INSTALL_HINT}`);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, path: string): string | undefined {
  for (const directory of path.split(delimiter)) {
    if (!directory) continue;
    const candidate = join(directory, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Debian's `/usr/bin/chromium` is a shell script that sources /etc/chromium.d and then execs
 * /usr/lib/chromium/chromium, and `/usr/bin/chromium-headless-shell` one that runs
 * /usr/lib/chromium/chromium-headless-shell "$@"; launching the binary directly skips the shell (and its
 * noisy warnings).
 */
export function debianBinary(found: string): string {
  try {
    const head = readFileSync(found, { encoding: 'utf8', flag: 'r' }).slice(0, 4096);
    if (!head.startsWith('#!')) return found;
    const libdir = /^LIBDIR=(\S+)$/m.exec(head)?.[1];
    const app = /^APPNAME=(\S+)$/m.exec(head)?.[1];
    const direct = /^\s*(?:exec\s+)?(\/\S+)\s+"\$@"\s*$/m.exec(head)?.[1];
    const binary = libdir && app ? join(libdir.replace('$APPNAME', app), app) : direct;
    if (binary && existsSync(binary) && isExecutable(binary)) return binary;
  } catch {
    // Not readable as text (a real binary): use it as it is.
  }
  return found;
}

/**
 * One browser per process, shared by reference count. `acquire()` when an env is made, `release()` when it
 * closes; `browser()` returns the live browser, launching (or relaunching after a crash) when needed.
 */
export class SharedBrowser {
  private references = 0;
  private launching: Promise<Browser> | undefined;
  private current: Browser | undefined;
  private closing: Promise<void> = Promise.resolve();
  /** How many times a browser was launched (the first launch and every relaunch after a crash). */
  launches = 0;

  /** Counts one more user. */
  acquire(): void {
    this.references++;
  }

  /** Counts one user less; the last one closes the browser (and waits until its processes are gone). */
  async release(): Promise<void> {
    if (this.references === 0) return;
    this.references--;
    if (this.references > 0) return;
    const launching = this.launching;
    this.launching = undefined;
    this.current = undefined;
    this.closing = this.closing.then(async () => {
      const browser = await launching?.catch(() => undefined);
      await browser?.close().catch(() => undefined);
    });
    await this.closing;
  }

  /** Number of envs holding the browser. */
  get users(): number {
    return this.references;
  }

  /** The live browser; launches one if there is none or the last one disconnected (crashed or killed). */
  async browser(): Promise<Browser> {
    if (this.references === 0) throw new EnvFailureError('SharedBrowser.browser() called without acquire(); this is a bug in the web env.');
    for (let attempt = 0; ; attempt++) {
      if (this.current?.isConnected()) return this.current;
      // Started without awaiting anything first, so that envs resetting at the same time share one launch.
      this.launching ??= this.launch();
      const launching = this.launching;
      let browser: Browser;
      try {
        browser = await launching;
      } catch (error) {
        if (this.launching === launching) this.launching = undefined;
        throw error;
      }
      // release() closes a browser that was still starting when the last env let go of it.
      if (this.launching !== launching) throw new EnvFailureError('The browser was released while it was starting.');
      if (browser.isConnected()) return browser;
      // It died before its 'disconnected' event arrived: forget it and launch a new one, once.
      this.launching = undefined;
      if (this.current === browser) this.current = undefined;
      if (attempt > 0) throw new EnvFailureError('Chromium exited as soon as it started.');
    }
  }

  /** Launches a browser once the previous one has closed; it becomes `current` unless released meanwhile. */
  private launch(): Promise<Browser> {
    const launching: Promise<Browser> = this.closing.then(launchChromium).then((browser) => {
      this.launches++;
      if (this.launching === launching) {
        this.current = browser;
        browser.on('disconnected', () => {
          if (this.current === browser) this.current = undefined;
          if (this.launching === launching) this.launching = undefined;
        });
      }
      return browser;
    });
    return launching;
  }
}

/** Launches a headless Chromium through playwright-core with {@link CHROMIUM_ARGS}. */
export async function launchChromium(): Promise<Browser> {
  const location = await findChromium();
  const { chromium } = await import('playwright-core');
  try {
    return await chromium.launch({ executablePath: location.path, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  } catch (error) {
    throw new EnvFailureError(`Could not launch Chromium at ${location.path} (found via ${location.source}): ${describeError(error).split('\n')[0]}`, {
      cause: error,
    });
  }
}

/** The process-wide browser the web envs share. */
export const sharedBrowser = new SharedBrowser();
