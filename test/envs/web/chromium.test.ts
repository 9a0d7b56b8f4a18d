import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { debianBinary, findChromium } from '../../../src/envs/web/chromium.js';

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
  executable(join(bin, 'chromium'), `#!/bin/sh\n\nAPPNAME=chromium\nLIBDIR=${join(root, 'lib')}/$APPNAME\nexec $LIBDIR/$APPNAME $CHROMIUM_FLAGS "$@"\n`);

  it('launches the binary behind a Debian wrapper script, and a binary as it is', () => {
    expect(debianBinary(join(bin, 'chromium-headless-shell'))).toBe(shellBinary);
    expect(debianBinary(join(bin, 'chromium'))).toBe(fullBinary);
    expect(debianBinary(fullBinary)).toBe(fullBinary);
  });

  it('prefers the headless shell on the PATH, then chromium; TURNGYM_CHROMIUM over both', async () => {
    expect(await findChromium({ PATH: bin })).toEqual({ path: shellBinary, source: 'path' });
    rmSync(join(bin, 'chromium-headless-shell'));
    expect(await findChromium({ PATH: bin })).toEqual({ path: fullBinary, source: 'path' });
    expect(await findChromium({ PATH: bin, TURNGYM_CHROMIUM: shellBinary })).toEqual({ path: shellBinary, source: 'env' });
    await expect(findChromium({ PATH: bin, TURNGYM_CHROMIUM: join(root, 'missing') })).rejects.toThrow(/not an executable file/);
  });
});
