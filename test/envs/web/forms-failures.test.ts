/** scripts/forms-failures.ts: each failed forms episode gets what went wrong first, from real episodes in Chromium. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../../src/envs/env.js';
import { make } from '../../../src/envs/registry.js';
import type { FormsTask } from '../../../src/envs/web/forms.js';
import '../../../src/envs/builtin.js';
import { failureTable, readingOf } from '../../../scripts/forms-failures.js';
import { parseTree } from '../../../src/envs/web/tree.js';
import { formsSeed, idOf } from './helpers.js';

// A form of a text field and a box to tick (unticked at first), so that it can be submitted with either unset.
const wanted = (task: FormsTask) =>
  task.form.fields.length === 2 &&
  task.form.fields[0]!.kind === 'text' &&
  task.form.fields[1]!.kind === 'checkbox' &&
  !task.form.fields[1]!.initiallyChecked &&
  task.expected[task.form.fields[1]!.name] === 'on';
const seed = formsSeed(1, wanted);
// A form of radio buttons and a box to tick, both set with `click`.
const withRadio = formsSeed(
  1,
  (task) =>
    task.form.fields.length === 2 &&
    task.form.fields[0]!.kind === 'radio' &&
    task.form.fields[1]!.kind === 'checkbox' &&
    !task.form.fields[1]!.initiallyChecked &&
    task.expected[task.form.fields[1]!.name] === 'on',
);
// A form of an email and a date, each typed.
const emailAndDate = formsSeed(
  1,
  (task) =>
    task.form.fields.length === 2 && task.form.fields[0]!.kind === 'email' && task.form.fields[1]!.kind === 'date',
);
let env: Env;
beforeAll(async () => {
  env = await make('web/forms-v0', { difficulty: 1 });
});
afterAll(async () => {
  await env.close();
});

type Next = (page: string, task: string) => string;
/** Plays `actions` (each a function of the page and the task) on the seed, as `eval --record` records it. */
async function play(...actions: Next[]) {
  return playSeed(seed, ...actions);
}
async function playSeed(seed: number, ...actions: Next[]) {
  const reset = await env.reset({ seed });
  const steps = [];
  let page = reset.observation.text;
  for (const next of actions) {
    const action = next(page, reset.observation.text);
    const result = await env.step(action);
    steps.push({ action, result });
    if (/^URL: /m.test(result.observation.text)) page = result.observation.text;
    if (result.terminated) break;
  }
  return { reset, steps };
}

const label = (task: string, index: number) => [...task.matchAll(/\. ([A-Z][A-Za-z ]+): /g)][index]![1]!;
const value = (task: string) => /\. [A-Z][A-Za-z ]+: ([^.]+)\./.exec(task)![1]!;
const textbox = (page: string, task: string) => idOf({ text: page }, 'textbox', label(task, 0));
const typeRight: Next = (page, task) => `type(id=${textbox(page, task)}, text="${value(task)}")`;
const typeWrong: Next = (page, task) => `type(id=${textbox(page, task)}, text="Nobody")`;
const tick: Next = (page, task) => `check(id=${idOf({ text: page }, 'checkbox', label(task, 1))})`;
const submit: Next = (page) => `click(id=${idOf({ text: page }, 'button', 'Submit')})`;
/** Clicks a radio button of the task's first field: the one asked for, or (`right` false) another. */
const clickRadio =
  (right: boolean): Next =>
  (page, task) => {
    const group = `group "${label(task, 0)}"`;
    const radios = parseTree(page).filter((element) => element.role === 'radio' && element.path.includes(group));
    return `click(id=${radios.find((radio) => (radio.name === value(task)) === right)!.id})`;
  };
const clickBox: Next = (page, task) => `click(id=${idOf({ text: page }, 'checkbox', label(task, 1))})`;

describe('forms failures', () => {
  it('names what went wrong first, and how far the episode read', { timeout: 120_000 }, async () => {
    const solved = await play(typeRight, tick, submit);
    expect(solved.steps.at(-1)!.result.info.success).toBe(true);
    const task = solved.reset.observation.text;
    const kinds = { [label(task, 0)]: 'text', [label(task, 1)]: 'checkbox' };
    const box = (acted: boolean) => ({ [label(task, 1)]: { want: true, shown: false, acted } });
    expect(readingOf(solved as never)).toEqual({
      firstOnField: true,
      onlyAsked: true,
      kinds,
      wrong: [],
      submitted: true,
      boxes: box(true),
    });
    const episodes = {
      malformed: await play(() => 'type(', typeWrong, tick, submit),
      not_submitted: await play(typeRight, () => 'answer(text="done")'),
      field_not_set: await play(typeRight, submit),
      field_set_wrong: await play(typeWrong, tick, submit),
    };
    for (const [expected, episode] of Object.entries(episodes))
      expect([expected, readingOf(episode as never).failure]).toEqual([expected, expected]);
    // A malformed first action is not an action on a field.
    expect(readingOf(episodes.malformed as never).firstOnField).toBe(false);
    expect(readingOf(episodes.field_set_wrong as never)).toMatchObject({
      firstOnField: true,
      onlyAsked: true,
      kinds,
      wrong: [label(task, 0)],
    });
    expect(readingOf(episodes.field_not_set as never)).toMatchObject({ wrong: [label(task, 1)], boxes: box(false) });
    expect(readingOf(episodes.not_submitted as never).submitted).toBe(false);
    // The table: both kinds asked in all five; the text field named wrong where typed wrong (malformed's too),
    // the box where left unticked.
    const table = failureTable([solved, ...Object.values(episodes)] as never);
    expect(table).toMatchObject({ episodes: 5, success: 1, malformed: 1, not_submitted: 1 });
    expect(table.by_field_kind.text).toEqual({ episodes: 5, solved: 1, fields_wrong: 2 });
    expect(table.by_field_kind.checkbox).toEqual({ episodes: 5, solved: 1, fields_wrong: 1 });
    expect(table.by_field_kind.email).toEqual({ episodes: 0, solved: 0, fields_wrong: 0 });
    // The box (asked ticked, shown unticked) in the four submitted forms: ticked in three, wrong in the fourth.
    const none = { fields: 0, acted_on: 0, wrong: 0 };
    expect(table.boxes).toEqual({
      ticked_from_unticked: { fields: 4, acted_on: 3, wrong: 1 },
      ticked_from_ticked: none,
      unticked_from_ticked: none,
      unticked_from_unticked: none,
    });
  });

  it('counts a click on a radio button or a box as setting its field', { timeout: 120_000 }, async () => {
    const solved = await playSeed(withRadio, clickRadio(true), clickBox, submit);
    expect(solved.steps.at(-1)!.result.info.success).toBe(true);
    const task = solved.reset.observation.text;
    const kinds = { [label(task, 0)]: 'radio', [label(task, 1)]: 'checkbox' };
    const boxes = { [label(task, 1)]: { want: true, shown: false, acted: true } };
    expect(readingOf(solved as never)).toEqual({
      firstOnField: true,
      onlyAsked: true,
      kinds,
      wrong: [],
      submitted: true,
      boxes,
    });
    const wrongOption = await playSeed(withRadio, clickRadio(false), clickBox, submit);
    expect(readingOf(wrongOption as never)).toEqual({
      failure: 'field_set_wrong',
      firstOnField: true,
      onlyAsked: true,
      kinds,
      wrong: [label(task, 0)],
      submitted: true,
      boxes,
    });
    const boxLeft = await playSeed(withRadio, clickRadio(true), submit);
    expect(readingOf(boxLeft as never).failure).toBe('field_not_set');
  });

  it('tells the kinds of field a task asks for, by label', { timeout: 120_000 }, async () => {
    const typeInto =
      (role: string, index: number): Next =>
      (page, task) => {
        const asked = [...task.matchAll(/(?<=\. )([A-Z][A-Za-z ]+): ([^ ]+?)\.(?= |$)/gm)][index]!;
        return `type(id=${idOf({ text: page }, role, asked[1]!)}, text="${asked[2]}")`;
      };
    const solved = await playSeed(emailAndDate, typeInto('textbox', 0), typeInto('date', 1), submit);
    expect(solved.steps.at(-1)!.result.info.success).toBe(true);
    const task = solved.reset.observation.text;
    expect(readingOf(solved as never).kinds).toEqual({ [label(task, 0)]: 'email', [label(task, 1)]: 'date' });
  });
});
