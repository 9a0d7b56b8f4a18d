import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { runEpisode } from '../../../src/agent/agent.js';
import { OpenAIAgent } from '../../../src/agent/remote/openai.js';
import { guessNumberSuite } from '../../../src/envs/puzzle/guess-number.js';
import { make } from '../../../src/envs/registry.js';
import { Rng } from '../../../src/core/rng.js';
import '../../../src/envs/builtin.js';
import { runCli } from '../../cli/helpers.js';
import { closedPort } from '../../envs/remote/servers.js';

interface Recorded {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
  /** Milliseconds to wait before answering (to cause a client timeout). */
  delayMs?: number;
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/openai-guess-number.json', import.meta.url), 'utf8')) as {
  responses: Recorded[];
};
/** The recorded model plays 4 (higher), a malformed call, 7 (lower), 6: the first seed whose secret at difficulty 1 is 6. */
const SEED = Array.from({ length: 1000 }, (_, seed) => seed).find(
  (seed) => guessNumberSuite.generate(Rng.fromSeed(seed), 1).secret === 6,
)!;

/** A real HTTP server that replays recorded chat-completions responses in order and keeps the requests. */
class ReplayServer {
  readonly requests: { headers: IncomingMessage['headers']; body: Record<string, unknown>; path: string }[] = [];
  private constructor(
    private readonly server: Server,
    private readonly responses: Recorded[],
  ) {}

  static async start(responses: Recorded[]): Promise<ReplayServer> {
    const server = createServer();
    const replay = new ReplayServer(server, [...responses]);
    server.on('request', (request, response) => {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString()));
      request.on('end', () => {
        replay.requests.push({ headers: request.headers, body: JSON.parse(text), path: request.url ?? '' });
        const next = replay.responses.shift() ?? {
          status: 500,
          body: { error: { message: 'the replay ran out of recorded responses' } },
        };
        setTimeout(() => {
          if (response.destroyed) return;
          response.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
          response.end(JSON.stringify(next.body));
        }, next.delayMs ?? 0);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return replay;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}/v1`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let replay: ReplayServer | undefined;
afterEach(async () => {
  await replay?.close();
  replay = undefined;
});

describe('OpenAIAgent', () => {
  it('plays an episode from recorded responses: retries 500 and 429, reads tool calls, malformed arguments and text actions', async () => {
    replay = await ReplayServer.start(fixture.responses);
    const agent = new OpenAIAgent({
      model: 'qwen2.5-7b-instruct',
      baseUrl: replay.baseUrl,
      apiKey: 'sk-test',
      retryDelayMs: 10,
    });
    const env = await make('puzzle/guess-number-v0', { difficulty: 1 });
    const transcript = await runEpisode(env, agent, { seed: SEED });
    await env.close();

    expect(transcript.turns.map((turn) => turn.observation.text)).toEqual([
      '4: higher.',
      'Error: The "arguments" string is not valid JSON.',
      '7: lower.',
      '6 is correct!',
    ]);
    expect(transcript.turns[1]!.info.error).toMatchObject({ code: 'UNPARSABLE_ACTION' });
    expect(transcript).toMatchObject({
      success: true,
      terminated: true,
      usage: { promptTokens: 620, completionTokens: 41 },
    });

    expect(replay.requests).toHaveLength(6); // 2 retried failures + 4 turns
    const [first, , third, fourth, fifth, sixth] = replay.requests;
    expect(first!.path).toBe('/v1/chat/completions');
    expect(first!.headers.authorization).toBe('Bearer sk-test');
    expect(first!.body).toMatchObject({
      model: 'qwen2.5-7b-instruct',
      tools: [{ type: 'function', function: { name: 'guess', parameters: { type: 'object', required: ['n'] } } }],
      messages: [{ role: 'system' }, { role: 'user', content: expect.stringContaining('from 1 to 8') }],
    });
    expect(third!.body).toEqual(first!.body); // the retries resend the same conversation
    expect((fourth!.body.messages as unknown[]).slice(2)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_a1', type: 'function', function: { name: 'guess', arguments: '{"n": 4}' } }],
      },
      { role: 'tool', tool_call_id: 'call_a1', content: '4: higher.' },
    ]);
    expect((fifth!.body.messages as unknown[]).slice(-1)).toEqual([
      { role: 'tool', tool_call_id: 'call_a2', content: 'Error: The "arguments" string is not valid JSON.' },
    ]);
    expect((sixth!.body.messages as unknown[]).slice(-2)).toEqual([
      { role: 'assistant', content: 'guess(7)' },
      { role: 'user', content: '7: lower.' },
    ]);
  });

  it("does not retry a 400 and reports the endpoint's message", async () => {
    replay = await ReplayServer.start([
      {
        status: 400,
        body: { error: { message: "'tools' is not supported by this model", type: 'invalid_request_error' } },
      },
    ]);
    const agent = new OpenAIAgent({ model: 'm', baseUrl: replay.baseUrl, retryDelayMs: 10 });
    const env = await make('puzzle/guess-number-v0');
    await expect(runEpisode(env, agent, { seed: 1 })).rejects.toMatchObject({
      code: 'AGENT_FAILURE',
      message: `${replay.baseUrl}/chat/completions answered HTTP 400: 'tools' is not supported by this model (not retried: the request itself was refused).`,
    });
    expect(replay.requests).toHaveLength(1);
    expect(replay.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('retries a request that timed out, and gives up after maxRetries', async () => {
    const slow: Recorded = { status: 200, body: fixture.responses[2]!.body, delayMs: 2000 };
    replay = await ReplayServer.start([slow, fixture.responses[2]!]);
    const agent = new OpenAIAgent({ model: 'm', baseUrl: replay.baseUrl, timeoutMs: 200, retryDelayMs: 10 });
    const env = await make('puzzle/guess-number-v0', { difficulty: 1 });
    await env.reset({ seed: 42 });
    agent.start({ spec: env.spec, observation: { text: 'x' }, info: { seed: 42 } });
    expect(await agent.act({ text: 'x' })).toMatchObject({ action: { tool: 'guess', args: { n: 4 } } });
    await replay.close();

    replay = await ReplayServer.start([500, 503, 502].map((status) => ({ status, body: { error: 'busy' } })));
    const giveUp = new OpenAIAgent({ model: 'm', baseUrl: replay.baseUrl, maxRetries: 2, retryDelayMs: 10 });
    giveUp.start({ spec: env.spec, observation: { text: 'x' }, info: { seed: 42 } });
    await expect(giveUp.act({ text: 'x' })).rejects.toThrow(
      `${replay.baseUrl}/chat/completions failed 3 times; last: HTTP 502: busy.`,
    );
    await env.close();
  });

  it('runs from the CLI with --base-url and puts token usage in the summary', async () => {
    replay = await ReplayServer.start(fixture.responses.slice(2));
    const result = await runCli(
      [
        'run',
        '--env',
        'puzzle/guess-number-v0',
        '--difficulty',
        '1',
        '--seed',
        String(SEED),
        '--episodes',
        '1',
        '--agent',
        'openai:qwen2.5-7b-instruct',
        '--base-url',
        replay.baseUrl,
        '--json',
      ],
      { env: { TURNGYM_API_KEY: 'sk-cli' } },
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toMatchObject({
      agent: 'openai:qwen2.5-7b-instruct',
      success_rate: 1,
      mean_turns: 4,
      usage: { prompt_tokens: 620, completion_tokens: 41 },
    });
    expect(replay.requests[0]!.headers.authorization).toBe('Bearer sk-cli');
  });
});

describe('turngym run --agent openai:MODEL when the endpoint refuses or is not there', () => {
  const run = (baseUrl: string) =>
    runCli([
      'run',
      '--env',
      'puzzle/guess-number-v0',
      '--episodes',
      '1',
      '--agent',
      'openai:qwen2.5-7b-instruct',
      '--base-url',
      baseUrl,
    ]);

  it('a key refused (401) says to check the key, in one line, exit code 2', async () => {
    replay = await ReplayServer.start([{ status: 401, body: { error: { message: 'Incorrect API key provided.' } } }]);
    const result = await run(replay.baseUrl);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `turngym: ${replay.baseUrl}/chat/completions answered HTTP 401: Incorrect API key provided. (not retried: the request itself was refused). Check the API key ($TURNGYM_API_KEY or $OPENAI_API_KEY).\n`,
    );
  });

  it('a model or path not found (404) says to check the model and the base URL, in one line, exit code 2', async () => {
    replay = await ReplayServer.start([
      { status: 404, body: { error: { message: 'The model `qwen2.5-7b-instruct` does not exist.' } } },
    ]);
    const result = await run(replay.baseUrl);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `turngym: ${replay.baseUrl}/chat/completions answered HTTP 404: The model \`qwen2.5-7b-instruct\` does not exist. (not retried: the request itself was refused). Check the model name and the base URL (the root before /chat/completions, e.g. --base-url http://127.0.0.1:8000/v1).\n`,
    );
  });

  it('a rate limit (429) that outlasts the retries is one line saying to wait, exit code 1', async () => {
    replay = await ReplayServer.start(
      Array.from({ length: 5 }, () => ({
        status: 429,
        headers: { 'retry-after': '0' },
        body: { error: { message: 'Rate limit reached.' } },
      })),
    );
    const result = await run(replay.baseUrl);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `turngym: ${replay.baseUrl}/chat/completions failed 5 times; last: HTTP 429: Rate limit reached. (rate-limited: wait and run again, or send fewer requests).\n`,
    );
    expect(replay.requests).toHaveLength(5);
  });

  it('no server at the base URL is one line after the retries, exit code 2; a base URL that is not http(s) at once', async () => {
    const port = await closedPort();
    const result = await run(`http://127.0.0.1:${port}/v1`);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `turngym: http://127.0.0.1:${port}/v1/chat/completions could not be reached (5 tries; last: connect ECONNREFUSED 127.0.0.1:${port}): is the server running, and is --base-url its address?\n`,
    );
    const bad = await run('127.0.0.1:8000/v1');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      "turngym: '127.0.0.1:8000/v1' is not an endpoint URL: give its root before /chat/completions, e.g. --base-url http://127.0.0.1:8000/v1.\n",
    );
  });
});
