import { describe, expect, it } from 'vitest';
import { errorCodeOf, WIRE_ERROR_CODES, wireCodeOf } from '../../../src/envs/remote/protocol.js';

describe('protocol', () => {
  it('maps turngym error codes onto wire codes and back', () => {
    expect(wireCodeOf('UNKNOWN_ENV')).toBe('UNKNOWN_ENV');
    expect(wireCodeOf('INVALID_KWARGS')).toBe('VALIDATION_ERROR');
    expect(wireCodeOf('INVALID_OPTIONS')).toBe('VALIDATION_ERROR');
    expect(wireCodeOf('RESET_NEEDED')).toBe('EPISODE_ENDED');
    expect(wireCodeOf('EPISODE_ENDED')).toBe('EPISODE_ENDED');
    expect(wireCodeOf('ENV_CLOSED')).toBe('UNKNOWN_SESSION');
    expect(wireCodeOf('TIMEOUT')).toBe('TIMEOUT');
    expect(wireCodeOf('ENV_FAILURE')).toBe('INTERNAL');
    expect(wireCodeOf(undefined)).toBe('INTERNAL');
    expect(WIRE_ERROR_CODES.map(errorCodeOf)).toEqual([
      'INVALID_OPTIONS',
      'INVALID_OPTIONS',
      'UNKNOWN_ENV',
      'ENV_FAILURE',
      'ENV_FAILURE',
      'NOT_SUPPORTED',
      'TIMEOUT',
      'EPISODE_ENDED',
      'ENV_FAILURE',
    ]);
  });
});
