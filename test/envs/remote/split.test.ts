import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RemoteClient, RemoteError } from '../../../src/envs/remote/client.js';
import { serve } from '../../../src/envs/remote/server.js';
import { make } from '../../../src/envs/registry.js';
import { splitOf } from '../../../src/envs/task.js';
import '../../../src/envs/builtin.js';

const directory = mkdtempSync(join(tmpdir(), 'turngym-remote-split-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('the held-out split over the wire', () => {
  it('reaches the served env through reset options, unchanged', async () => {
    const kwargs = { size: 40, difficulty: 1 };
    // The index folder is a path on the server: the operator's to set, not a client's.
    const indexDirectory = join(directory, 'index');
    const server = await serve({ port: 0, kwargs: { 'search/multihop-v0': { indexDirectory } } });
    const client = await RemoteClient.connect(server.url);
    const local = await make('search/multihop-v0', { ...kwargs, indexDirectory });
    try {
      const remote = await client.make('search/multihop-v0', kwargs);
      // Seed 0 first draws a held-out question, so the train split must redraw it.
      for (const options of [{}, { split: 'train' }, { split: 'heldout' }]) {
        const there = await remote.reset({ seed: 0, options });
        const here = await local.reset({ seed: 0, options });
        expect(there.observation.text).toBe(here.observation.text);
        expect(there.info.split).toBe(here.info.split);
        const question = /^Question: (.*)$/m.exec(there.observation.text)![1]!;
        expect(splitOf(question)).toBe('split' in options ? options.split : 'heldout');
      }
      const error = await remote.reset({ seed: 0, options: { split: 'dev' } }).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(RemoteError);
      expect(error).toMatchObject({ code: 'INVALID_OPTIONS' });
      expect((error as Error).message).toContain("split must be 'train'");
    } finally {
      await local.close();
      await client.close();
      await server.close();
    }
  });
});
