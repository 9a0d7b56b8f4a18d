/**
 * Writes the documented options interfaces of the API from their zod schemas: src/rl/train-options.ts
 * (`TrainOptions`, from src/rl/config.ts) and src/agent/policy/sft-options.ts (`SftOptions`, from
 * src/agent/policy/sft.ts). One member per option, typed by the schema and documented with its description
 * and default, so that an editor (and the published .d.ts) shows them. Run it after changing an option:
 *
 *   npx tsx scripts/train-options.ts
 *
 * test/rl/config.test.ts fails when a file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { sftOptionsSchema } from '../src/agent/policy/sft.js';
import { trainConfigSchema } from '../src/rl/config.js';

export const TRAIN_OPTIONS_FILE = fileURLToPath(new URL('../src/rl/train-options.ts', import.meta.url));
export const SFT_OPTIONS_FILE = fileURLToPath(new URL('../src/agent/policy/sft-options.ts', import.meta.url));

/** The source of src/rl/train-options.ts. */
export function trainOptionsSource(): string {
  return optionsSource(trainConfigSchema, 'trainConfigSchema', 'src/rl/config.ts', 'TrainOptions', [
    "The options of `train()`, each with its meaning and default (the same as `turngym train`'s flags:",
    '`warmStartSteps` is `--warm-start-steps`). Every option is optional; `train()` validates them and throws a',
    '`TurngymError` (`INVALID_OPTIONS`) naming each bad one.',
  ]);
}

/** The source of src/agent/policy/sft-options.ts. */
export function sftOptionsSource(): string {
  return optionsSource(sftOptionsSchema, 'sftOptionsSchema', 'src/agent/policy/sft.ts', 'SftOptions', [
    "The settings of `behaviourCloning()`, each with its meaning and default (`turngym sft`'s flags, where it has",
    'one: `batchTokens` is `--batch-tokens`). All but `env` are optional; `behaviourCloning()` validates them and',
    'throws a `TurngymError` (`INVALID_OPTIONS`) naming each bad one.',
  ]);
}

function optionsSource(
  schema: z.ZodType,
  schemaName: string,
  schemaFile: string,
  name: string,
  intro: string[],
): string {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties: Record<string, { description?: string; default?: unknown }>;
    required?: string[];
  };
  const members = Object.entries(json.properties).map(([option, property]) => {
    const shownDefault =
      property.default === undefined ? '' : `\n   *\n   * @defaultValue \`${JSON.stringify(property.default)}\``;
    const text = (property.description ?? '').replaceAll('*/', '*\\/');
    const description = wrap(/[.!?]$/.test(text) ? text : `${text}.`, 104).join('\n   * ');
    const optional = json.required?.includes(option) ? '' : '?';
    return `  /**\n   * ${description}${shownDefault}\n   */\n  ${option}${optional}: Input['${option}'];`;
  });
  const module = `./${schemaFile.split('/').at(-1)!.replace(/\.ts$/, '.js')}`;
  return `// Generated from ${schemaName} (${schemaFile}) by scripts/train-options.ts: do not edit, run \`npx tsx scripts/train-options.ts\`.
import type { z } from 'zod';
import type { ${schemaName} } from '${module}';

type Input = z.input<typeof ${schemaName}>;

/**
${intro.map((line) => ` * ${line}`).join('\n')}
 */
export interface ${name} {
${members.join('\n')}
}

// Fails to compile when this interface and the schema name different options.
type Same<T extends true> = T;
type _SameOptions = Same<[Exclude<keyof Input, keyof ${name}>, Exclude<keyof ${name}, keyof Input>] extends [never, never] ? true : false>;
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
  for (const [file, source] of [
    [TRAIN_OPTIONS_FILE, trainOptionsSource()],
    [SFT_OPTIONS_FILE, sftOptionsSource()],
  ] as const) {
    writeFileSync(file, source);
    console.log(`wrote ${file}`);
  }
}
