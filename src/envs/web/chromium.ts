/**
 * Finding and launching Chromium, and sharing one browser per process.
 *
 * Lookup order: the `TURNGYM_CHROMIUM` environment variable (a path to a Chromium or Chrome binary), then
 * `chromium-headless-shell` on the PATH (Debian's package: `apt-get install -y chromium-headless-shell`),
 * then `chromium` / `chromium-browser`, then a browser installed by Playwright itself (`npx playwright install
 * chromium`), and last the headless Chromium packaged in the `@sparticuz/chromium` dependency, so that
 * `npm install` alone brings a working browser. The headless shell comes first because it is the same engine
 * without the desktop browser around it: on a 2-core machine a navigation took 25-40 ms in it against
 * 200-600 ms in the full browser's headless mode, and a reset about 70 ms against 550-1,100 ms (Playwright
 * prefers it for headless runs too). The packaged browser is a headless shell too (measured against
 * Debian's in `turngym bench web`); it comes last because a browser the machine's owner installed is
 * the one they chose and keep up to date.
 *
 * One browser serves every web env of the process; each episode gets its own isolated context. The browser's
 * lifetime is reference-counted ({@link SharedBrowser.acquire} / `release`): the last env to close closes
 * it, so no Chromium process outlives the envs. A browser that crashed or was killed is relaunched on the
 * next `browser()` call.
 */
import { randomUUID } from 'node:crypto';
import {
  accessSync,
  constants,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { EnvFailureError, TurngymError, describeError } from '../../core/errors.js';

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
  `Run \`npm install\` (it brings the packaged @sparticuz/chromium), install one with \`apt-get install -y chromium-headless-shell\` (Debian; or \`chromium\`) or \`npx playwright install chromium\`, ` +
  `or point ${CHROMIUM_ENV} at a Chromium or Chrome binary.`;

/** Where the Chromium binary was found, and how. */
export interface ChromiumLocation {
  path: string;
  /** `env`: TURNGYM_CHROMIUM; `path`: the PATH; `playwright`: Playwright's browser cache; `packaged`: the @sparticuz/chromium dependency. */
  source: 'env' | 'path' | 'playwright' | 'packaged';
}

/** Words for each source, in the line that says which browser was picked. */
const SOURCE_WORDS: Record<ChromiumLocation['source'], string> = {
  env: `from ${CHROMIUM_ENV}`,
  path: 'from the PATH',
  playwright: "from Playwright's browser cache",
  packaged: 'packaged with @sparticuz/chromium',
};

/**
 * Finds a Chromium binary (see the module docs for the order). Throws a `NOT_SUPPORTED` error that says
 * how to install one when none is found.
 */
export async function findChromium(environment: NodeJS.ProcessEnv = process.env): Promise<ChromiumLocation> {
  const fromEnv = environment[CHROMIUM_ENV];
  if (fromEnv) {
    if (!isExecutable(fromEnv)) {
      throw new TurngymError(
        'NOT_SUPPORTED',
        `${CHROMIUM_ENV}=${fromEnv} is not an executable file: point it at a Chromium or Chrome binary, or unset it to use the first browser found (the PATH, Playwright's cache, then the one npm installed).`,
      );
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
    // Playwright knows no browser for this platform; fall through to the packaged one.
  }
  const packaged = await packagedChromium(environment);
  if (packaged) return { path: packaged, source: 'packaged' };
  throw new TurngymError('NOT_SUPPORTED', `No Chromium found for the web environments. ${INSTALL_HINT}`);
}

/**
 * The headless Chromium packaged in the `@sparticuz/chromium` dependency (a brotli-compressed binary that npm
 * installs like any package), decompressed once per package version into the user's cache folder
 * (`$XDG_CACHE_HOME/turngym`, default `~/.cache/turngym`; about 190 MB, 2 s). The binary is written under a
 * temporary name and renamed, so processes that start at once (test workers) never launch a half-written one.
 * Undefined when the package is not installed or has no binary for this machine. Its own `executablePath()`
 * is not used: it writes to a fixed /tmp path without that care.
 */
export async function packagedChromium(environment: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  let root: string;
  try {
    // The package exports only its entry (build/cjs/index.cjs); its root is two folders above.
    root = resolve(dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '..', '..');
  } catch {
    return undefined;
  }
  const compressed = join(root, 'bin', 'chromium.br');
  if (process.platform !== 'linux' || process.arch !== 'x64' || !existsSync(compressed)) return undefined;
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const cache = join(environment.XDG_CACHE_HOME || join(environment.HOME || homedir(), '.cache'), 'turngym');
  const binary = join(cache, `chromium-${version}`, 'chromium');
  if (isExecutable(binary)) return binary;
  mkdirSync(dirname(binary), { recursive: true });
  const partial = `${binary}.${process.pid}-${randomUUID()}.partial`;
  try {
    await pipeline(createReadStream(compressed), createBrotliDecompress(), createWriteStream(partial, { mode: 0o755 }));
    renameSync(partial, binary);
  } catch (error) {
    rmSync(partial, { force: true });
    throw new TurngymError(
      'NOT_SUPPORTED',
      `Could not unpack the packaged Chromium into ${dirname(binary)}: ${describeError(error)}. Free some disk space or set XDG_CACHE_HOME to a writable folder. ${INSTALL_HINT}`,
    );
  }
  return binary;
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
    if (this.references === 0)
      throw new EnvFailureError('SharedBrowser.browser() called without acquire(); this is a bug in the web env.');
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

let announced = false;

/**
 * Launches a headless Chromium through playwright-core with {@link CHROMIUM_ARGS}. The first launch of the
 * process says on stderr, in one line, which browser was picked and where it came from.
 */
export async function launchChromium(): Promise<Browser> {
  const location = await findChromium();
  const { chromium } = await import('playwright-core');
  try {
    const browser = await chromium.launch({
      executablePath: location.path,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 60_000,
    });
    if (!announced) {
      announced = true;
      console.error(
        `turngym: web envs use Chromium ${browser.version()} ${SOURCE_WORDS[location.source]} (${location.path})`,
      );
    }
    return browser;
  } catch (error) {
    throw new EnvFailureError(
      `Could not launch Chromium at ${location.path} (found via ${location.source}): ${describeError(error).split('\n')[0]}`,
      {
        cause: error,
      },
    );
  }
}

/** The process-wide browser the web envs share. */
export const sharedBrowser = new SharedBrowser();
