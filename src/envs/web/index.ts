/**
 * Registers the `web/` family. Only zod schemas and tool specs load here; Playwright, the sites and the
 * task suites load inside `create`, so importing the registry stays cheap.
 */
import { z } from 'zod';
import type { EnvSpec } from '../env.js';
import { registerBuiltin } from '../registry.js';
import { MIN_KB_SIZE, REMOTE_MAX_KB_SIZE } from '../search/kb.js';
import { webTools } from './tools.js';

function webKwargs(defaultDifficulty: number, maxDifficulty: number) {
  return z.object({
    difficulty: z
      .number()
      .int()
      .min(1)
      .max(maxDifficulty)
      .default(defaultDifficulty)
      .describe(`Task difficulty, 1 to ${maxDifficulty}`),
    actionTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(120_000)
      .default(5000)
      .describe('Time limit of one action (and the page load it causes), in ms'),
    screenshot: z.boolean().default(false).describe('Add a PNG screenshot (base64) to every observation'),
    maxTreeChars: z
      .number()
      .int()
      .min(500)
      .max(200_000)
      .default(6000)
      .describe('Most characters of page tree per observation; longer pages are shown around the viewport'),
  });
}

type WebKwargs = z.output<ReturnType<typeof webKwargs>>;

/**
 * What a remote client may set on a `web/` env: the task and what it observes (an agent sees at most 20,000
 * characters of page tree); the action timeout holds a browser page that long, so it is the operator's.
 */
const webRemoteKwargs = {
  difficulty: true,
  screenshot: true,
  maxTreeChars: z.number().int().min(500).max(20_000),
} as const;

async function openWeb(kwargs: WebKwargs & { kbSize?: number }, spec: EnvSpec, suite: 'shop' | 'forms' | 'wiki') {
  const { WebEnv } = await import('./env.js');
  const settings = {
    actionTimeoutMs: kwargs.actionTimeoutMs,
    screenshot: kwargs.screenshot,
    maxTreeChars: kwargs.maxTreeChars,
  };
  if (suite === 'shop') return WebEnv.open(spec, (await import('./shop.js')).shopSuite, kwargs.difficulty, settings);
  if (suite === 'forms') return WebEnv.open(spec, (await import('./forms.js')).formsSuite, kwargs.difficulty, settings);
  return WebEnv.open(spec, (await import('./wiki.js')).wikiSuiteOf(kwargs.kbSize), kwargs.difficulty, settings);
}

export const shopV0 = registerBuiltin({
  id: 'web/shop-v0',
  description:
    'Buy a product meeting a description in a bundled shop (search, filters, cart, checkout) in a real Chromium.',
  tools: webTools,
  maxTurns: 30,
  kwargs: webKwargs(3, 5),
  remoteKwargs: webRemoteKwargs,
  create: (kwargs, spec) => openWeb(kwargs, spec, 'shop'),
});

export const formsV0 = registerBuiltin({
  id: 'web/forms-v0',
  description:
    'Fill in and submit a generated form (text, dates, checkboxes, radios, dropdowns, tabs, a modal) in a real Chromium.',
  tools: webTools,
  maxTurns: 30,
  kwargs: webKwargs(3, 5),
  remoteKwargs: webRemoteKwargs,
  create: (kwargs, spec) => openWeb(kwargs, spec, 'forms'),
});

export const wikiV0 = registerBuiltin({
  id: 'web/wiki-v0',
  description:
    "Answer multi-hop questions by browsing a wiki of the search family's knowledge base in a real Chromium.",
  tools: webTools,
  maxTurns: 20,
  kwargs: webKwargs(2, 4).extend({
    kbSize: z
      .number()
      .int()
      .min(MIN_KB_SIZE)
      .max(200_000)
      .default(1000)
      .describe('Articles in the wiki (the knowledge base of search/, seed 0)'),
  }),
  // The wiki keeps the knowledge base of every size it was asked for, so an agent picks from a few sizes.
  remoteKwargs: { ...webRemoteKwargs, kbSize: z.literal([MIN_KB_SIZE, 100, 300, 1000, 2000, REMOTE_MAX_KB_SIZE]) },
  create: (kwargs, spec) => openWeb(kwargs, spec, 'wiki'),
});
