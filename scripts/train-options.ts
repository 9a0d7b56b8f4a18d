/**
 * Writes src/rl/train-options.ts, the `TrainOptions` interface of `train()`, from the zod schema in
 * src/rl/config.ts: one member per option, typed by the schema and documented with its description and
 * default, so that an editor (and the published .d.ts) shows them. Run it after changing an option:
 *
 *   npx tsx scripts/train-options.ts
 *
 * test/rl/config.test.ts fails when the file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { trainConfigSchema } from '../src/rl/config.js';

export const TRAIN_OPTIONS_FILE = fileURLToPath(new URL('../src/rl/train-options.ts', import.meta.url));

/** The source of src/rl/train-options.ts. */
export function trainOptionsSource(): string {
  const schema = z.toJSONSchema(trainConfigSchema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, { description?: string; default?: unknown }> };
  const members = Object.entries(schema.properties).map(([name, property]) => {
    const shownDefault = property.default === undefined ? '' : `\n   *\n   * @defaultValue \`${JSON.stringify(property.default)}\``;
    const text = (property.description ?? '').replaceAll('*/', '*\\/');
    const description = wrap(/[.!?]$/.test(text) ? text : `${text}.`, 104).join('\n   * ');
    return `  /**\n   * ${description}${shownDefault}\n   */\n  ${name}?: Input['${name}'];`;
  });
  return `// Generated from trainConfigSchema (src/rl/config.ts) by scripts/train-options.ts: do not edit, run \`npx tsx scripts/train-options.ts\`.
import type { z } from 'zod';
import type { trainConfigSchema } from './config.js';

type Input = z.input<typeof trainConfigSchema>;

/**
 * The options of \`train()\`, each with its meaning and default (the same as \`turngym train\`'s flags:
 * \`warmStartSteps\` is \`--warm-start-steps\`). Every option is optional; \`train()\` validates them and throws a
 * \`TurngymError\` (\`INVALID_OPTIONS\`) naming each bad one.
 */
export interface TrainOptions {
${members.join('\n')}
}

// Fails to compile when this interface and the schema name different options.
type Same<T extends true> = T;
type _SameOptions = Same<[Exclude<keyof Input, keyof TrainOptions>, Exclude<keyof TrainOptions, keyof Input>] extends [never, never] ? true : false>;
`;
}

/** Splits text into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(TRAIN_OPTIONS_FILE, trainOptionsSource());
  console.log(`wrote ${TRAIN_OPTIONS_FILE}`);
}
