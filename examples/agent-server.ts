/**
 * A remote agent server in TypeScript: turngym sends `act`, this answers `action`.
 *
 *   npx tsx examples/agent-server.ts --port 8766
 *   npx turngym run --env puzzle/guess-number-v0 --agent ws://127.0.0.1:8766
 *
 * The policy plays guess-number by bisection (it reads the range from the prompt and narrows it with each
 * "higher"/"lower"), keeping its state per episode, and calls a random tool on any other env. Swap `decide`
 * for your model; `serveAgent` does the protocol (docs/protocol.md, "Remote agents").
 */
import { type ActDecision, type ActRequest, serveAgent } from 'turngym';

interface Bisection {
  low: number;
  high: number;
  last?: number;
}

const episodes = new Map<string, Bisection>();

function decide(request: ActRequest): ActDecision {
  const guess = request.tools.find((tool) => tool.name === 'guess');
  if (!guess) return { action: randomCall(request) };
  let state = episodes.get(request.episode);
  if (request.turn === 0 || !state) {
    const range = /from (-?\d+) to (-?\d+)/.exec(request.observation.text);
    state = { low: Number(range?.[1] ?? 1), high: Number(range?.[2] ?? 100) };
    episodes.set(request.episode, state);
    if (episodes.size > 10_000) episodes.delete(episodes.keys().next().value!);
  } else if (state.last !== undefined) {
    if (/higher/i.test(request.observation.text)) state.low = state.last + 1;
    else if (/lower/i.test(request.observation.text)) state.high = state.last - 1;
  }
  state.last = Math.floor((state.low + state.high) / 2);
  return { action: { tool: 'guess', args: { n: state.last } } };
}

/** A random tool with its first argument filled in from its JSON Schema. */
function randomCall(request: ActRequest) {
  const tool = request.tools[Math.floor(Math.random() * request.tools.length)]!;
  const properties = (tool.parameters.properties ?? {}) as Record<string, { type?: string; minimum?: number }>;
  const args: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(properties)) {
    args[name] = schema.type === 'integer' || schema.type === 'number' ? (schema.minimum ?? 0) : 'x';
  }
  return { tool: tool.name, args };
}

const portFlag = process.argv.indexOf('--port');
const port = portFlag >= 0 ? Number(process.argv[portFlag + 1]) : 8766;
const server = await serveAgent(decide, { port }).catch((error: Error) => {
  console.error(`agent server: ${error.message}`); // e.g. the port is in use: one line saying what to do
  process.exit(2);
});
console.log(`agent server listening on ${server.url}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void server.close().then(() => process.exit(0)));
}
