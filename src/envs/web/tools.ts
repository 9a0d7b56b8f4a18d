/** The web envs' tools (shared by every web env; kept apart so registering them loads no browser code). */
import { z } from 'zod';
import type { ToolSpec } from '../env.js';

const elementId = z
  .number()
  .int()
  .min(1)
  .describe('The element id shown in brackets in the observation, e.g. 12 for [12]');

export const webTools: ToolSpec[] = [
  {
    name: 'click',
    description: 'Click an element (link, button, tab, checkbox) by its id.',
    parameters: z.object({ id: elementId }),
  },
  {
    name: 'type',
    description:
      'Replace the text of a text, search, number or date field (dates as YYYY-MM-DD); with submit=true, then submit its form.',
    parameters: z.object({
      id: elementId,
      text: z.string().max(2000).describe('The text to put in the field'),
      submit: z.boolean().default(false).describe('Submit the form afterwards, like pressing Enter'),
    }),
  },
  {
    name: 'select',
    description: 'Choose an option of a dropdown (combobox) by its visible text.',
    parameters: z.object({
      id: elementId,
      option: z.string().max(200).describe('The option text, as listed in options=[...]'),
    }),
  },
  {
    name: 'check',
    description: 'Tick (checked=true, the default) or untick (checked=false) a checkbox, or choose a radio button.',
    parameters: z.object({ id: elementId, checked: z.boolean().default(true).describe('The state to leave it in') }),
  },
  {
    name: 'scroll',
    description: 'Scroll the page; the observation shows the part of a long page around the viewport.',
    parameters: z.object({ direction: z.enum(['down', 'up', 'top', 'bottom']).describe('Where to scroll') }),
  },
  {
    name: 'goto',
    description: "Open a page of this site by its path, e.g. '/search?q=shirt' (other sites are out of reach).",
    parameters: z.object({ path: z.string().min(1).max(2000).describe('A path on this site, starting with /') }),
  },
  {
    name: 'back',
    description: 'Go back to the previous page.',
    parameters: z.object({}),
  },
  {
    name: 'answer',
    description:
      'Finish the task, giving the answer text (for tasks that ask a question) or a short note when the job is done.',
    parameters: z.object({ text: z.string().max(2000).describe('The final answer') }),
  },
];
