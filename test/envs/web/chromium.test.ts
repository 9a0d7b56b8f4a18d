import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, debianBinary, findChromium, packagedChromium } from '../../../src/envs/web/chromium.js';
import { runCli } from '../../cli/helpers.js';

const root = mkdtempSync(join(tmpdir(), 'turngym-chromium-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function executable(path: string, text: string): string {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
  return path;
}

describe('finding Chromium', () => {
  // Debian's two wrapper scripts, in their own words, each around a real (here: stand-in) binary.
  const lib = join(root, 'lib', 'chromium');
  const bin = join(root, 'bin');
  mkdirSync(lib, { recursive: true });
  mkdirSync(bin, { recursive: true });
  const shellBinary = executable(join(lib, 'chromium-headless-shell'), '\x7fELF');
  const fullBinary = executable(join(lib, 'chromium'), '\x7fELF');
  executable(join(bin, 'chromium-headless-shell'), `#!/bin/sh -e\n\n${shellBinary} "$@"\n`);
  executable(
    join(bin, 'chromium'),
    `#!/bin/sh\n\nAPPNAME=chromium\nLIBDIR=${join(root, 'lib')}/$APPNAME\nexec $LIBDIR/$APPNAME $CHROMIUM_FLAGS "$@"\n`,
  );

  it('launches the binary behind a Debian wrapper script, and a binary as it is', () => {
    expect(debianBinary(join(bin, 'chromium-headless-shell'))).toBe(shellBinary);
    expect(debianBinary(join(bin, 'chromium'))).toBe(fullBinary);
    expect(debianBinary(fullBinary)).toBe(fullBinary);
  });

  it('prefers the headless shell on the PATH, then chromium; TURNGYM_CHROMIUM over both', async () => {
    expect(await findChromium({ PATH: bin })).toEqual({ path: shellBinary, source: 'path' });
    rmSync(join(bin, 'chromium-headless-shell'));
    expect(await findChromium({ PATH: bin })).toEqual({ path: fullBinary, source: 'path' });
    expect(await findChromium({ PATH: bin, TURNGYM_CHROMIUM: shellBinary })).toEqual({
      path: shellBinary,
      source: 'env',
    });
    await expect(findChromium({ PATH: bin, TURNGYM_CHROMIUM: join(root, 'missing') })).rejects.toThrow(
      /not an executable file/,
    );
  });
});

describe('the packaged Chromium (@sparticuz/chromium)', () => {
  it('is found last, unpacked once into the cache by processes racing for it, and launches', async () => {
    const cache = join(root, 'cache');
    // No browser on the PATH and none in Playwright's cache: what a fresh machine has after `npm install`.
    const fresh = { PATH: join(root, 'empty'), XDG_CACHE_HOME: cache, HOME: root };
    const [first, second] = await Promise.all([findChromium(fresh), packagedChromium(fresh)]);
    expect(first).toEqual({ path: join(cache, 'turngym', 'chromium-143.0.4', 'chromium'), source: 'packaged' });
    expect(second).toBe(first.path);
    expect(readdirSync(join(cache, 'turngym', 'chromium-143.0.4'))).toEqual(['chromium']); // no partial file left
    const browser = await chromium.launch({ executablePath: first.path, headless: true, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      await page.setContent('<button onclick="this.textContent = \'clicked\'">go</button>');
      await page.click('button');
      expect(await page.textContent('button')).toBe('clicked');
    } finally {
      await browser.close();
    }
  });
});

describe('a bad TURNGYM_CHROMIUM', () => {
  it('is one line from the CLI saying what to do, with no stack trace', async () => {
    const result = await runCli(['run', '--env', 'web/forms-v0', '--episodes', '1'], {
      env: { ...process.env, TURNGYM_CHROMIUM: join(root, 'no-such-chromium') },
    });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      `turngym: TURNGYM_CHROMIUM=${join(root, 'no-such-chromium')} is not an executable file: point it at a Chromium or Chrome binary, or unset it to use the first browser found (the PATH, Playwright's cache, then the one npm installed).`,
    ]);
  });
});
