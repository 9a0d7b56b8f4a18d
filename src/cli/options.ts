/**
 * Command-line options generated from a zod object schema, so that a command's options are written once (each
 * field with its bounds, default and `.describe()`) and serve the API, the CLI and its help. Field `fooBar` is
 * `--foo-bar <n>`: the placeholder follows the type unless the field's meta names one (`{ placeholder: 'dir' }`);
 * numbers, strings, enums and booleans are read from text, objects, arrays and unions as JSON; a field without
 * a default is a required flag, and a `repeatable` one (meta) collects each use into an array. Rules between
 * options are the schema's refinements.
 */
import { type Command, Option } from 'commander';
import { z } from 'zod';
import { parseOptions, UsageError } from '../core/errors.js';
import { trainConfigSchema } from '../rl/config.js';
import { collect, integer, jsonObject } from './common.js';

/** Flags several commands take, each declared once. */
export const FLAGS = {
  env: z.string().describe('Environment id, e.g. puzzle/guess-number-v0').meta({ placeholder: 'id' }),
  kwargs: z.record(z.string(), z.unknown()).default({}).describe('Env keyword arguments, as a JSON object'),
  difficulty: z.number().int().optional().describe('Task difficulty (the env decides the range)'),
  backend: trainConfigSchema.shape.backend,
  import: z
    .array(z.string())
    .default([])
    .describe('Import a module that registers envs (repeatable)')
    .meta({ placeholder: 'module', repeatable: true }),
};

/** The env kwargs of `--kwargs` and `--difficulty` together. */
export function kwargsOf(options: { kwargs: Record<string, unknown>; difficulty?: number }): Record<string, unknown> {
  return { ...options.kwargs, ...(options.difficulty !== undefined ? { difficulty: options.difficulty } : {}) };
}

/** A field's schema under its optional/default wrappers, and its default. */
function unwrap(schema: z.ZodType): { inner: z.ZodType; defaultValue: unknown } {
  let inner = schema;
  let defaultValue: unknown;
  while (
    inner instanceof z.ZodOptional ||
    inner instanceof z.ZodDefault ||
    inner instanceof z.ZodNullable ||
    inner instanceof z.ZodPrefault
  ) {
    if (inner instanceof z.ZodDefault) defaultValue = inner.def.defaultValue;
    inner = inner.unwrap() as z.ZodType;
  }
  return { inner, defaultValue };
}

function fields(schema: z.ZodObject): [string, z.ZodType][] {
  return Object.entries(schema.shape as Record<string, z.ZodType>);
}

/** The flag of option `name`: `fooBar` is `--foo-bar`. */
export function flag(name: string): string {
  return `--${name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/** Adds one option per field of `schema`. Defaults are shown in help, not applied here (the schema applies them). */
export function addSchemaOptions(command: Command, schema: z.ZodObject): Command {
  for (const [name, field] of fields(schema)) {
    const { inner, defaultValue } = unwrap(field);
    const { placeholder, repeatable } = (field.meta() ?? {}) as { placeholder?: string; repeatable?: boolean };
    const description = field.description ?? '';
    if (inner instanceof z.ZodBoolean) {
      command.addOption(new Option(flag(name), description));
      command.addOption(new Option(flag(name).replace(/^--/, '--no-')).hideHelp());
      continue;
    }
    const shown =
      placeholder ??
      (inner instanceof z.ZodNumber
        ? 'n'
        : inner instanceof z.ZodEnum
          ? 'choice'
          : inner instanceof z.ZodString
            ? 'text'
            : 'json');
    const shownDefault = defaultValue === undefined || repeatable ? '' : ` (default: ${JSON.stringify(defaultValue)})`;
    const option = new Option(`${flag(name)} <${shown}>`, description + shownDefault);
    if (inner instanceof z.ZodEnum) option.choices(inner.options.map(String));
    if (repeatable) option.argParser(collect);
    if (!field.safeParse(undefined).success) option.makeOptionMandatory();
    command.addOption(option);
  }
  return command;
}

/**
 * Turns commander's parsed options back into an object for the schema, converting text to numbers and JSON
 * where the field needs it (booleans and repeated flags come as they are). Only options the user gave are returned.
 */
export function readSchemaOptions(flags: Record<string, unknown>, schema: z.ZodObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, field] of fields(schema)) {
    const value = flags[name];
    if (value === undefined) continue;
    const { inner } = unwrap(field);
    if (typeof value !== 'string' || inner instanceof z.ZodString || inner instanceof z.ZodEnum) out[name] = value;
    else if (inner instanceof z.ZodNumber && inner.isInt) out[name] = integer(flag(name))(value);
    else if (inner instanceof z.ZodNumber) {
      if (value.trim() === '' || !Number.isFinite(Number(value)))
        throw new UsageError(`${flag(name)} must be a number, got '${value}'.`);
      out[name] = Number(value);
    } else if (inner instanceof z.ZodRecord || inner instanceof z.ZodObject) out[name] = jsonObject(flag(name))(value);
    else {
      try {
        out[name] = JSON.parse(value);
      } catch (error) {
        throw new UsageError(`${flag(name)} must be JSON: ${(error as Error).message}`);
      }
    }
  }
  return out;
}

/** The flags given, read and validated by `schema` with the defaults filled in; a bad one is a one-line usage error naming its flag. */
export function parseFlags<S extends z.ZodObject>(flags: Record<string, unknown>, schema: S): z.output<S> {
  return parseOptions(schema, readSchemaOptions(flags, schema), undefined, flag);
}
