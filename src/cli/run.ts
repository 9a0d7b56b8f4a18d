/** `turngym run --env ID --agent NAME`: play episodes and print transcripts or a JSON summary. */
import type { Command } from 'commander';
import { z } from 'zod';
import { formatSuccessRate, formatTranscript, runEpisode, successRate, type Transcript } from '../agent/agent.js';
import { AGENT_FORMS, createAgent } from '../agent/resolve.js';
import { make } from '../envs/registry.js';
import { importModules, printJson } from './common.js';
import { addSchemaOptions, FLAGS, kwargsOf, parseFlags } from './options.js';

const runFlagsSchema = z
  .object({
    env: FLAGS.env,
    agent: z
      .string()
      .default('oracle')
      .describe(`Agent: ${AGENT_FORMS.join(' | ')}`)
      .meta({ placeholder: 'name' }),
    episodes: z.number().int().min(1).default(3).describe('Number of episodes'),
    seed: z.number().int().min(0).default(0).describe('Seed of the first episode (episode i uses seed + i)'),
    difficulty: FLAGS.difficulty,
    maxTurns: z.number().int().min(1).optional().describe('Horizon (default: the env spec)'),
    kwargs: FLAGS.kwargs,
    record: z.string().optional().describe('Append every episode to this JSONL file').meta({ placeholder: 'file' }),
    json: z.boolean().default(false).describe('Print a JSON summary instead of transcripts'),
    import: FLAGS.import,
    baseUrl: z
      .string()
      .optional()
      .describe('openai:MODEL agents: the endpoint root (API key from $TURNGYM_API_KEY or $OPENAI_API_KEY)')
      .meta({ placeholder: 'url' }),
    agentTimeout: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(
        'Remote agents: how long to wait for each action (ws://: default 120000; openai:: each request, default 60000, retried)',
      )
      .meta({ placeholder: 'ms' }),
  })
  .strict();

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
  const command = program.command('run').description('play episodes of an environment with an agent');
  addSchemaOptions(command, runFlagsSchema).action(async (flags: Record<string, unknown>) => {
    const options = parseFlags(flags, runFlagsSchema);
    await importModules(options.import);
    const env = await make(options.env, kwargsOf(options), { maxTurns: options.maxTurns, recordTo: options.record });
    const apiKey = process.env.TURNGYM_API_KEY ?? process.env.OPENAI_API_KEY;
    // An agent that cannot be reached must not leave the env (a browser, an isolate) open behind it.
    const agent = await createAgent(options.agent, {
      seed: options.seed,
      baseUrl: options.baseUrl,
      apiKey,
      timeoutMs: options.agentTimeout,
    }).catch(async (error: unknown) => {
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
      const tokens = summary.usage
        ? ` · tokens ${summary.usage.prompt_tokens} prompt + ${summary.usage.completion_tokens} completion`
        : '';
      console.log(
        `${summary.episodes} episodes · success rate ${formatSuccessRate(summary.success_rate)} · mean return ${summary.mean_return.toFixed(3)} · mean turns ${summary.mean_turns.toFixed(2)}${tokens}`,
      );
    }
  });
}
