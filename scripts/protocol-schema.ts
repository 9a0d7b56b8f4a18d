/**
 * Writes docs/protocol.schema.json, the JSON Schema of every protocol message, from the zod source in
 * src/envs/remote/protocol.ts (the env messages) and src/agent/remote/protocol.ts (the agent messages). Run
 * it after changing a message:
 *
 *   npx tsx scripts/protocol-schema.ts
 *
 * test/agent/remote/protocol.test.ts fails when the file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { protocolJsonSchema } from '../src/agent/remote/protocol.js';

const target = fileURLToPath(new URL('../docs/protocol.schema.json', import.meta.url));
writeFileSync(target, `${JSON.stringify(protocolJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target}`);
