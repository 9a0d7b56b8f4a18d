/**
 * The code is formatted by Prettier (.prettierrc.json): every tracked .ts, .mts, .js and .mjs file outside the
 * ignored folders is as `npx prettier --write` leaves it. A failure names the files; `npx prettier --write FILE`
 * fixes them.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as prettier from 'prettier';
import { expect, it } from 'vitest';
import { ROOT } from './cli/helpers.js';

it('every source file is formatted by Prettier', { timeout: 120_000 }, async () => {
  const files = execFileSync('git', ['ls-files', '*.ts', '*.mts', '*.js', '*.mjs'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  expect(files.length).toBeGreaterThan(100);
  const unformatted: string[] = [];
  for (const file of files) {
    const path = join(ROOT, file);
    const { ignored } = await prettier.getFileInfo(path, { ignorePath: join(ROOT, '.prettierignore') });
    if (ignored) continue;
    const options = await prettier.resolveConfig(path);
    if (!(await prettier.check(readFileSync(path, 'utf8'), { ...options, filepath: path }))) unformatted.push(file);
  }
  expect(unformatted, 'run npx prettier --write on these files').toEqual([]);
});
