import { beforeAll, describe, it } from 'vitest';
import { initBackend } from '../../../src/agent/policy/backend.js';
import { expectPassTooLarge } from './pass-too-large.js';

// Its own file: after a real out-of-memory fault the wasm backend cannot be used again in the process, and
// vitest runs each file in a fresh one.
beforeAll(async () => {
  await initBackend('wasm', () => {});
});

describe('a pass too large for the wasm heap', () => {
  // Two layers: the heap runs out in the first, which runs on every position (the last block runs on the rows the
  // loss reads, forward's `columns`); the fault is "memory access out of bounds".
  it('is an OUT_OF_MEMORY error that says which flags make passes smaller', () => expectPassTooLarge(2), 120_000);
});
