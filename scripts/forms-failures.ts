/**
 * What went wrong in web/forms-v0 episodes, from what the agent did and saw: reads the JSONL that
 * `turngym eval --record FILE` (or `run --record`) writes and gives each failed episode the first of these (in
 * this order, not in the order they happened) that applies:
 *
 * - `malformed`: an action the env could not parse or whose arguments it refused;
 * - `not_submitted`: the episode ended (out of turns, or `answer`) without the form being submitted;
 * - `field_not_set`: submitted, and a field the verifier names as wrong was never acted on (no `type`,
 *   `select` or `check` on an element of that label, nor a `click` on its box or radio button);
 * - `field_set_wrong`: submitted, and every wrong field was acted on (a wrong value copied, another option, or
 *   set right and then overwritten);
 *
 * and counts, failed or not, the episodes whose first action targets a field of the form (`first_action_on_a_field`)
 * and those that act on fields and only on labels the task asks for (`only_asked_fields`): how far a policy
 * gets in reading the task and the page. `by_field_kind` says which kinds of field fail: for each kind of field
 * the forms site has (`text`, `email`, `date`, `textarea`, `checkbox`, `radio`, `select`; a label's kind is its
 * template's), the episodes whose task asks for one, those solved, and the fields of that kind the verifier
 * named wrong in a submitted form. `boxes` says how a policy gets boxes to tick wrong: over the forms that were
 * submitted, the boxes asked for by what the task wants and what the page showed first (`ticked_from_unticked`:
 * asked ticked, shown unticked; so a box whose two words differ must be acted on, one whose words agree must
 * not), with how many were acted on and how many the verifier named wrong. Fields are told apart by label,
 * from the trees the page showed (an id keeps its element for the life of a page, so ids of an earlier window
 * of the page still count): the element's name, or its group's for a radio button; the labels asked for are
 * the task's. Records of other envs, and episodes the recorder abandoned, are left out.
 *
 *   npx tsx scripts/forms-failures.ts runs/p39e/forms-eval.jsonl
 */
import { readFileSync } from 'node:fs';
import { isFormatError } from '../src/core/errors.js';
import { resolveAction } from '../src/envs/actions.js';
import type { Action } from '../src/envs/env.js';
import { observedUrl, parseTree, type TreeElement } from '../src/envs/web/tree.js';
import { webTools } from '../src/envs/web/tools.js';
import { FIELD_TEMPLATES, type FieldKind } from '../src/envs/web/sites/forms.js';

interface Step {
  action: Action;
  result: { observation: { text: string }; info: Record<string, unknown> };
}
interface Episode {
  env?: string;
  ended?: string;
  reset: { observation: { text: string } };
  steps: Step[];
}

export const FAILURES = ['malformed', 'not_submitted', 'field_not_set', 'field_set_wrong'] as const;
export type Failure = (typeof FAILURES)[number];

const FIELD_TOOLS = new Set(['type', 'select', 'check']);

/** The label of a form element: its name, or for a radio button its group's. */
function labelOf(element: TreeElement): string {
  if (element.role === 'radio') {
    const group = [...element.path].reverse().find((container) => container.startsWith('group '));
    if (group) return group.replace(/^group "(.*)"$/, '$1');
  }
  return element.name;
}

/** The labels the task asks for (`Label: value` after "submit it."). */
function askedLabels(task: string): Set<string> {
  const labels = new Set<string>();
  const body = task.slice(task.indexOf('submit it') + 1);
  for (const match of body.matchAll(/(?:^|\. )([A-Z][A-Za-z ]+): /g)) labels.add(match[1]!.trim());
  return labels;
}

/** The kinds of field of the forms site, in the order `by_field_kind` lists them. */
export const FIELD_KINDS: readonly FieldKind[] = [...new Set(FIELD_TEMPLATES.map((template) => template.kind))];
const KIND_OF_LABEL = new Map(FIELD_TEMPLATES.map((template) => [template.label, template.kind]));

export function readingOf(episode: Episode): {
  failure?: Failure;
  firstOnField: boolean;
  onlyAsked: boolean;
  /** The kind of each field the task asks for, by label. */
  kinds: Record<string, FieldKind>;
  /** The labels the verifier named wrong in the submitted form. */
  wrong: string[];
  /** Whether the form was submitted (the verifier's feedback names what was wrong, or the episode succeeded). */
  submitted: boolean;
  /** Each box to tick the task asks for, by label: ticked asked for, ticked when the page first showed it, acted on. */
  boxes: Record<string, { want: boolean; shown?: boolean; acted: boolean }>;
} {
  const last = episode.steps.at(-1);
  const succeeded = last?.result.info.success === true;
  const asked = askedLabels(episode.reset.observation.text);
  const kinds: Record<string, FieldKind> = {};
  for (const label of asked) {
    const kind = KIND_OF_LABEL.get(label);
    if (kind) kinds[label] = kind;
  }
  const acted = new Set<string>();
  let malformed = false;
  let firstOnField = false;
  let onlyAsked = true;
  let fieldActions = 0;
  // The elements of the page in view, by id, from every window of it shown so far.
  let url = '';
  const elements = new Map<number, TreeElement>();
  // Each box's state when the page first showed it (a box is shown before anything can act on it).
  const shown = new Map<string, boolean>();
  const see = (text: string) => {
    if (!/^URL: /m.test(text)) return; // an error observation (a malformed action) shows no page
    if (observedUrl(text) !== url) elements.clear();
    url = observedUrl(text);
    for (const element of parseTree(text)) {
      elements.set(element.id, element);
      if (element.role === 'checkbox' && element.checked !== undefined && !shown.has(element.name))
        shown.set(element.name, element.checked);
    }
  };
  see(episode.reset.observation.text);
  for (const [index, step] of episode.steps.entries()) {
    const error = step.result.info.error as { code?: string } | undefined;
    if (isFormatError(error?.code)) malformed = true;
    const parsed = resolveAction(step.action, webTools, Infinity);
    const call = parsed.ok ? parsed.call : undefined;
    const element = call ? elements.get(Number(call.args?.id)) : undefined;
    const onField =
      call !== undefined &&
      (FIELD_TOOLS.has(call.tool) ||
        (call.tool === 'click' && (element?.role === 'checkbox' || element?.role === 'radio')));
    if (onField) {
      const label = element ? labelOf(element) : undefined;
      fieldActions++;
      if (label) acted.add(label);
      if (index === 0 && label && asked.has(label)) firstOnField = true;
      if (!label || !asked.has(label)) onlyAsked = false;
    }
    see(step.result.observation.text);
  }
  onlyAsked &&= fieldActions > 0;
  const task = episode.reset.observation.text;
  const boxes: Record<string, { want: boolean; shown?: boolean; acted: boolean }> = {};
  for (const [label, kind] of Object.entries(kinds))
    if (kind === 'checkbox')
      boxes[label] = { want: !task.includes(`${label}: not ticked`), shown: shown.get(label), acted: acted.has(label) };
  if (succeeded) return { firstOnField, onlyAsked, kinds, wrong: [], submitted: true, boxes };
  const feedback = last?.result.observation.text ?? '';
  const wrong = /Wrong: (.*)\./.exec(feedback)?.[1]?.split(', ') ?? [];
  const submitted = /Wrong: |submitted as instructed/.test(feedback);
  const failure: Failure = malformed
    ? 'malformed'
    : !submitted
      ? 'not_submitted'
      : wrong.some((label) => !acted.has(label))
        ? 'field_not_set'
        : 'field_set_wrong';
  return { failure, firstOnField, onlyAsked, kinds, wrong, submitted, boxes };
}

/** The four kinds of box `boxes` counts: what the task asks for, from what the page first showed. */
const BOX_CASES = [
  'ticked_from_unticked',
  'ticked_from_ticked',
  'unticked_from_ticked',
  'unticked_from_unticked',
] as const;
const boxCase = (want: boolean, shown: boolean) =>
  `${want ? 'ticked' : 'unticked'}_from_${shown ? 'ticked' : 'unticked'}` as (typeof BOX_CASES)[number];

/** The counts the script prints, over the forms episodes of a record (other envs' and abandoned ones left out). */
export function failureTable(records: readonly Episode[]) {
  const counts: Record<string, number> = Object.fromEntries(FAILURES.map((failure) => [failure, 0]));
  let success = 0;
  let firstOnField = 0;
  let onlyAsked = 0;
  let episodes = 0;
  const byKind = Object.fromEntries(
    FIELD_KINDS.map((kind) => [kind, { episodes: 0, solved: 0, fields_wrong: 0 }]),
  ) as Record<FieldKind, { episodes: number; solved: number; fields_wrong: number }>;
  const boxes = Object.fromEntries(BOX_CASES.map((name) => [name, { fields: 0, acted_on: 0, wrong: 0 }])) as Record<
    (typeof BOX_CASES)[number],
    { fields: number; acted_on: number; wrong: number }
  >;
  for (const episode of records) {
    if ((episode.env !== undefined && episode.env !== 'web/forms-v0') || episode.ended === 'abandoned') continue;
    const reading = readingOf(episode);
    episodes++;
    if (reading.failure) counts[reading.failure]!++;
    else success++;
    if (reading.firstOnField) firstOnField++;
    if (reading.onlyAsked) onlyAsked++;
    for (const kind of new Set(Object.values(reading.kinds))) {
      byKind[kind].episodes++;
      if (!reading.failure) byKind[kind].solved++;
    }
    for (const label of reading.wrong) if (reading.kinds[label]) byKind[reading.kinds[label]].fields_wrong++;
    if (!reading.submitted) continue;
    for (const [label, box] of Object.entries(reading.boxes)) {
      if (box.shown === undefined) continue; // never shown (a tab never opened)
      const row = boxes[boxCase(box.want, box.shown)];
      row.fields++;
      if (box.acted) row.acted_on++;
      if (reading.wrong.includes(label)) row.wrong++;
    }
  }
  return {
    episodes,
    success,
    ...counts,
    first_action_on_a_field: firstOnField,
    only_asked_fields: onlyAsked,
    by_field_kind: byKind,
    boxes,
  };
}

function main(path: string): void {
  const records = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Episode);
  console.log(JSON.stringify(failureTable(records), null, 2));
}

if (process.argv[1]?.endsWith('forms-failures.ts')) {
  if (!process.argv[2]) {
    console.error('usage: npx tsx scripts/forms-failures.ts RECORD.jsonl (from turngym eval --record)');
    process.exit(2);
  }
  main(process.argv[2]);
}
