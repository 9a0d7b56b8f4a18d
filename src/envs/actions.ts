/**
 * Actions: turning what an agent wrote into a validated tool call, and describing tools to agents.
 *
 * Three text forms are accepted, so that both small policies and chat LLMs can act:
 * - function-call syntax: `guess(42)`, `search(query="x", k=3)`, `answer('Paris')` (positional arguments
 *   follow the order of the schema's fields);
 * - JSON: `{"tool": "guess", "args": {"n": 42}}` (also `{"name": ..., "arguments": ...}` as OpenAI writes it);
 * - `<tool_call>{...}</tool_call>` around either JSON form (Qwen/Hermes style).
 */
import { z } from 'zod';
import type { Action, ToolCall, ToolSpec } from './env.js';
import type { ActionError } from '../core/errors.js';

export type ParseResult = { ok: true; call: ToolCall } | { ok: false; error: ActionError };

const TOOL_CALL_TAG = /<tool_call>([\s\S]*?)(?:<\/tool_call>|$)/;

/** Parses agent text into a tool call (not yet validated against the tool's schema). */
export function parseAction(text: string, tools: readonly ToolSpec[]): ParseResult {
  const trimmed = text.trim();
  if (trimmed === '') return fail('UNPARSABLE_ACTION', `The action is empty. ${usage(tools)}`);

  const tagged = TOOL_CALL_TAG.exec(trimmed);
  if (tagged) return parseJsonCall(tagged[1]!.trim(), tools);

  const fenced = /^```(?:json)?\s*([\s\S]*?)\s*```$/.exec(trimmed);
  const body = fenced ? fenced[1]! : trimmed;
  if (body.startsWith('{')) return parseJsonCall(body, tools);

  return parseFunctionCall(trimmed, tools);
}

/**
 * Checks an action (text or tool call) against the tools and their schemas and returns the call with
 * parsed arguments, or an error an agent can act on.
 */
export function resolveAction(action: Action, tools: readonly ToolSpec[], maxChars: number): ParseResult {
  const size = typeof action === 'string' ? action.length : safeSize(action);
  if (size > maxChars) {
    return fail(
      'ACTION_TOO_LARGE',
      `The action has ${size} characters; the limit is ${maxChars}. Send a shorter action.`,
    );
  }
  let call: ToolCall;
  if (typeof action === 'string') {
    const parsed = parseAction(action, tools);
    if (!parsed.ok) return parsed;
    call = parsed.call;
  } else if (isToolCall(action)) {
    call = action;
  } else {
    return fail('UNPARSABLE_ACTION', `An action must be text or an object {tool, args}. ${usage(tools)}`);
  }
  return validateCall(call, tools);
}

/** Validates a call's tool name and arguments; string/number mismatches that are clearly meant are coerced. */
export function validateCall(call: ToolCall, tools: readonly ToolSpec[]): ParseResult {
  const tool = tools.find((t) => t.name === call.tool);
  if (!tool) {
    return fail('UNKNOWN_TOOL', `Unknown tool '${String(call.tool).slice(0, 80)}'. ${usage(tools)}`);
  }
  const shape = tool.parameters.shape as Record<string, z.ZodType>;
  const unexpected = Object.keys(call.args).filter((key) => !(key in shape));
  if (unexpected.length > 0) {
    return fail(
      'INVALID_ARGS',
      `${tool.name} got unexpected argument${unexpected.length > 1 ? 's' : ''} ${unexpected.map((k) => `'${k.slice(0, 40)}'`).join(', ')}; it takes ${signature(tool)}.`,
    );
  }
  const coerced: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(call.args)) coerced[key] = coerce(value, shape[key]!);
  const result = tool.parameters.safeParse(coerced);
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => `${issue.path.join('.') || 'arguments'}: ${issue.message}`)
      .join('; ');
    return fail('INVALID_ARGS', `Invalid arguments for ${tool.name}: ${problems}. Usage: ${signature(tool)}.`);
  }
  return { ok: true, call: { tool: tool.name, args: result.data as Record<string, unknown> } };
}

/** `name(arg1, arg2?)` for a tool, as shown to agents in error messages and prompts. */
export function signature(tool: ToolSpec): string {
  const shape = tool.parameters.shape as Record<string, z.ZodType>;
  const args = Object.entries(shape).map(([key, field]) => (field.safeParse(undefined).success ? `${key}?` : key));
  return `${tool.name}(${args.join(', ')})`;
}

/** One line per tool, `signature: description`, for prompts. */
export function describeTools(tools: readonly ToolSpec[]): string {
  return tools.map((tool) => `${signature(tool)}: ${tool.description}`).join('\n');
}

/**
 * A tool's arguments as JSON Schema (zod's own conversion, input side, without `$schema`). Unknown
 * arguments are refused by `validateCall`, so the schema says `additionalProperties: false`.
 */
export function toolJsonSchema(tool: ToolSpec): Record<string, unknown> {
  return { ...inputJsonSchema(tool.parameters), additionalProperties: false };
}

/** A zod schema as JSON Schema of what it accepts (zod's own conversion, input side, without `$schema`). */
export function inputJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/** Tools in the OpenAI chat-completions `tools` format. */
export function toOpenAITools(tools: readonly ToolSpec[]) {
  return tools.map((tool) => ({
    type: 'function' as const,
    function: { name: tool.name, description: tool.description, parameters: toolJsonSchema(tool) },
  }));
}

/** Tools in the Anthropic messages `tools` format. */
export function toAnthropicTools(tools: readonly ToolSpec[]) {
  return tools.map((tool) => ({ name: tool.name, description: tool.description, input_schema: toolJsonSchema(tool) }));
}

// ---------------------------------------------------------------------------------------------------------

function fail(code: ActionError['code'], message: string): ParseResult {
  return { ok: false, error: { code, message } };
}

function usage(tools: readonly ToolSpec[]): string {
  return `Available tools: ${tools.map(signature).join(', ')}. Write a call such as ${example(tools)}.`;
}

function example(tools: readonly ToolSpec[]): string {
  const tool = tools[0];
  if (!tool) return 'tool(args)';
  const first = Object.keys(tool.parameters.shape)[0];
  return first ? `${tool.name}(${first}=...)` : `${tool.name}()`;
}

function isToolCall(value: unknown): value is ToolCall {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.tool === 'string' &&
    typeof candidate.args === 'object' &&
    candidate.args !== null &&
    !Array.isArray(candidate.args)
  );
}

function safeSize(value: unknown): number {
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function parseJsonCall(text: string, tools: readonly ToolSpec[]): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail(
      'UNPARSABLE_ACTION',
      `The action looks like JSON but does not parse (${(error as Error).message}). ${usage(tools)}`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('UNPARSABLE_ACTION', `A JSON action must be an object {"tool": ..., "args": {...}}. ${usage(tools)}`);
  }
  const object = value as Record<string, unknown>;
  const tool = object.tool ?? object.name;
  let args: unknown = object.args ?? object.arguments ?? {};
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      return fail('UNPARSABLE_ACTION', 'The "arguments" string is not valid JSON.');
    }
  }
  if (typeof tool !== 'string') {
    return fail('UNPARSABLE_ACTION', `A JSON action needs a "tool" (or "name") string. ${usage(tools)}`);
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    return fail('INVALID_ARGS', `The "args" of ${tool} must be an object of named arguments.`);
  }
  return { ok: true, call: { tool, args: args as Record<string, unknown> } };
}

const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*/y;

/** Finds the first `name(` of a known tool (or, failing that, any `name(`) and parses its arguments. */
function parseFunctionCall(text: string, tools: readonly ToolSpec[]): ParseResult {
  const known = new Set(tools.map((t) => t.name));
  const callPattern = /([A-Za-z_][A-Za-z0-9_]*)\s*\(/g;
  let first: RegExpExecArray | null = null;
  let chosen: RegExpExecArray | null = null;
  for (let match = callPattern.exec(text); match; match = callPattern.exec(text)) {
    first ??= match;
    if (known.has(match[1]!)) {
      chosen = match;
      break;
    }
  }
  chosen ??= first;
  if (!chosen) {
    return fail('UNPARSABLE_ACTION', `Could not find a tool call in the action. ${usage(tools)}`);
  }
  const name = chosen[1]!;
  const tool = tools.find((t) => t.name === name);
  const parser = new ArgumentParser(text, chosen.index + chosen[0].length);
  let parsed: { positional: unknown[]; named: Record<string, unknown> };
  try {
    parsed = parser.parseArguments();
  } catch (error) {
    return fail('UNPARSABLE_ACTION', `Could not parse the arguments of ${name}(...): ${(error as Error).message}.`);
  }
  if (!tool) return { ok: true, call: { tool: name, args: parsed.named } };
  const fields = Object.keys(tool.parameters.shape);
  if (parsed.positional.length > fields.length) {
    return fail(
      'INVALID_ARGS',
      `${name} takes at most ${fields.length} argument(s); got ${parsed.positional.length}. Usage: ${signature(tool)}.`,
    );
  }
  const args: Record<string, unknown> = {};
  parsed.positional.forEach((value, index) => {
    args[fields[index]!] = value;
  });
  for (const [key, value] of Object.entries(parsed.named)) {
    if (key in args) return fail('INVALID_ARGS', `${name} got '${key}' twice. Usage: ${signature(tool)}.`);
    args[key] = value;
  }
  return { ok: true, call: { tool: name, args } };
}

/** A small recursive-descent parser for Python/JS-like literal arguments. */
class ArgumentParser {
  constructor(
    private readonly text: string,
    private position: number,
  ) {}

  parseArguments(): { positional: unknown[]; named: Record<string, unknown> } {
    const positional: unknown[] = [];
    const named: Record<string, unknown> = {};
    this.skipSpace();
    if (this.peek() === ')') return { positional, named };
    for (;;) {
      this.skipSpace();
      const keyword = this.tryKeyword();
      const value = this.parseValue(0);
      if (keyword !== undefined) named[keyword] = value;
      else if (Object.keys(named).length > 0) throw new Error('a positional argument follows a named one');
      else positional.push(value);
      this.skipSpace();
      const next = this.text[this.position++];
      if (next === ')') return { positional, named };
      if (next !== ',') throw new Error(next === undefined ? 'missing closing parenthesis' : `unexpected '${next}'`);
      this.skipSpace();
      if (this.peek() === ')') {
        this.position++;
        return { positional, named };
      }
    }
  }

  private tryKeyword(): string | undefined {
    IDENTIFIER.lastIndex = this.position;
    const match = IDENTIFIER.exec(this.text);
    if (!match) return undefined;
    let after = this.position + match[0].length;
    while (/\s/.test(this.text[after] ?? '')) after++;
    const sign = this.text[after];
    if ((sign === '=' && this.text[after + 1] !== '=') || sign === ':') {
      this.position = after + 1;
      this.skipSpace();
      return match[0];
    }
    return undefined;
  }

  private parseValue(depth: number): unknown {
    if (depth > 32) throw new Error('arguments nested too deeply');
    this.skipSpace();
    const char = this.peek();
    if (char === undefined) throw new Error('missing value');
    if (char === '"' || char === "'" || char === '`') return this.parseString(char);
    if (char === '[') return this.parseList(depth);
    if (char === '{') return this.parseObject(depth);
    const literal = /^(-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|true|false|True|False|null|None)/.exec(
      this.text.slice(this.position, this.position + 400),
    );
    if (literal) {
      this.position += literal[0].length;
      const word = literal[0];
      if (word === 'true' || word === 'True') return true;
      if (word === 'false' || word === 'False') return false;
      if (word === 'null' || word === 'None') return null;
      return Number(word);
    }
    // A bare word up to the next comma or parenthesis: accept it as text (`answer(Paris)`).
    const bare = /^[^,()[\]{}"'`]+/.exec(this.text.slice(this.position, this.position + 4096));
    if (bare && bare[0].trim() !== '') {
      this.position += bare[0].length;
      return bare[0].trim();
    }
    throw new Error(`unexpected '${char}'`);
  }

  private parseString(quote: string): string {
    this.position++;
    let out = '';
    for (;;) {
      const char = this.text[this.position++];
      if (char === undefined) throw new Error('unterminated string');
      if (char === quote) return out;
      if (char === '\\') {
        const escaped = this.text[this.position++];
        if (escaped === undefined) throw new Error('unterminated string');
        out += ESCAPES[escaped] ?? escaped;
      } else {
        out += char;
      }
    }
  }

  private parseList(depth: number): unknown[] {
    this.position++;
    const items: unknown[] = [];
    this.skipSpace();
    if (this.peek() === ']') {
      this.position++;
      return items;
    }
    for (;;) {
      items.push(this.parseValue(depth + 1));
      this.skipSpace();
      const next = this.text[this.position++];
      if (next === ']') return items;
      if (next !== ',') throw new Error('expected , or ] in a list');
    }
  }

  private parseObject(depth: number): Record<string, unknown> {
    this.position++;
    const object: Record<string, unknown> = {};
    this.skipSpace();
    if (this.peek() === '}') {
      this.position++;
      return object;
    }
    for (;;) {
      this.skipSpace();
      const quote = this.peek();
      let key: string;
      if (quote === '"' || quote === "'") key = this.parseString(quote);
      else {
        IDENTIFIER.lastIndex = this.position;
        const match = IDENTIFIER.exec(this.text);
        if (!match) throw new Error('expected a key in an object');
        key = match[0];
        this.position += key.length;
      }
      this.skipSpace();
      if (this.text[this.position++] !== ':') throw new Error('expected : after an object key');
      object[key] = this.parseValue(depth + 1);
      this.skipSpace();
      const next = this.text[this.position++];
      if (next === '}') return object;
      if (next !== ',') throw new Error('expected , or } in an object');
    }
  }

  private peek(): string | undefined {
    return this.text[this.position];
  }

  private skipSpace(): void {
    while (/\s/.test(this.text[this.position] ?? '')) this.position++;
  }
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0' };

/** The zod type name of a field, looking through optional/default/nullable wrappers. */
function baseType(schema: z.ZodType): string {
  let def = (schema as unknown as { _zod: { def: { type: string; innerType?: z.ZodType } } })._zod.def;
  while (
    def.innerType &&
    (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault')
  ) {
    def = (def.innerType as unknown as { _zod: { def: { type: string; innerType?: z.ZodType } } })._zod.def;
  }
  return def.type;
}

function coerce(value: unknown, schema: z.ZodType): unknown {
  const type = baseType(schema);
  if (type === 'string' && (typeof value === 'number' || typeof value === 'boolean')) return String(value);
  if (type === 'number' && typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) {
    return Number(value);
  }
  return value;
}
