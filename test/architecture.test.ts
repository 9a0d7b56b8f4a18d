/** The layer rule of DESIGN.md, measured on the source tree: imports run down (cli → rl → agent → envs → core), never in a cycle. */
import { describe, expect, it } from 'vitest';
import { codeShape, LAYERS } from '../scripts/code-shape.js';
import { ROOT } from './cli/helpers.js';

describe('the source tree', () => {
  const shape = codeShape(ROOT);

  it('has every file in a layer', () => {
    const folders = new Set(Object.keys(shape.folderImports).flatMap((edge) => edge.split(' -> ')));
    for (const folder of folders) if (folder !== '.') expect(LAYERS).toContain(folder.split('/')[0]);
  });

  it('imports only downward, and nothing imports in a cycle', () => {
    expect(shape.upwardImports).toEqual([]);
    expect(shape.fileCycles).toEqual([]);
  });

  it('keeps core free of every other layer', () => {
    const fromCore = Object.keys(shape.folderImports).filter((edge) => edge.startsWith('core ->'));
    expect(fromCore).toEqual([]);
  });
});
