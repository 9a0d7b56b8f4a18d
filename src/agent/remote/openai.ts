/**
 * An agent for OpenAI-compatible chat-completions endpoints (OpenAI, vLLM, llama.cpp, Ollama, hosted APIs):
 *
 *   turngym run --env puzzle/guess-number-v0 --agent openai:MODEL --base-url http://127.0.0.1:8000/v1
 *
 * The env's tools are handed over as function tools; each turn the model's first tool call becomes the
 * action (a reply without a tool call is sent as a text action, which the env parses or answers with an
 * error observation). The observation goes back as the `tool` message answering that call. Arguments that
 * are not valid JSON are not repaired: the env answers them with an error observation, as it would any
 * agent mistake. Rate limits (429), server errors (5xx), timeouts and network errors are retried with
 * exponential backoff (honouring Retry-After); other HTTP errors (400, 401, 404) fail at once with the
 * server's message. What the user can fix is INVALID_OPTIONS (a base URL that is not http(s), a key refused
 * with 401 or 403, a model or path not found, 404) or UNREACHABLE (no server at the base URL, after the
 * retries); the rest is AGENT_FAILURE. Token usage is summed into the transcript.
 */
import type { Observation, ToolSpec } from '../../envs/env.js';
import { describeTools, toOpenAITools } from '../../envs/actions.js';
import { describeError, TurngymError } from '../../core/errors.js';
import type { Agent, AgentAction, EpisodeStart } from '../agent.js';

export interface OpenAIAgentOptions {
  /** Model name, as the endpoint knows it. */
  model: string;
  /** Endpoint root, ending before `/chat/completions`. [default 'https://api.openai.com/v1'] */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer KEY` when given. */
  apiKey?: string;
  /** Per-request timeout in ms. [default 60000] */
  timeoutMs?: number;
  /** Retries after a 429, a 5xx, a timeout or a network error. [default 4] */
  maxRetries?: number;
  /** First retry delay in ms, doubled each retry (at most 30 s). [default 500] */
  retryDelayMs?: number;
  /** Sampling temperature. [default: the endpoint's] */
  temperature?: number;
  /** Completion token limit per turn. [default 512] */
  maxTokens?: number;
  /** Replaces the default system prompt. */
  systemPrompt?: string;
}

type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCallMessage[] }
  | { role: 'tool'; tool_call_id: string; content: string };

interface ToolCallMessage {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

interface ChatCompletion {
  choices?: { message?: { content?: string | null; tool_calls?: Partial<ToolCallMessage>[] } }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

const RETRYABLE = new Set([408, 409, 429, 500, 502, 503, 504]);
/** Refusals the user fixes in the options, with what to check. */
const REFUSED_FIX: Record<number, string> = {
  401: 'Check the API key ($TURNGYM_API_KEY or $OPENAI_API_KEY).',
  403: 'Check the API key ($TURNGYM_API_KEY or $OPENAI_API_KEY) and what it may use.',
  404: 'Check the model name and the base URL (the root before /chat/completions, e.g. --base-url http://127.0.0.1:8000/v1).',
};
/** Network errors that mean nothing answers at the address. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Plays episodes by asking a chat model for one tool call per turn. */
export class OpenAIAgent implements Agent {
  readonly name: string;
  private readonly options: Required<Omit<OpenAIAgentOptions, 'apiKey' | 'temperature' | 'systemPrompt'>> &
    Pick<OpenAIAgentOptions, 'apiKey' | 'temperature' | 'systemPrompt'>;
  private messages: ChatMessage[] = [];
  private tools: ReturnType<typeof toOpenAITools> = [];
  /** The id of the tool call the next observation answers. */
  private openCall: string | undefined;
  private first = true;

  constructor(options: OpenAIAgentOptions) {
    if (!options.model)
      throw new TurngymError('INVALID_OPTIONS', 'openai: a model name is needed, e.g. --agent openai:gpt-4o-mini.');
    if (options.baseUrl !== undefined && !/^https?:$/.test(URL.parse(options.baseUrl)?.protocol ?? '')) {
      throw new TurngymError(
        'INVALID_OPTIONS',
        `'${options.baseUrl.slice(0, 200)}' is not an endpoint URL: give its root before /chat/completions, e.g. --base-url http://127.0.0.1:8000/v1.`,
      );
    }
    this.options = {
      ...options,
      baseUrl: (options.baseUrl ?? 'https://api.openai.com/v1').replace(/\/+$/, ''),
      timeoutMs: options.timeoutMs ?? 60_000,
      maxRetries: options.maxRetries ?? 4,
      retryDelayMs: options.retryDelayMs ?? 500,
      maxTokens: options.maxTokens ?? 512,
    };
    this.name = `openai:${options.model}`;
  }

  start(episode: EpisodeStart): void {
    this.tools = toOpenAITools(episode.spec.tools);
    this.messages = [{ role: 'system', content: this.options.systemPrompt ?? systemPrompt(episode.spec.tools) }];
    this.openCall = undefined;
    this.first = true;
  }

  async act(observation: Observation): Promise<AgentAction> {
    if (this.first) this.messages.push({ role: 'user', content: observation.text });
    else if (this.openCall)
      this.messages.push({ role: 'tool', tool_call_id: this.openCall, content: observation.text });
    else this.messages.push({ role: 'user', content: observation.text });
    this.first = false;
    const completion = await this.complete();
    const message = completion.choices?.[0]?.message ?? {};
    const usage =
      completion.usage &&
      (completion.usage.prompt_tokens !== undefined || completion.usage.completion_tokens !== undefined)
        ? {
            promptTokens: completion.usage.prompt_tokens ?? 0,
            completionTokens: completion.usage.completion_tokens ?? 0,
          }
        : undefined;
    const call = message.tool_calls?.[0];
    if (call) {
      // Only the first call is carried out; the history keeps just that one, so every call has its answer.
      const id = typeof call.id === 'string' && call.id ? call.id : `call_${this.messages.length}`;
      const name = String(call.function?.name ?? '');
      const rawArguments =
        typeof call.function?.arguments === 'string'
          ? call.function.arguments
          : JSON.stringify(call.function?.arguments ?? {});
      this.messages.push({
        role: 'assistant',
        content: message.content ?? null,
        tool_calls: [{ id, type: 'function', function: { name, arguments: rawArguments } }],
      });
      this.openCall = id;
      return { action: toAction(name, rawArguments), ...(usage ? { usage } : {}) };
    }
    const text = message.content ?? '';
    this.messages.push({ role: 'assistant', content: text });
    this.openCall = undefined;
    return { action: text, ...(usage ? { usage } : {}) };
  }

  /** POSTs the conversation, retrying what is worth retrying. */
  private async complete(): Promise<ChatCompletion> {
    const url = `${this.options.baseUrl}/chat/completions`;
    const body = JSON.stringify({
      model: this.options.model,
      messages: this.messages,
      tools: this.tools,
      tool_choice: 'auto',
      max_tokens: this.options.maxTokens,
      ...(this.options.temperature !== undefined ? { temperature: this.options.temperature } : {}),
    });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let delay = this.options.retryDelayMs;
    for (let attempt = 0; ; attempt++) {
      let problem: string;
      let unreachable = false;
      let wait = delay;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        const text = await response.text();
        if (response.ok) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            throw new TurngymError(
              'AGENT_FAILURE',
              `${url} answered 200 with a body that is not JSON: ${text.slice(0, 200)}`,
            );
          }
          if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as ChatCompletion).choices)) {
            throw new TurngymError(
              'AGENT_FAILURE',
              `${url} answered 200 without "choices"; is it an OpenAI-compatible chat endpoint?`,
            );
          }
          return parsed as ChatCompletion;
        }
        problem = `HTTP ${response.status}: ${errorText(text)}`;
        if (!RETRYABLE.has(response.status)) {
          const fix = REFUSED_FIX[response.status];
          throw new TurngymError(
            fix ? 'INVALID_OPTIONS' : 'AGENT_FAILURE',
            `${url} answered ${problem} (not retried: the request itself was refused).${fix ? ` ${fix}` : ''}`,
          );
        }
        if (response.status === 429) problem += ' (rate-limited: wait and run again, or send fewer requests)';
        const retryAfter = Number(response.headers.get('retry-after'));
        if (Number.isFinite(retryAfter) && retryAfter >= 0) wait = Math.min(30_000, retryAfter * 1000);
      } catch (error) {
        if (TurngymError.is(error)) throw error;
        const cause = (error as { cause?: unknown }).cause;
        unreachable = cause instanceof Error && UNREACHABLE_CODES.has((cause as NodeJS.ErrnoException).code ?? '');
        if ((error as Error).name === 'TimeoutError')
          problem = `no answer within ${this.options.timeoutMs} ms (--agent-timeout MS waits longer)`;
        else
          problem =
            cause instanceof Error
              ? cause.message || ((cause as NodeJS.ErrnoException).code ?? describeError(error))
              : describeError(error);
      }
      if (attempt >= this.options.maxRetries) {
        if (unreachable)
          throw new TurngymError(
            'UNREACHABLE',
            `${url} could not be reached (${attempt + 1} tries; last: ${problem}): is the server running, and is --base-url its address?`,
          );
        throw new TurngymError('AGENT_FAILURE', `${url} failed ${attempt + 1} times; last: ${problem}.`);
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
      delay = Math.min(30_000, delay * 2);
    }
  }
}

/** The action for a tool call: structured when its arguments are a JSON object, else text the env will judge. */
function toAction(name: string, rawArguments: string): AgentAction['action'] {
  try {
    const args: unknown = JSON.parse(rawArguments || '{}');
    if (typeof args === 'object' && args !== null && !Array.isArray(args))
      return { tool: name, args: args as Record<string, unknown> };
  } catch {
    // Falls through: the env parses this text and answers with an error observation the model can read.
  }
  return JSON.stringify({ name, arguments: rawArguments });
}

function errorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string } | string; message?: string };
    const message = typeof parsed.error === 'string' ? parsed.error : (parsed.error?.message ?? parsed.message);
    if (message) return message.slice(0, 500);
  } catch {
    // not JSON
  }
  return body.slice(0, 500) || '(empty body)';
}

function systemPrompt(tools: readonly ToolSpec[]): string {
  return [
    'You are an agent acting in an environment through tools. Each turn, call exactly one tool; the tool result is your next observation.',
    'Tools:',
    describeTools(tools),
  ].join('\n');
}
