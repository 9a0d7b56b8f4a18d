/**
 * `web/wiki-v0`: answer a multi-hop question about the wiki's knowledge base by browsing it (search box,
 * article links). Difficulty is the number of articles to read (1 to 4). Verified by comparing the
 * `answer(text)` with the accepted answers after normalisation (case, punctuation, articles, spacing).
 */
import type { Action, Oracle } from '../env.js';
import { generateQuestion, type Question } from '../search/kb.js';
import type { Verdict } from '../task.js';
import type { Rng } from '../../core/rng.js';
import type { WebSubmission, WebTask, WebTaskSuite } from './env.js';
import { DEFAULT_WIKI_SIZE, type WikiState, wikiKnowledgeBase, wikiSite } from './sites/wiki.js';
import { findElement, observedUrl, parseTree } from './tree.js';

export interface WikiTask extends WebTask {
  question: Question;
  kbSize: number;
}

/** Lower case, no punctuation, no leading article, single spaces. */
export function normaliseAnswer(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
    .replace(/^(the|a|an) /, '');
}

/** The wiki suite over a knowledge base of `kbSize` articles. */
export function wikiSuiteOf(kbSize = DEFAULT_WIKI_SIZE): WebTaskSuite<WikiTask, WikiState> {
  return {
    site: wikiSite,
    difficulties: [1, 4],

    generate(rng: Rng, difficulty: number): WikiTask {
      const question = generateQuestion(wikiKnowledgeBase(kbSize), { seed: rng.seed(), hops: difficulty });
      return {
        prompt: `Answer this question by browsing the wiki, then call answer(text) with the answer alone: ${question.question}`,
        answer: question.answers[0]!,
        difficulty,
        kind: question.asks,
        startPath: '/',
        question,
        kbSize,
      };
    },

    // The question, as for search/multihop-v0: held-out questions are never training questions.
    splitKey(task: WikiTask): string {
      return task.question.question;
    },

    createState(task: WikiTask): WikiState {
      return { kb: wikiKnowledgeBase(task.kbSize) };
    },

    finished(): boolean {
      return false;
    },

    verify(task: WikiTask, submission: WebSubmission<WikiState>): Verdict {
      if (submission.answer === undefined) return { score: 0, success: false, feedback: 'No answer was given.' };
      const given = normaliseAnswer(submission.answer);
      const success = task.question.answers.some((answer) => normaliseAnswer(answer) === given);
      return success
        ? { score: 1, success: true, feedback: 'Correct.' }
        : { score: 0, success: false, feedback: 'That is not the answer.' };
    },

    oracle(task: WikiTask): Oracle {
      const chain = task.question.chain;
      const start = chain[0]!;
      return {
        next(observation): Action {
          const url = observedUrl(observation.text);
          const tree = parseTree(observation.text);
          const step = chain.findIndex((link) => url === `/wiki/${link.entity}`);
          if (step === chain.length - 1) return { tool: 'answer', args: { text: task.question.answers[0]! } };
          if (step >= 0) {
            const next = findElement(tree, 'link', chain[step + 1]!.name);
            if (next) return { tool: 'click', args: { id: next.id } };
            return { tool: 'goto', args: { path: `/wiki/${chain[step + 1]!.entity}` } };
          }
          if (url.startsWith('/search')) {
            const result = findElement(tree, 'link', start.name);
            if (result) return { tool: 'click', args: { id: result.id } };
          }
          const box = findElement(tree, 'searchbox', 'Search the wiki');
          if (box && !url.startsWith('/search'))
            return { tool: 'type', args: { id: box.id, text: start.name, submit: true } };
          return { tool: 'goto', args: { path: `/search?q=${encodeURIComponent(start.name)}` } };
        },
      };
    },
  };
}

/** The suite over the default knowledge base. */
export const wikiSuite = wikiSuiteOf();
