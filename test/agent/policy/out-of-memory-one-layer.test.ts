import { beforeAll, describe, it } from 'vitest';
import { initBackend } from '../../../src/agent/policy/backend.js';
import { expectPassTooLarge } from './pass-too-large.js';

// Its own file, as out-of-memory.test.ts: after a real out-of-memory fault the wasm backend cannot be used again
// in the process.
beforeAll(async () => {
  await initBackend('wasm', () => {});
});

describe('a pass of a one-layer model too large for the wasm heap', () => {
  // The same exhaustion faults in another form with one layer ("table index is out of bounds": the failed
  // allocation let a kernel overwrite a function pointer); it is the same error to the user.
  it('is an OUT_OF_MEMORY error that says which flags make passes smaller', () => expectPassTooLarge(1), 120_000);
});
