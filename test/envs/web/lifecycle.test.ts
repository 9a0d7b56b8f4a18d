import { afterEach, describe, expect, it } from 'vitest';
import type { Env } from '../../../src/envs/env.js';
import { TurngymError } from '../../../src/core/errors.js';
import { make } from '../../../src/envs/registry.js';
import { sharedBrowser } from '../../../src/envs/web/chromium.js';
import '../../../src/envs/builtin.js';
import { bare, eventually, ourBrowsers, processesInGroups } from './helpers.js';

/** The one browser this test process runs, with the process group that holds its helpers. */
function theBrowser() {
  const browsers = ourBrowsers();
  expect(browsers).toHaveLength(1);
  const browser = browsers[0]!;
  // Playwright starts Chromium as the leader of its own group, so the group is the browser and its helpers only.
  expect(browser.pgid).toBe(browser.pid);
  return browser;
}

async function expectEnvFailure(work: Promise<unknown>, message: RegExp): Promise<void> {
  const error = await work.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(TurngymError.is(error, 'ENV_FAILURE'), String(error)).toBe(true);
  expect((error as Error).message).toMatch(message);
}

describe('web envs: browser lifecycle', { timeout: 120_000 }, () => {
  const opened: Env[] = [];
  async function open(id: string): Promise<Env> {
    const env = await make(id);
    opened.push(env);
    return env;
  }
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((env) => env.close()));
  });

  it('shares one browser between envs, and closing the last env leaves no Chromium process behind', async () => {
    expect(ourBrowsers()).toEqual([]);
    const launches = sharedBrowser.launches;
    const envs = await Promise.all(['web/forms-v0', 'web/shop-v0', 'web/wiki-v0'].map(open));
    // Three first resets at once: they share one launch.
    await Promise.all(envs.map((env, seed) => env.reset({ seed })));
    expect(sharedBrowser.launches).toBe(launches + 1);
    const browser = theBrowser();
    // The browser, its zygotes, the network service and a renderer per page.
    expect(processesInGroups([browser.pgid]).length).toBeGreaterThan(3);

    await envs[0]!.close();
    expect(theBrowser().pid).toBe(browser.pid);
    expect((await envs[1]!.step({ tool: 'scroll', args: { direction: 'down' } })).info.error).toBeUndefined();

    await Promise.all(envs.map((env) => env.close()));
    expect(await eventually(() => processesInGroups([browser.pgid]).length === 0)).toBe(true);
    expect(ourBrowsers()).toEqual([]);
    expect(sharedBrowser.users).toBe(0);
    // Closing again is harmless and starts nothing.
    await envs[2]!.close();
    expect(ourBrowsers()).toEqual([]);
  });

  it('closes in the middle of an episode, while the next context is still being prepared', async () => {
    const env = await open('web/shop-v0');
    await env.reset({ seed: 4 });
    const browser = theBrowser();
    // reset() has just started preparing the next episode's context in the background: close now.
    await env.close();
    expect(await eventually(() => processesInGroups([browser.pgid]).length === 0)).toBe(true);
    const error = await env.reset({ seed: 5 }).catch((thrown: unknown) => thrown);
    expect(TurngymError.is(error, 'ENV_CLOSED'), String(error)).toBe(true);
    expect(ourBrowsers()).toEqual([]);
  });

  it('a crashed page is a typed error on step, and the next reset recovers in the same browser', async () => {
    const env = await open('web/forms-v0');
    await env.reset({ seed: 1 });
    const browser = theBrowser();
    const launches = sharedBrowser.launches;
    const page = bare(env).page!;
    const crashed = new Promise((resolve) => page.once('crash', resolve));
    // Chromium's own URL for crashing a renderer (Playwright's tests crash pages the same way).
    await page.goto('chrome://crash').catch(() => undefined);
    await crashed;

    await expectEnvFailure(
      env.step({ tool: 'scroll', args: { direction: 'down' } }),
      /the page crashed; call reset\(\)/,
    );
    const reset = await env.reset({ seed: 2 });
    expect(reset.observation.text).toContain('URL: /');
    const step = await env.step({ tool: 'scroll', args: { direction: 'down' } });
    expect(step.info.error).toBeUndefined();
    expect(sharedBrowser.launches).toBe(launches);
    expect(theBrowser().pid).toBe(browser.pid);
  });

  // Issue 35, item 10: the next episode's page, prepared in the background, was checked for being closed
  // but not for having crashed, so the first reset after a crash failed ("page.goto: Page crashed").
  it('the first reset after a crash works, when the prepared next page crashed too', async () => {
    const env = await open('web/forms-v0');
    for (const [round, waitForCrash] of [true, false].entries()) {
      await env.reset({ seed: 1 + round });
      const page = bare(env).page!;
      const browser = page.context().browser()!;
      // The page prepared for the next reset, in a context of its own, on the site's blank page.
      const allPages = () => browser.contexts().flatMap((context) => context.pages());
      expect(
        await eventually(() => allPages().some((other) => other !== page && other.url().endsWith('/__turngym/blank'))),
      ).toBe(true);
      const spare = allPages().find((other) => other !== page)!;
      const launches = sharedBrowser.launches;
      // Crash both renderers (as an out-of-memory kill would): Chromium's own URL for crashing one.
      const crashed = Promise.all(
        [page, spare].map((victim) => new Promise((resolve) => victim.once('crash', resolve))),
      );
      await Promise.all([page, spare].map((victim) => victim.goto('chrome://crash').catch(() => undefined)));
      // The second round resets at once, before the crash events may have arrived.
      if (waitForCrash) await crashed;

      const reset = await env.reset({ seed: 3 + round });
      expect(reset.observation.text).toContain('URL: /');
      const step = await env.step({ tool: 'scroll', args: { direction: 'down' } });
      expect(step.info.error).toBeUndefined();
      expect(bare(env).page).not.toBe(spare);
      expect(sharedBrowser.launches).toBe(launches);
      await crashed;
    }
  });

  it('a killed browser is a typed error on step; the next reset starts a new one and nothing of the old is left', async () => {
    const env = await open('web/shop-v0');
    await env.reset({ seed: 1 });
    const killed = theBrowser();
    const launches = sharedBrowser.launches;
    process.kill(killed.pid, 'SIGKILL');
    // Its helpers go with it: none is left behind as an orphan.
    expect(await eventually(() => processesInGroups([killed.pgid]).length === 0)).toBe(true);

    await expectEnvFailure(
      env.step({ tool: 'scroll', args: { direction: 'down' } }),
      /the browser is gone|call reset\(\)/,
    );
    const reset = await env.reset({ seed: 2 });
    expect(reset.observation.text).toContain('URL: /');
    expect((await env.step({ tool: 'goto', args: { path: '/cart' } })).observation.text).toContain('URL: /cart');
    expect(sharedBrowser.launches).toBe(launches + 1);
    const relaunched = theBrowser();
    expect(relaunched.pid).not.toBe(killed.pid);

    await env.close();
    expect(await eventually(() => processesInGroups([relaunched.pgid]).length === 0)).toBe(true);
  });
});
