/** The tools of the `search/` envs (kept free of heavy imports: the registry needs them without SQLite). */
import { z } from 'zod';
import type { ToolSpec } from '../env.js';

/** Longest query an agent may send, in characters. */
export const MAX_QUERY_CHARS = 512;
/** Most results one search may return. */
export const MAX_RESULTS = 20;
/** Results per search when `k` is not given. */
export const DEFAULT_RESULTS = 5;

export const searchTools: ToolSpec[] = [
  {
    name: 'search',
    description: `Full-text search (BM25) over the documents. Returns the top k results (default ${DEFAULT_RESULTS}, or the environment's), each with its id, title and a snippet in which matched words are **marked**. Put "double quotes" around an exact phrase.`,
    parameters: z.object({
      query: z
        .string()
        .max(MAX_QUERY_CHARS, `a query has at most ${MAX_QUERY_CHARS} characters; search for the key names or words`)
        .describe('Words or names to search for'),
      k: z
        .number()
        .int()
        .min(1, `k must be from 1 to ${MAX_RESULTS}`)
        .max(MAX_RESULTS, `k must be from 1 to ${MAX_RESULTS}`)
        .optional()
        .describe(`Number of results, 1 to ${MAX_RESULTS}`),
    }),
  },
  {
    name: 'open',
    description:
      'Reads a document by the id shown in search results. Long documents come in pages; pass page to read further.',
    parameters: z.object({
      id: z
        .string()
        .max(200, 'a document id has at most 200 characters; copy it from a search result')
        .describe('Document id, e.g. person-12'),
      page: z.number().int().min(1, 'pages are numbered from 1').optional().describe('Page number, from 1 (default 1)'),
    }),
  },
  {
    name: 'answer',
    description: 'Gives the final answer (a short phrase: a name, a year, a word) and ends the episode.',
    parameters: z.object({
      text: z
        .string()
        .max(1000, 'an answer has at most 1000 characters; give just the name, year or phrase')
        .describe('The answer'),
    }),
  },
];
