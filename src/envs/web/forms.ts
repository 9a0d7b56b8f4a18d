/**
 * `web/forms-v0`: fill in a generated form as instructed and submit it. Difficulty adds fields (2 to 8),
 * a confirmation modal (from 2), tabs (2 tabs from 3, 3 tabs at 5). Verified from the data the form
 * submitted: every field as instructed (unticked boxes absent); the first submission ends the episode.
 */
import type { Action, Oracle } from '../env.js';
import type { Verdict } from '../task.js';
import type { Rng } from '../../core/rng.js';
import type { WebSubmission, WebTask, WebTaskSuite } from './env.js';
import { type FormField, type FormSpec, type FormsState, formsSite, generateForm } from './sites/forms.js';
import { findElement, observedUrl, parseTree } from './tree.js';

export interface FormsTask extends WebTask {
  form: FormSpec;
  /** Field name to the value to submit; checkboxes `on` (ticked) or `` (unticked). */
  expected: Record<string, string>;
}

const NAMES = [
  'Ada Lovelace',
  'Grace Hopper',
  'Alan Turing',
  'Katherine Johnson',
  'Hedy Lamarr',
  'Claude Shannon',
  'Mary Jackson',
  'John von Neumann',
];
const COMPANIES = ['Acme Tools', 'Globex', 'Initech', 'Umbrella Labs', 'Hooli', 'Vandelay Imports', 'Stark Freight'];
const CITIES = ['Lisbon', 'Nairobi', 'Osaka', 'Bergen', 'Hanoi', 'Rosario', 'Halifax'];
const COMMENTS = [
  'Please call before delivery.',
  'Leave it at the back door.',
  'No rush, thank you.',
  'I need an invoice.',
  'Ring twice.',
];

const COUNTS = [2, 3, 4, 6, 8];

function valueFor(rng: Rng, field: FormField): string {
  switch (field.kind) {
    case 'text':
      return field.name === 'company'
        ? rng.pick(COMPANIES)
        : field.name === 'city'
          ? rng.pick(CITIES)
          : rng.pick(NAMES);
    case 'email':
      return `${rng.pick(['ada', 'grace', 'alan', 'kat', 'hedy'])}${rng.int(1, 99)}@example.org`;
    case 'date':
      return `${rng.int(2024, 2026)}-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')}`;
    case 'textarea':
      return rng.pick(COMMENTS);
    case 'checkbox':
      return rng.chance(0.5) ? 'on' : '';
    case 'radio':
    case 'select':
      return rng.pick(field.options!);
  }
}

function instruction(field: FormField, value: string): string {
  if (field.kind === 'checkbox') return `${field.label}: ${value ? 'ticked' : 'not ticked'}`;
  return `${field.label}: ${value}`;
}

export const formsSuite: WebTaskSuite<FormsTask, FormsState> = {
  site: formsSite,
  difficulties: [1, 5],

  generate(rng: Rng, difficulty: number): FormsTask {
    const tabs = difficulty >= 5 ? 3 : difficulty >= 3 ? 2 : 1;
    const form = generateForm(rng, COUNTS[difficulty - 1]!, tabs, difficulty >= 2);
    const expected: Record<string, string> = {};
    for (const field of form.fields) expected[field.name] = valueFor(rng, field);
    const lines = form.fields.map((field) => instruction(field, expected[field.name]!));
    const prompt = `Fill in the form "${form.title}" and submit it${form.confirm ? ' (confirm when asked)' : ''}. ${lines.join('. ')}.`;
    return { prompt, answer: lines.join('; '), difficulty, startPath: '/', form, expected };
  },

  createState(task: FormsTask): FormsState {
    return { form: task.form, submissions: [] };
  },

  finished(_task: FormsTask, state: FormsState): boolean {
    return state.submissions.length > 0;
  },

  verify(task: FormsTask, submission: WebSubmission<FormsState>): Verdict {
    const submitted = submission.state.submissions[0];
    if (!submitted) return { score: 0, success: false, feedback: 'The form was not submitted.' };
    const wrong = task.form.fields.filter(
      (field) => (submitted[field.name] ?? '').trim() !== task.expected[field.name],
    );
    const score = (task.form.fields.length - wrong.length) / task.form.fields.length;
    if (wrong.length === 0) return { score: 1, success: true, feedback: 'Every field was submitted as instructed.' };
    return {
      score: Math.round(score * 1000) / 1000,
      success: false,
      feedback: `Wrong: ${wrong.map((f) => f.label).join(', ')}.`,
    };
  },

  oracle(task: FormsTask): Oracle {
    const done = new Set<string>();
    // Fields in tab order, so the oracle opens each tab once.
    const fields = [...task.form.fields].sort((a, b) => a.tab - b.tab);
    return {
      next(observation): Action {
        const tree = parseTree(observation.text);
        if (observedUrl(observation.text) !== '/') return { tool: 'goto', args: { path: '/' } };
        const confirm = findElement(tree, 'button', 'Confirm');
        if (confirm) return { tool: 'click', args: { id: confirm.id } };
        for (const field of fields) {
          if (done.has(field.name)) continue;
          const want = task.expected[field.name]!;
          const action = fieldAction(tree, field, want);
          if (action === 'hidden') {
            const tab = findElement(tree, 'tab', task.form.tabs[field.tab]!);
            if (tab) return { tool: 'click', args: { id: tab.id } };
            continue;
          }
          if (action === 'ok') {
            done.add(field.name);
            continue;
          }
          return action;
        }
        const submit = findElement(tree, 'button', 'Submit');
        return submit ? { tool: 'click', args: { id: submit.id } } : { tool: 'goto', args: { path: '/' } };
      },
    };
  },
};

/** The action that sets `field` to `want`; 'ok' when it already is; 'hidden' when the field is not shown. */
function fieldAction(tree: ReturnType<typeof parseTree>, field: FormField, want: string): Action | 'ok' | 'hidden' {
  switch (field.kind) {
    case 'checkbox': {
      const box = findElement(tree, 'checkbox', field.label);
      if (!box) return 'hidden';
      return box.checked === (want === 'on') ? 'ok' : { tool: 'check', args: { id: box.id, checked: want === 'on' } };
    }
    case 'radio': {
      const radio = findElement(tree, 'radio', want, `group "${field.label}"`);
      if (!radio) return 'hidden';
      return radio.checked ? 'ok' : { tool: 'check', args: { id: radio.id } };
    }
    case 'select': {
      const select = findElement(tree, 'combobox', field.label);
      if (!select) return 'hidden';
      return select.value === want ? 'ok' : { tool: 'select', args: { id: select.id, option: want } };
    }
    default: {
      const input = findElement(tree, ['textbox', 'date'], field.label);
      if (!input) return 'hidden';
      return (input.value ?? '') === want ? 'ok' : { tool: 'type', args: { id: input.id, text: want } };
    }
  }
}
