import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AgentReply,
  AgentRequest,
  ClientMessage,
  protocolJsonSchema,
  ServerMessage,
} from '../../../src/agent/remote/protocol.js';

const docs = (name: string) => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');

describe('protocol', () => {
  it('publishes a JSON Schema that matches the zod source (run `npx tsx scripts/protocol-schema.ts` when this fails)', () => {
    expect(JSON.parse(docs('protocol.schema.json'))).toEqual(protocolJsonSchema());
  });

  it('describes every message of each direction in the schema', () => {
    const schema = protocolJsonSchema() as {
      $defs: Record<string, { oneOf: { properties: { type: { const: string } } }[] }>;
    };
    const types = (name: string) => schema.$defs[name]!.oneOf.map((option) => option.properties.type.const);
    expect(types('ClientMessage')).toEqual([
      'hello',
      'list',
      'make',
      'reset',
      'step',
      'close',
      'attach',
      'ground_truth',
    ]);
    expect(types('ServerMessage')).toEqual([
      'welcome',
      'envs',
      'made',
      'observation',
      'step_result',
      'closed',
      'attached',
      'ground_truth',
      'error',
    ]);
    expect(types('AgentRequest')).toEqual(['act']);
    expect(types('AgentReply')).toEqual(['action', 'error']);
  });

  it('keeps every example frame in docs/protocol.md valid', () => {
    const schemas = {
      'client>': ClientMessage,
      'server>': ServerMessage,
      'turngym>': AgentRequest,
      'agent>': AgentReply,
    };
    const frames = docs('protocol.md')
      .split('\n')
      .map((line) => /^(client>|server>|turngym>|agent>) (.*)$/.exec(line))
      .filter((match) => match !== null);
    expect(frames.length).toBeGreaterThanOrEqual(26);
    for (const [, direction, json] of frames) {
      const result = schemas[direction as keyof typeof schemas].safeParse(JSON.parse(json!));
      expect(result.success, `${direction} ${json!.slice(0, 80)}: ${result.error?.message}`).toBe(true);
    }
    const sent = frames.filter(([, direction]) => direction === 'server>').map(([, , json]) => JSON.parse(json!).type);
    expect(new Set(sent)).toEqual(
      new Set(['welcome', 'envs', 'made', 'observation', 'step_result', 'ground_truth', 'error', 'closed', 'attached']),
    );
  });
});
