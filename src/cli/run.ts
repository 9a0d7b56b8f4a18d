/** `turngym run --env ID --agent NAME`: play episodes and print transcripts or a JSON summary. */
import type { Command } from 'commander';
import { formatSuccessRate, formatTranscript, runEpisode, successRate, type Transcript } from '../agent/agent.js';
import { AGENT_FORMS, createAgent } from '../agent/resolve.js';
import { make } from '../envs/registry.js';
import { collect, importModules, integer, jsonObject, printJson } from './common.js';

interface RunOptions {
  env: string;
  agent: string;
  episodes: number;
  seed: number;
  difficulty?: number;
  maxTurns?: number;
  kwargs: Record<string, unknown>;
  record?: string;
  json?: boolean;
  import: string[];
  baseUrl?: string;
  agentTimeout?: number;
}

/** The JSON summary `turngym run --json` prints. */
export interface RunSummary {
  env: string;
  agent: string;
  episodes: number;
  /** Null when unknown: an episode ended without its env setting `info.success` (see `successRate`). */
  success_rate: number | null;
  mean_return: number;
  mean_turns: number;
  /** Summed token usage, for agents that report it (LLM endpoints). */
  usage?: { prompt_tokens: number; completion_tokens: number };
}

export function summarise(env: string, agent: string, transcripts: readonly Transcript[]): RunSummary {
  const mean = (values: number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);
  return {
    env,
    agent,
    episodes: transcripts.length,
    success_rate: successRate(transcripts),
    mean_return: mean(transcripts.map((t) => t.return)),
    mean_turns: mean(transcripts.map((t) => t.turns.length)),
    ...(transcripts.some((t) => t.usage)
      ? {
          usage: {
            prompt_tokens: transcripts.reduce((sum, t) => sum + (t.usage?.promptTokens ?? 0), 0),
            completion_tokens: transcripts.reduce((sum, t) => sum + (t.usage?.completionTokens ?? 0), 0),
          },
        }
      : {}),
  };
}

export function runCommand(program: Command): void {
  program
    .command('run')
    .description('play episodes of an environment with an agent')
    .requiredOption('--env <id>', 'environment id, e.g. puzzle/guess-number-v0')
    .option('--agent <name>', `agent: ${AGENT_FORMS.join(' | ')}`, 'oracle')
    .option('--episodes <n>', 'number of episodes', integer('--episodes', { min: 1 }), 3)
    .option('--seed <s>', 'seed of the first episode (episode i uses seed + i)', integer('--seed', { min: 0 }), 0)
    .option('--difficulty <d>', 'task difficulty (the env decides the range)', integer('--difficulty'))
    .option('--max-turns <n>', 'horizon (default: the env spec)', integer('--max-turns', { min: 1 }))
    .option('--kwargs <json>', 'env keyword arguments as a JSON object', jsonObject('--kwargs'), {})
    .option('--record <file>', 'append every episode to this JSONL file')
    .option('--json', 'print a JSON summary instead of transcripts')
    .option('--import <module>', 'import a module that registers envs (repeatable)', collect, [])
    .option('--base-url <url>', 'openai:MODEL agents: the endpoint root (API key from $TURNGYM_API_KEY or $OPENAI_API_KEY)')
    .option('--agent-timeout <ms>', 'remote agents: how long to wait for each action (ws://: default 120000; openai:: each request, default 60000, retried)', integer('--agent-timeout', { min: 1 }))
    .action(async (options: RunOptions) => {
      await importModules(options.import);
      const kwargs = { ...options.kwargs, ...(options.difficulty !== undefined ? { difficulty: options.difficulty } : {}) };
      const env = await make(options.env, kwargs, { maxTurns: options.maxTurns, recordTo: options.record });
      const apiKey = process.env.TURNGYM_API_KEY ?? process.env.OPENAI_API_KEY;
      // An agent that cannot be reached must not leave the env (a browser, an isolate) open behind it.
      const agent = await createAgent(options.agent, { seed: options.seed, baseUrl: options.baseUrl, apiKey, timeoutMs: options.agentTimeout }).catch(async (error: unknown) => {
        await env.close();
        throw error;
      });
      const transcripts: Transcript[] = [];
      try {
        for (let episode = 0; episode < options.episodes; episode++) {
          const transcript = await runEpisode(env, agent, { seed: options.seed + episode });
          transcripts.push(transcript);
          if (!options.json) console.log(`${formatTranscript(transcript)}\n`);
        }
      } finally {
        await agent.close?.();
        await env.close();
      }
      const summary = summarise(options.env, agent.name, transcripts);
      if (options.json) printJson(summary);
      else {
        const tokens = summary.usage ? ` · tokens ${summary.usage.prompt_tokens} prompt + ${summary.usage.completion_tokens} completion` : '';
        console.log(`${summary.episodes} episodes · success rate ${formatSuccessRate(summary.success_rate)} · mean return ${summary.mean_return.toFixed(3)} · mean turns ${summary.mean_turns.toFixed(2)}${tokens}`);
      }
    });
}
