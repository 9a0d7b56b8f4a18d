/**
 * Command-line options generated from a zod object schema, so that an options block is written once (with
 * a `.describe()` on every field) and serves both the API and the CLI. Field `fooBar` becomes `--foo-bar`;
 * numbers, strings, enums and booleans are read from text; objects, arrays and unions take JSON.
 */
import { type Command, Option } from 'commander';
import type { z } from 'zod';
import { UsageError } from '../core/errors.js';

type Def = { type: string; innerType?: z.ZodType; entries?: Record<string, string>; defaultValue?: unknown };

function unwrap(schema: z.ZodType): { def: Def; defaultValue: unknown } {
  let def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  let defaultValue: unknown;
  while (def.innerType && ['optional', 'default', 'nullable', 'prefault'].includes(def.type)) {
    if (def.type === 'default') defaultValue = typeof def.defaultValue === 'function' ? (def.defaultValue as () => unknown)() : def.defaultValue;
    def = (def.innerType as unknown as { _zod: { def: Def } })._zod.def;
  }
  return { def, defaultValue };
}

export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** Adds one option per field of `schema` (skipping `skip`). Defaults are shown in help, not applied here. */
export function addSchemaOptions(command: Command, schema: z.ZodObject, skip: readonly string[] = []): Command {
  for (const [name, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    if (skip.includes(name)) continue;
    const { def, defaultValue } = unwrap(field);
    const description = (field as z.ZodType & { description?: string }).description ?? '';
    const flag = `--${kebab(name)}`;
    let option: Option;
    if (def.type === 'boolean') {
      command.addOption(new Option(flag, description));
      command.addOption(new Option(`--no-${kebab(name)}`).hideHelp());
      continue;
    }
    const placeholder = def.type === 'number' ? '<n>' : def.type === 'enum' ? '<choice>' : def.type === 'string' ? '<text>' : '<json>';
    const shownDefault = defaultValue === undefined ? '' : ` (default: ${JSON.stringify(defaultValue)})`;
    option = new Option(`${flag} ${placeholder}`, description + shownDefault);
    if (def.type === 'enum' && def.entries) option = option.choices(Object.values(def.entries));
    command.addOption(option);
  }
  return command;
}

/**
 * Turns commander's parsed options back into an object for `schema.parse`, converting text to numbers
 * and JSON where the field needs it. Only options the user gave are returned.
 */
export function readSchemaOptions(options: Record<string, unknown>, schema: z.ZodObject, skip: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    if (skip.includes(name)) continue;
    const value = options[name];
    if (value === undefined) continue;
    const { def } = unwrap(field);
    const flag = `--${kebab(name)}`;
    if (def.type === 'number') {
      const parsed = Number(value);
      if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(parsed)) throw new UsageError(`${flag} must be a number, got '${String(value)}'.`);
      out[name] = parsed;
    } else if (def.type === 'string' || def.type === 'enum' || def.type === 'boolean') {
      out[name] = value;
    } else {
      try {
        out[name] = JSON.parse(String(value));
      } catch (error) {
        throw new UsageError(`${flag} must be JSON: ${(error as Error).message}`);
      }
    }
  }
  return out;
}
