import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TurngymError } from '../../src/envs/errors.js';
import { list, make, register, spec, suggest, unregister } from '../../src/envs/registry.js';
import { GuessNumberEnv, guessNumberTools } from '../../src/envs/puzzle/guess-number.js';
import '../../src/envs/builtin.js';

describe('registry', () => {
  afterEach(() => {
    unregister('test/guess-v0');
  });

  it('lists the built-in envs and gives their spec without creating one', () => {
    expect(list()).toContain('puzzle/guess-number-v0');
    expect(spec('puzzle/guess-number-v0')).toMatchObject({ id: 'puzzle/guess-number-v0', maxTurns: 10, deterministic: true, concurrentSafe: true });
  });

  it('answers an unknown id with did-you-mean', async () => {
    await expect(make('puzzle/guess-numbr-v0')).rejects.toThrow(
      "No environment is registered as 'puzzle/guess-numbr-v0'. Did you mean 'puzzle/guess-number-v0'? Run `turngym list` to see them all.",
    );
    await expect(make('puzzle/guess-number-v9')).rejects.toSatisfy((error) => TurngymError.is(error, 'UNKNOWN_ENV'));
    expect(suggest('puzzle/guess-number-v9', ['puzzle/guess-number-v0', 'search/multihop-v0'])).toEqual(['puzzle/guess-number-v0']);
    expect(() => spec('nothing/like-it-v0')).toThrow("No environment is registered as 'nothing/like-it-v0'. Run");
  });

  it('validates kwargs and names each bad field', async () => {
    await expect(make('puzzle/guess-number-v0', { difficulty: 99 })).rejects.toThrow(/Invalid arguments for 'puzzle\/guess-number-v0':\n {2}- difficulty: Too big/);
    await expect(make('puzzle/guess-number-v0', { difficulty: 'hard' })).rejects.toThrow(/difficulty: Invalid input: expected number/);
    await expect(make('puzzle/guess-number-v0', { dificulty: 2 })).rejects.toThrow("  - dificulty: unknown argument; 'puzzle/guess-number-v0' accepts 'difficulty'");
  });

  it('applies kwarg defaults and the standard wrappers', async () => {
    const env = await make('puzzle/guess-number-v0');
    const { observation, info } = await env.reset({ seed: 3 });
    expect(observation.text).toContain('from 1 to 32');
    expect(info).toMatchObject({ seed: 3, difficulty: 3, max_turns: 10 });
    await env.close();
  });

  it('refuses malformed ids and re-registration of a published id', () => {
    const definition = { description: 'x', tools: guessNumberTools, maxTurns: 5, kwargs: z.object({}), create: (_: object, s: never) => new GuessNumberEnv(s, 1) };
    expect(() => register({ ...definition, id: 'Guess' })).toThrow("'Guess' is not a valid env id: use family/name-vN");
    register({ ...definition, id: 'test/guess-v0' });
    expect(() => register({ ...definition, id: 'test/guess-v0' })).toThrow(
      "'test/guess-v0' is already registered. A published id never changes meaning: register a new version (e.g. 'test/guess-v1').",
    );
  });
});
