/** `turngym list [ID] [--json]`: the registered environments, or one of them with its tools and keyword arguments. */
import type { Command } from 'commander';
import { inputJsonSchema, signature } from '../envs/actions.js';
import { list, type RegisteredSpec, remoteKwargsSchema, spec } from '../envs/registry.js';
import { specToWire } from '../envs/remote/protocol.js';
import { collect, importModules, printJson } from './common.js';

export function listCommand(program: Command): void {
  program
    .command('list')
    .description('list the registered environments; with an id, that env in full (tools, keyword arguments)')
    .argument('[id]', 'an env id, e.g. code/calc-v0')
    .option(
      '--json',
      'print JSON (the spec as the wire protocol sends it, plus kwargs as JSON Schema, and remote_kwargs: what a turngym serve client may set)',
    )
    .option('--import <module>', 'import a module that registers envs (repeatable)', collect, [])
    .action(async (id: string | undefined, options: { json?: boolean; import: string[] }) => {
      await importModules(options.import);
      const specs = id === undefined ? list().map((envId) => spec(envId)) : [spec(id)];
      if (options.json) {
        // Unknown kwargs are refused by `make`, as unknown tool arguments are.
        const json = specs.map((s) => ({
          ...specToWire(s),
          kwargs: { ...inputJsonSchema(s.kwargs), additionalProperties: false },
          remote_kwargs: inputJsonSchema(remoteKwargsSchema(s.id)),
        }));
        printJson(id === undefined ? json : json[0]);
        return;
      }
      if (id !== undefined) {
        console.log(describeEnv(specs[0]!));
        return;
      }
      const width = Math.max(...specs.map((s) => s.id.length));
      for (const s of specs) {
        console.log(
          `${s.id.padEnd(width)}  ${s.description}  [tools: ${s.tools.map((t) => t.name).join(', ')}; ${s.maxTurns} turns]`,
        );
      }
      console.log(`\n'turngym list ID' shows an env's keyword arguments.`);
    });
}

/** One env in full: description, horizon, tools with their arguments, keyword arguments with type and meaning. */
function describeEnv(s: RegisteredSpec): string {
  const lines = [
    s.id,
    `  ${s.description}`,
    `  ${s.maxTurns} turns at most${s.deterministic ? '; the same seed gives the same task' : ''}`,
    '',
    'tools:',
  ];
  for (const tool of s.tools) lines.push(`  ${signature(tool)}  ${tool.description}`);
  const schema = inputJsonSchema(s.kwargs) as { properties?: Record<string, JsonField>; required?: string[] };
  const remote =
    (inputJsonSchema(remoteKwargsSchema(s.id)) as { properties?: Record<string, JsonField> }).properties ?? {};
  const fields = Object.entries(schema.properties ?? {});
  lines.push(
    '',
    `kwargs (a JSON object: --kwargs for run, sft, eval and train; [remote]: a client of turngym serve may set it too):`,
  );
  if (fields.length === 0) lines.push('  (none)');
  const width = Math.max(0, ...fields.map(([name, field]) => `${name} ${typeOf(field)}`.length));
  for (const [name, field] of fields) {
    const required = schema.required?.includes(name) ? ' (required)' : '';
    const remoteField = remote[name];
    const marker =
      remoteField === undefined
        ? ''
        : typeOf(remoteField) === typeOf(field)
          ? ' [remote]'
          : ` [remote: ${typeOf(remoteField)}]`;
    // The schema's default, unless the description already says it (the built-in envs write "default 2").
    const shownDefault =
      field.default === undefined || /\bdefault\b/i.test(field.description ?? '')
        ? ''
        : `; default ${JSON.stringify(field.default)}`;
    lines.push(
      `  ${`${name} ${typeOf(field)}`.padEnd(width)}  ${field.description ?? ''}${shownDefault}${required}${marker}`,
    );
  }
  return lines.join('\n');
}

type JsonField = {
  type?: string;
  enum?: unknown[];
  items?: JsonField;
  minimum?: number;
  maximum?: number;
  description?: string;
  default?: unknown;
};

/** A short type for a JSON Schema field: `integer 1..5`, `"f1" | "exact"`, `string[]`. */
function typeOf(field: JsonField): string {
  if (field.enum) return field.enum.map((value) => JSON.stringify(value)).join(' | ');
  if (field.type === 'array') return `${field.items ? typeOf(field.items) : 'any'}[]`;
  const type = field.type ?? 'any';
  // zod writes an integer's unstated bound as +-MAX_SAFE_INTEGER: not worth showing.
  const bound = (value: number | undefined) =>
    value !== undefined && Math.abs(value) < Number.MAX_SAFE_INTEGER ? value : undefined;
  const [min, max] = [bound(field.minimum), bound(field.maximum)];
  if (min !== undefined && max !== undefined) return `${type} ${min}..${max}`;
  if (min !== undefined) return `${type} >= ${min}`;
  if (max !== undefined) return `${type} <= ${max}`;
  return type;
}
