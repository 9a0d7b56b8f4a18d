/**
 * The forms site: MiniWoB-like widgets on one generated form per session (text, email and date fields,
 * checkboxes, radio groups, dropdowns, tabs, a confirmation modal), and a "widget lab" page of misbehaving
 * widgets (a button that throws, one that freezes the page, an alert, a popup, a download, a page that never
 * loads, a link off the site) used to test that agents' mishaps become error observations.
 *
 * What the form submits is recorded in the session; `web/forms-v0` verifies it.
 */
import { Rng } from '../../../core/rng.js';
import { escapeHtml, layout, notFound, type Site, type SiteRequest, type SiteResponse } from './server.js';

export type FieldKind = 'text' | 'email' | 'date' | 'textarea' | 'checkbox' | 'radio' | 'select';

export interface FormField {
  kind: FieldKind;
  /** The submitted name, e.g. `full_name`. */
  name: string;
  label: string;
  /** Choices of radio groups and dropdowns. */
  options?: string[];
  /** Checkboxes: ticked when the page loads. */
  initiallyChecked?: boolean;
  required: boolean;
  /** Index of the tab the field sits in (0 when the form has no tabs). */
  tab: number;
}

export interface FormSpec {
  title: string;
  fields: FormField[];
  /** Tab titles; empty for a form without tabs. */
  tabs: string[];
  /** Submitting asks for confirmation in a modal dialog first. */
  confirm: boolean;
}

/** One submission: field name to value (checkboxes: `on` when ticked, absent otherwise). */
export type Submission = Record<string, string>;

export interface FormsState {
  form: FormSpec;
  submissions: Submission[];
}

interface FieldTemplate {
  kind: FieldKind;
  name: string;
  label: string;
  options?: string[];
}

export const FIELD_TEMPLATES: FieldTemplate[] = [
  { kind: 'text', name: 'full_name', label: 'Full name' },
  { kind: 'text', name: 'company', label: 'Company' },
  { kind: 'text', name: 'city', label: 'City' },
  { kind: 'email', name: 'email', label: 'Email' },
  { kind: 'date', name: 'appointment', label: 'Appointment date' },
  { kind: 'date', name: 'start_date', label: 'Start date' },
  { kind: 'textarea', name: 'comments', label: 'Comments' },
  { kind: 'checkbox', name: 'newsletter', label: 'Subscribe to the newsletter' },
  { kind: 'checkbox', name: 'gift_wrap', label: 'Gift wrap' },
  { kind: 'checkbox', name: 'terms', label: 'I accept the terms' },
  { kind: 'checkbox', name: 'sms_updates', label: 'Text me updates' },
  { kind: 'radio', name: 'delivery', label: 'Delivery', options: ['Standard', 'Express', 'Pickup'] },
  { kind: 'radio', name: 'plan', label: 'Plan', options: ['Basic', 'Pro', 'Team', 'Enterprise'] },
  { kind: 'radio', name: 'contact', label: 'Preferred contact', options: ['Email', 'Phone', 'Post'] },
  {
    kind: 'select',
    name: 'country',
    label: 'Country',
    options: ['Argentina', 'Canada', 'Denmark', 'Japan', 'Kenya', 'Norway', 'Portugal', 'Vietnam'],
  },
  {
    kind: 'select',
    name: 'department',
    label: 'Department',
    options: ['Sales', 'Support', 'Engineering', 'Finance', 'Legal'],
  },
  { kind: 'select', name: 'colour', label: 'Favourite colour', options: ['Red', 'Green', 'Blue', 'Yellow', 'Purple'] },
];

const TITLES = [
  'Event registration',
  'Support request',
  'Account settings',
  'Delivery preferences',
  'Job application',
  'Membership form',
];
const TAB_TITLES = ['Personal', 'Preferences', 'Extras'];

/** A form with `count` fields, tabs when `tabs` > 1, and a confirmation modal when `confirm`. */
export function generateForm(rng: Rng, count: number, tabs: number, confirm: boolean): FormSpec {
  const templates = rng.sample(FIELD_TEMPLATES, Math.min(count, FIELD_TEMPLATES.length));
  const fields: FormField[] = templates.map((template, index) => ({
    ...template,
    options: template.options ? [...template.options] : undefined,
    initiallyChecked: template.kind === 'checkbox' ? rng.chance(0.3) : undefined,
    required: template.kind !== 'checkbox' && rng.chance(0.6),
    tab: tabs > 1 ? index % tabs : 0,
  }));
  return { title: rng.pick(TITLES), fields, tabs: tabs > 1 ? TAB_TITLES.slice(0, tabs) : [], confirm };
}

function fieldHtml(field: FormField): string {
  const required = field.required ? ' required' : '';
  const id = `f-${field.name}`;
  switch (field.kind) {
    case 'text':
    case 'email':
    case 'date':
      return `<label for="${id}">${escapeHtml(field.label)}</label><input id="${id}" type="${field.kind}" name="${field.name}"${required}>`;
    case 'textarea':
      return `<label for="${id}">${escapeHtml(field.label)}</label><textarea id="${id}" name="${field.name}" rows="2"${required}></textarea>`;
    case 'checkbox':
      return `<label><input type="checkbox" name="${field.name}"${field.initiallyChecked ? ' checked' : ''}> ${escapeHtml(field.label)}</label>`;
    case 'radio':
      return `<fieldset><legend>${escapeHtml(field.label)}</legend>${field
        .options!.map(
          (option) =>
            `<label><input type="radio" name="${field.name}" value="${escapeHtml(option)}"${required}> ${escapeHtml(option)}</label>`,
        )
        .join('')}</fieldset>`;
    case 'select':
      return `<label for="${id}">${escapeHtml(field.label)}</label><select id="${id}" name="${field.name}"${required}><option value="">Choose...</option>${field
        .options!.map((option) => `<option>${escapeHtml(option)}</option>`)
        .join('')}</select>`;
  }
}

const FORM_SCRIPT = `
document.querySelectorAll('[role=tab]').forEach(function (tab) {
  tab.addEventListener('click', function () {
    document.querySelectorAll('[role=tab]').forEach(function (other) {
      var selected = other === tab;
      other.setAttribute('aria-selected', String(selected));
      document.getElementById(other.getAttribute('aria-controls')).hidden = !selected;
    });
  });
});
var modal = document.getElementById('confirm-modal');
var open = document.getElementById('open-confirm');
if (open) open.addEventListener('click', function () { modal.hidden = false; });
var cancel = document.getElementById('cancel-confirm');
if (cancel) cancel.addEventListener('click', function () { modal.hidden = true; });
document.getElementById('save-draft').addEventListener('click', function () {
  document.getElementById('status').textContent = 'Draft saved (drafts are not submitted).';
});
`;

const SITE_TITLE = 'Turngym Forms';
const HEADER = `<nav aria-label="Site"><a href="/">${SITE_TITLE}</a> <a href="/lab">Widget lab</a></nav>`;

function formPage(form: FormSpec): SiteResponse {
  const byTab = (tab: number) =>
    form.fields
      .filter((f) => f.tab === tab)
      .map((f) => `<div>${fieldHtml(f)}</div>`)
      .join('');
  let fields: string;
  if (form.tabs.length > 0) {
    const tabList = `<div role="tablist" aria-label="Sections">${form.tabs
      .map(
        (title, i) =>
          `<button type="button" role="tab" id="tab-${i}" aria-controls="panel-${i}" aria-selected="${i === 0}">${escapeHtml(title)}</button>`,
      )
      .join('')}</div>`;
    const panels = form.tabs
      .map(
        (title, i) =>
          `<div role="tabpanel" id="panel-${i}" aria-label="${escapeHtml(title)}"${i === 0 ? '' : ' hidden'}>${byTab(i)}</div>`,
      )
      .join('');
    fields = tabList + panels;
  } else {
    fields = byTab(0);
  }
  const submit = form.confirm
    ? `<button type="button" id="open-confirm">Submit</button>` +
      `<div id="confirm-modal" class="modal-backdrop" hidden><div class="modal" role="dialog" aria-modal="true" aria-label="Confirm submission"><p>Submit your answers? You cannot change them afterwards.</p>` +
      `<button type="submit">Confirm</button> <button type="button" id="cancel-confirm">Cancel</button></div></div>`
    : `<button type="submit">Submit</button>`;
  const body =
    `<h1>${escapeHtml(form.title)}</h1><form id="the-form" action="/submit" method="post" class="card">${fields}` +
    `<p><button type="button" id="save-draft">Save draft</button> <button type="reset">Clear</button> ${submit}</p></form><p id="status" role="status"></p>`;
  return { html: layout(`${form.title} — ${SITE_TITLE}`, HEADER, body, FORM_SCRIPT) };
}

const LAB_SCRIPT = `
var clicks = 0;
document.getElementById('counter').addEventListener('click', function () { clicks++; document.getElementById('count').textContent = 'Clicked ' + clicks + ' times'; });
document.getElementById('throw').addEventListener('click', function () { throw new Error('the widget lab button failed on purpose'); });
document.getElementById('freeze').addEventListener('click', function () { for (;;) {} });
document.getElementById('alert').addEventListener('click', function () { alert('Hello from the lab'); document.getElementById('count').textContent = 'Alert closed'; });
document.getElementById('popup').addEventListener('click', function () { window.open('/lab?popup=1', '_blank'); });
`;

function labPage(): SiteResponse {
  const body =
    `<h1>Widget lab</h1><p>Widgets that misbehave on purpose.</p>` +
    `<p><button id="counter">Count</button> <span id="count">Clicked 0 times</span></p>` +
    `<p><button id="throw">Throw an error</button> <button id="freeze">Freeze the page</button> <button id="alert">Show an alert</button> <button id="popup">Open a popup</button> <button disabled>Disabled button</button></p>` +
    `<p><a href="/slow">Slow page</a> <a href="/broken">Broken page</a> <a href="/download">Download a file</a> <a href="https://example.com/">External site</a> <a href="/lab?help=1" target="_blank">Help in a new window</a></p>` +
    `<div style="height:3000px"></div><p><a href="/">Bottom link</a></p>`;
  return { html: layout(`Widget lab — ${SITE_TITLE}`, HEADER, body, LAB_SCRIPT) };
}

export const formsSite: Site<FormsState> = {
  name: 'forms',
  defaultState: () => ({ form: generateForm(Rng.fromSeed(0), 6, 2, true), submissions: [] }),
  handle(request: SiteRequest, state: FormsState): SiteResponse {
    const { method, path } = request;
    if (path === '/' && method === 'GET') return formPage(state.form);
    if (path === '/submit' && method === 'POST') {
      const submission: Submission = {};
      for (const [key, value] of request.form) submission[key] = value;
      state.submissions.push(submission);
      return { redirect: '/done' };
    }
    if (path === '/done' && method === 'GET') {
      return {
        html: layout(
          `Thank you — ${SITE_TITLE}`,
          HEADER,
          `<h1>Thank you</h1><p>Your answers were received (${state.submissions.length} submission${state.submissions.length === 1 ? '' : 's'}).</p>`,
        ),
      };
    }
    if (path === '/lab' && method === 'GET') return labPage();
    if (path === '/slow') return { hang: true };
    if (path === '/broken')
      return {
        html: layout(
          `Broken — ${SITE_TITLE}`,
          HEADER,
          '<h1>Broken page</h1>',
          "throw new TypeError('this page fails while loading');",
        ),
      };
    if (path === '/download') {
      return {
        status: 200,
        body: 'not for agents',
        headers: {
          'content-type': 'application/octet-stream',
          'content-disposition': 'attachment; filename="data.bin"',
        },
      };
    }
    return notFound(SITE_TITLE, HEADER, path);
  },
};
