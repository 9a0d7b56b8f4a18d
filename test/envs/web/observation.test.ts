import { afterEach, describe, expect, it } from 'vitest';
import type { Env } from '../../../src/envs/env.js';
import { make } from '../../../src/envs/registry.js';
import type { WebEnv } from '../../../src/envs/web/env.js';
import { parseTree } from '../../../src/envs/web/tree.js';
import '../../../src/envs/builtin.js';

/** The tree part of an observation: everything after the header's blank line. */
function treeOf(text: string): string {
  return text.slice(text.indexOf('\n\n') + 2);
}

describe('web envs: observations', { timeout: 120_000 }, () => {
  const opened: Env[] = [];
  async function open(id: string, kwargs: Record<string, unknown>): Promise<Env> {
    const env = await make(id, kwargs);
    opened.push(env);
    return env;
  }
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((env) => env.close()));
  });

  it('keeps element ids while the page stays, and numbers a new page afresh', async () => {
    const env = await open('web/forms-v0', {});
    await env.reset({ seed: 3 });
    const lab = await env.step({ tool: 'goto', args: { path: '/lab' } });
    const scrolled = await env.step({ tool: 'scroll', args: { direction: 'down' } });
    const ids = (text: string) => parseTree(text).map((element) => `${element.id} ${element.role} ${element.name}`);
    expect(ids(scrolled.observation.text)).toEqual(ids(lab.observation.text));
    expect(parseTree(lab.observation.text).map((element) => element.id)).toEqual(
      parseTree(lab.observation.text).map((_, index) => index + 1),
    );
  });

  it('leaves nothing focused after an action (a focused field keeps Chromium drawing an idle page)', async () => {
    const env = await open('web/forms-v0', {});
    const reset = await env.reset({ seed: 3 });
    const field = parseTree(reset.observation.text).find((element) => element.role === 'textbox')!;
    const typed = await env.step({ tool: 'type', args: { id: field.id, text: 'Hedy Lamarr' } });
    expect(typed.info.error).toBeUndefined();
    const page = (env.unwrapped as WebEnv).page!;
    expect(await page.evaluate(() => document.activeElement === document.body)).toBe(true);
    expect(
      await page.evaluate(() => Array.from(document.querySelectorAll('input')).map((input) => input.value)),
    ).toContain('Hedy Lamarr');
  });

  it('cuts a long page to the budget, and scrolling shows every line in turn', async () => {
    const full = await open('web/shop-v0', {});
    await full.reset({ seed: 2 });
    const everything = parseTree((await full.step({ tool: 'goto', args: { path: '/search' } })).observation.text).map(
      (element) => element.id,
    );

    const env = await open('web/shop-v0', { maxTreeChars: 500 });
    await env.reset({ seed: 2 });
    const top = await env.step({ tool: 'goto', args: { path: '/search' } });
    expect(treeOf(top.observation.text).length).toBeLessThanOrEqual(500 + 100);
    expect(top.observation.text).toMatch(/\n\(\d+ more lines below; scroll down to see them\)$/);
    // Down, window by window (whether the page itself scrolls or not), until the last line: no element is skipped.
    const seen = new Set(parseTree(top.observation.text).map((element) => element.id));
    let windows = 1;
    let text = top.observation.text;
    while (/more lines below/.test(text) && windows < 50) {
      text = (await env.step({ tool: 'scroll', args: { direction: 'down' } })).observation.text;
      expect(text).toMatch(/\n\(\d+ lines above; scroll up to see them\)\n/);
      for (const element of parseTree(text)) seen.add(element.id);
      windows++;
    }
    expect(windows).toBeGreaterThan(2);
    expect([...seen].sort((a, b) => a - b)).toEqual(everything);

    const backAtTop = await env.step({ tool: 'scroll', args: { direction: 'top' } });
    expect(backAtTop.observation.text).toBe(top.observation.text);
    const bottom = await env.step({ tool: 'scroll', args: { direction: 'bottom' } });
    expect(bottom.observation.text).not.toContain('more lines below');
    expect(parseTree(bottom.observation.text).at(-1)!.id).toBe(everything.at(-1));
  });

  it('adds a PNG screenshot of the viewport on request, and none otherwise', async () => {
    const withScreenshots = await open('web/forms-v0', { screenshot: true });
    const reset = await withScreenshots.reset({ seed: 1 });
    const step = await withScreenshots.step({ tool: 'scroll', args: { direction: 'down' } });
    for (const observation of [reset.observation, step.observation]) {
      const png = Buffer.from(observation.screenshot!, 'base64');
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      // The IHDR chunk: width and height of the 1024x768 viewport.
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1024, 768]);
    }
    const plain = await open('web/forms-v0', {});
    expect((await plain.reset({ seed: 1 })).observation.screenshot).toBeUndefined();
  });
});
