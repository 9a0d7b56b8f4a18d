/**
 * The script the web envs install in every page (`context.addInitScript`). It defines
 * `window.__turngym` with two functions, each called with ONE `page.evaluate` per step:
 *
 * - `observe()` walks the DOM once, gives every interactive element a stable id (a `data-tg` attribute,
 *   numbered in document order the first time the element is seen, kept for the life of the document), and
 *   returns the accessibility-style tree as text lines (`[12] button "Add to cart"`).
 * - `act(kind, id, arg, flag)` carries out click / type / select / check / scroll on an element inside the
 *   page, after the checks a person's browser would make (visible, enabled, not covered by a dialog, form
 *   valid), and says whether the action started a navigation.
 *
 * Each page of the site sends its first observation by itself once it has loaded (`__turngymLoaded`, a
 * Playwright binding), saving the env one round trip per page load.
 *
 * It also records the page's uncaught errors so that a page that throws shows up in the next observation, and
 * blocks popups (`window.open`, links into a new window) the way a popup blocker does, counting them.
 * It is kept as a string (not a compiled function) so that no bundler helper can leak into the page.
 */
import { BLANK_PATH } from './sites/server.js';

export const PAGE_SCRIPT = String.raw`(() => {
if (window.__turngym) return;
const errors = [];
window.addEventListener('error', (event) => { errors.push(String(event.message || event.error || 'unknown error')); });
window.addEventListener('unhandledrejection', (event) => {
  const reason = event.reason;
  errors.push('Unhandled promise rejection: ' + String(reason && reason.message ? reason.message : reason));
});
// Popups are blocked, as a browser's popup blocker does (window.open returns null), and reported by observe().
let blockedPopups = 0;
window.open = function open() { blockedPopups++; return null; };
let navigating = false;
let submitEvent = null;
if (window.navigation) {
  window.navigation.addEventListener('navigate', (event) => {
    if (!event.destination.sameDocument) navigating = true;
  });
}
// Form submissions start their navigation later, so watch for submit events too.
window.addEventListener('submit', (event) => { submitEvent = event; }, true);

let nextId = 1;
// One id per document, so the env can tell a new page from the one an action ran in.
const documentId = Date.now().toString(36) + Math.random().toString(36).slice(2);
const TEXT_INPUTS = new Set(['text', 'search', 'email', 'tel', 'url', 'password', 'number', 'date', 'datetime-local', 'month', 'week', 'time']);
const INPUT_ROLES = { checkbox: 'checkbox', radio: 'radio', search: 'searchbox', button: 'button', submit: 'button', reset: 'button',
  image: 'button', range: 'slider', number: 'spinbutton', date: 'date', 'datetime-local': 'date', month: 'date', week: 'date', time: 'time',
  color: 'colorpicker', file: 'file' };
const INTERACTIVE = new Set(['link', 'button', 'textbox', 'searchbox', 'checkbox', 'radio', 'combobox', 'tab', 'date', 'time',
  'spinbutton', 'slider', 'switch', 'menuitem', 'option', 'colorpicker', 'file', 'clickable']);
const CONTAINERS = new Set(['list', 'navigation', 'form', 'search', 'dialog', 'alertdialog', 'group', 'tablist', 'tabpanel', 'table', 'row', 'region']);
const INLINE = new Set(['A', 'ABBR', 'B', 'BDI', 'CITE', 'CODE', 'EM', 'I', 'KBD', 'MARK', 'Q', 'S', 'SMALL', 'SPAN', 'STRONG', 'SUB', 'SUP', 'TIME', 'U', 'LABEL', 'BR']);
const SKIP = new Set(['SCRIPT', 'STYLE', 'TEMPLATE', 'NOSCRIPT', 'HEAD', 'META', 'LINK', 'IFRAME', 'SVG', 'svg', 'OPTION', 'DATALIST']);

function clean(text, limit) {
  const value = String(text || '').replace(/\s+/g, ' ').trim();
  return value.length > (limit || 120) ? value.slice(0, (limit || 120) - 1) + '…' : value;
}
function quote(text) { return '"' + text.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"'; }

function roleOf(element) {
  const explicit = element.getAttribute('role');
  if (explicit) return explicit.split(' ')[0];
  switch (element.tagName) {
    case 'A': return element.hasAttribute('href') ? 'link' : null;
    case 'BUTTON': case 'SUMMARY': return 'button';
    case 'INPUT': {
      const type = (element.getAttribute('type') || 'text').toLowerCase();
      if (type === 'hidden') return null;
      return INPUT_ROLES[type] || 'textbox';
    }
    case 'TEXTAREA': return 'textbox';
    case 'SELECT': return 'combobox';
    case 'H1': case 'H2': case 'H3': case 'H4': case 'H5': case 'H6': return 'heading';
    case 'IMG': return element.getAttribute('alt') ? 'img' : null;
    case 'UL': case 'OL': return 'list';
    case 'NAV': return 'navigation';
    case 'FORM': return element.hasAttribute('aria-label') ? 'form' : null;
    case 'DIALOG': return 'dialog';
    case 'FIELDSET': return 'group';
    case 'TABLE': return 'table';
    case 'TR': return 'row';
  }
  if (element.hasAttribute('onclick') || (element.tabIndex >= 0 && element.hasAttribute('tabindex'))) return 'clickable';
  return null;
}

/** Text of an element without the text of form controls inside it (a label wrapping a select). */
function ownText(element) {
  let text = '';
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (parent && parent.closest('select, textarea, script, style, option')) continue;
    text += ' ' + node.data;
  }
  return text;
}

function nameOf(element, role) {
  const label = element.getAttribute('aria-label');
  if (label) return clean(label);
  const labelledBy = element.getAttribute('aria-labelledby');
  if (labelledBy) return clean(labelledBy.split(/\s+/).map((id) => { const other = document.getElementById(id); return other ? other.textContent : ''; }).join(' '));
  if (element.labels && element.labels.length > 0) return clean(Array.from(element.labels).map(ownText).join(' '));
  if (element.tagName === 'IMG') return clean(element.getAttribute('alt'));
  if (element.tagName === 'INPUT') {
    const type = element.type;
    if (type === 'submit' || type === 'reset' || type === 'button') return clean(element.value || (type === 'submit' ? 'Submit' : type === 'reset' ? 'Reset' : ''));
    return clean(element.getAttribute('placeholder') || element.getAttribute('title') || element.name || '');
  }
  if (element.tagName === 'TEXTAREA' || element.tagName === 'SELECT') return clean(element.getAttribute('title') || element.name || '');
  if (element.tagName === 'FIELDSET') { const legend = element.querySelector('legend'); return legend ? clean(legend.textContent) : ''; }
  if (role === 'list' || role === 'navigation' || role === 'group' || role === 'table' || role === 'tablist' || role === 'dialog' || role === 'form' || role === 'search' || role === 'region' || role === 'tabpanel') return '';
  return clean(element.textContent);
}

function properties(element, role) {
  let out = '';
  if (role === 'textbox' || role === 'searchbox' || role === 'date' || role === 'time' || role === 'spinbutton') {
    if (element.value) out += ' value=' + quote(clean(element.value, 200));
  } else if (role === 'checkbox' || role === 'radio' || role === 'switch') {
    const checked = element.tagName === 'INPUT' ? element.checked : element.getAttribute('aria-checked') === 'true';
    out += checked ? ' checked' : ' unchecked';
  } else if (role === 'combobox' && element.tagName === 'SELECT') {
    const selected = element.selectedOptions[0];
    out += ' value=' + quote(selected ? clean(selected.textContent) : '');
    out += ' options=[' + Array.from(element.options).map((option) => quote(clean(option.textContent, 60))).join(', ') + ']';
  } else if (role === 'tab') {
    if (element.getAttribute('aria-selected') === 'true') out += ' selected';
  } else if (role === 'heading') {
    const level = /^H([1-6])$/.exec(element.tagName);
    if (level) out += ' level=' + level[1];
  }
  if (element.disabled || element.getAttribute('aria-disabled') === 'true') out += ' disabled';
  if (element.required) out += ' required';
  if (element.getAttribute('aria-invalid') === 'true') out += ' invalid';
  return out;
}

function idOf(element) {
  let id = element.getAttribute('data-tg');
  if (!id) { id = String(nextId++); element.setAttribute('data-tg', id); }
  return id;
}

function observe() {
  const lines = [];
  const tops = [];
  let blockOf = null;
  let text = '';
  let textDepth = 0;
  let textElement = null;
  const scrolled = window.scrollY > 0;
  function flush() {
    const value = clean(text, 300);
    if (value) { lines.push('  '.repeat(textDepth) + 'text ' + quote(value)); tops.push(textElement); }
    text = ''; blockOf = null; textElement = null;
  }
  function walk(element, depth, inLabel) {
    for (let node = element.firstChild; node; node = node.nextSibling) {
      if (node.nodeType === 3) {
        if (inLabel) continue;
        const data = node.data;
        if (!/\S/.test(data)) { if (text) text += ' '; continue; }
        let block = node.parentElement;
        while (block && INLINE.has(block.tagName)) block = block.parentElement;
        if (blockOf !== block) { flush(); blockOf = block; textDepth = depth; textElement = node.parentElement; }
        text += data;
        continue;
      }
      if (node.nodeType !== 1) continue;
      const child = node;
      if (SKIP.has(child.tagName) || child.getAttribute('aria-hidden') === 'true') continue;
      if (child.tagName === 'LEGEND' && element.tagName === 'FIELDSET') continue;
      if (!child.checkVisibility({ visibilityProperty: true })) continue;
      if (child.tagName === 'BR') { if (text) text += ' '; continue; }
      const role = roleOf(child);
      if (role && INTERACTIVE.has(role)) {
        flush();
        lines.push('  '.repeat(depth) + '[' + idOf(child) + '] ' + role + ' ' + quote(nameOf(child, role)) + properties(child, role));
        tops.push(child);
        continue;
      }
      if (role === 'heading' || role === 'alert' || role === 'status' || role === 'img') {
        flush();
        const name = role === 'img' ? nameOf(child, role) : clean(child.textContent, 300);
        if (name) { lines.push('  '.repeat(depth) + role + ' ' + quote(name) + properties(child, role)); tops.push(child); }
        continue;
      }
      if (role && CONTAINERS.has(role)) {
        flush();
        const name = nameOf(child, role);
        lines.push('  '.repeat(depth) + role + (name ? ' ' + quote(name) : ''));
        tops.push(child);
        walk(child, depth + 1, false);
        flush();
        continue;
      }
      const isLabel = child.tagName === 'LABEL' && child.control;
      if (!INLINE.has(child.tagName)) flush();
      walk(child, depth, inLabel || Boolean(isLabel));
      if (!INLINE.has(child.tagName)) flush();
    }
  }
  if (document.body) walk(document.body, 0, false);
  flush();
  let firstVisible = 0;
  if (scrolled) {
    firstVisible = tops.length;
    for (let i = 0; i < tops.length; i++) {
      const target = tops[i];
      if (target && target.getBoundingClientRect().bottom > 0) { firstVisible = i; break; }
    }
  }
  let lastVisible = tops.length - 1;
  for (let i = tops.length - 1; i > firstVisible; i--) {
    const target = tops[i];
    if (target && target.getBoundingClientRect().top < window.innerHeight) { lastVisible = i; break; }
  }
  const scrollable = document.documentElement.scrollHeight - window.innerHeight;
  const reported = errors.splice(0);
  const popups = blockedPopups;
  blockedPopups = 0;
  return {
    url: location.pathname + location.search + location.hash,
    title: document.title,
    lines,
    firstVisible,
    lastVisible,
    scroll: scrollable > 0 ? Math.round((window.scrollY / scrollable) * 100) : null,
    errors: reported,
    popups,
    document: documentId,
  };
}

/** Whether clicking the element follows a link into a new window. */
function opensWindow(element) {
  const link = element.closest('a[href], area[href]');
  const target = link ? (link.getAttribute('target') || '').toLowerCase() : '';
  return target !== '' && target !== '_self' && target !== '_top' && target !== '_parent';
}

function describe(element) {
  const role = roleOf(element) || element.tagName.toLowerCase();
  return '[' + element.getAttribute('data-tg') + '] ' + role + ' ' + quote(nameOf(element, role));
}

function reachable(element, id) {
  if (!element.isConnected || !element.checkVisibility({ visibilityProperty: true })) return 'Element [' + id + '] is not visible now; take a new look at the page.';
  if (element.disabled || element.getAttribute('aria-disabled') === 'true') return describe(element) + ' is disabled.';
  let rect = element.getBoundingClientRect();
  if (rect.bottom < 0 || rect.top > window.innerHeight || rect.right < 0 || rect.left > window.innerWidth) {
    element.scrollIntoView({ block: 'center', inline: 'center' });
    rect = element.getBoundingClientRect();
  }
  // A link that wraps over two lines has one box per line: aim at the first, not the middle of their union.
  const box = Array.from(element.getClientRects()).find((part) => part.width > 0 && part.height > 0) || rect;
  const x = box.left + Math.min(box.width / 2, Math.max(1, box.width - 1));
  const y = box.top + Math.min(box.height / 2, Math.max(1, box.height - 1));
  const hit = document.elementFromPoint(x, y);
  if (hit && hit !== element && !element.contains(hit) && !(hit.tagName === 'LABEL' && hit.control === element)) {
    const dialogs = '[role=dialog], [role=alertdialog], dialog';
    const cover = hit.closest(dialogs) || hit.querySelector(dialogs) || hit;
    const coverId = cover.getAttribute('data-tg');
    const coverRole = roleOf(cover) || cover.tagName.toLowerCase();
    const coverName = nameOf(cover, coverRole) || clean(cover.textContent, 60);
    return describe(element) + ' is covered by ' + (coverId ? '[' + coverId + '] ' : '') + coverRole + (coverName ? ' ' + quote(coverName) : '') + '; deal with it first.';
  }
  return null;
}

function invalidMessage(form) {
  if (!form || form.noValidate) return null;
  for (const control of form.elements) {
    if (control.willValidate && !control.checkValidity()) {
      const role = roleOf(control) || 'field';
      const name = nameOf(control, role);
      const id = control.getAttribute('data-tg');
      return 'The form was not submitted: ' + (id ? '[' + id + '] ' : '') + role + ' ' + quote(name) + ': ' + control.validationMessage;
    }
  }
  return null;
}

function isSubmitter(element) {
  if (!element.form) return false;
  if (element.tagName === 'BUTTON') return (element.getAttribute('type') || 'submit').toLowerCase() === 'submit';
  return element.tagName === 'INPUT' && (element.type === 'submit' || element.type === 'image');
}

function setValue(element, value) {
  const prototype = element.tagName === 'TEXTAREA' ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(prototype, 'value').set.call(element, value);
  element.dispatchEvent(new Event('input', { bubbles: true }));
  element.dispatchEvent(new Event('change', { bubbles: true }));
}

function perform(kind, id, arg, flag) {
  if (kind === 'scroll') {
    const step = Math.round(window.innerHeight * 0.8);
    if (arg === 'up') window.scrollBy(0, -step);
    else if (arg === 'down') window.scrollBy(0, step);
    else if (arg === 'top') window.scrollTo(0, 0);
    else window.scrollTo(0, document.documentElement.scrollHeight);
    return null;
  }
  const element = document.querySelector('[data-tg="' + id + '"]');
  if (!element) return 'There is no element [' + id + '] on this page; use an id from the latest observation.';
  const role = roleOf(element);
  if (kind === 'click') {
    if (element.tagName === 'SELECT') return describe(element) + ' is a dropdown; use select(' + id + ', option) to choose an option.';
    const problem = reachable(element, id);
    if (problem) return problem;
    if (opensWindow(element)) {
      blockedPopups++;
      return null;
    }
    const invalid = isSubmitter(element) && !element.formNoValidate ? invalidMessage(element.form) : null;
    if (typeof element.focus === 'function') element.focus();
    element.click();
    return invalid;
  }
  if (kind === 'type') {
    const textual = (element.tagName === 'INPUT' && TEXT_INPUTS.has(element.type)) || element.tagName === 'TEXTAREA';
    if (!textual && !element.isContentEditable) {
      return describe(element) + ' is not a text field; type() needs a textbox, searchbox, date or number field' + (role === 'button' || role === 'link' ? ' (use click() for this one).' : '.');
    }
    const problem = reachable(element, id);
    if (problem) return problem;
    if (element.readOnly) return describe(element) + ' is read-only.';
    element.focus();
    if (element.isContentEditable && !textual) {
      element.textContent = arg;
      element.dispatchEvent(new Event('input', { bubbles: true }));
    } else {
      if (element.type === 'date' && arg !== '' && !/^\d{4}-\d{2}-\d{2}$/.test(arg)) return describe(element) + ' takes a date written YYYY-MM-DD, e.g. 2025-03-14; got ' + quote(arg) + '.';
      setValue(element, arg);
      if (arg !== '' && element.value === '') return describe(element) + ' does not accept ' + quote(arg) + (element.type === 'number' ? ': type a number.' : element.type === 'date' ? ': no such date.' : '.');
    }
    if (flag) {
      if (element.form) {
        const invalid = invalidMessage(element.form);
        if (invalid) return invalid;
        element.form.requestSubmit();
      } else {
        for (const type of ['keydown', 'keypress', 'keyup']) element.dispatchEvent(new KeyboardEvent(type, { key: 'Enter', code: 'Enter', bubbles: true }));
      }
    }
    return null;
  }
  if (kind === 'select') {
    if (element.tagName !== 'SELECT') return describe(element) + ' is not a dropdown; select() needs a combobox (for radio buttons and checkboxes use check()).';
    const problem = reachable(element, id);
    if (problem) return problem;
    const wanted = String(arg).trim();
    const options = Array.from(element.options);
    const option = options.find((o) => clean(o.textContent) === wanted) || options.find((o) => o.value === wanted) ||
      options.find((o) => clean(o.textContent).toLowerCase() === wanted.toLowerCase());
    if (!option) return 'There is no option ' + quote(wanted) + ' in ' + describe(element) + '. Its options are ' + options.map((o) => quote(clean(o.textContent, 60))).join(', ') + '.';
    if (option.disabled) return 'The option ' + quote(wanted) + ' of ' + describe(element) + ' is disabled.';
    element.focus();
    element.value = option.value;
    element.dispatchEvent(new Event('input', { bubbles: true }));
    element.dispatchEvent(new Event('change', { bubbles: true }));
    return null;
  }
  if (kind === 'check') {
    const checkable = (element.tagName === 'INPUT' && (element.type === 'checkbox' || element.type === 'radio')) || role === 'checkbox' || role === 'radio' || role === 'switch';
    if (!checkable) return describe(element) + ' is not a checkbox or radio button; check() needs one' + (element.tagName === 'SELECT' ? ' (use select() for dropdowns).' : '.');
    const isRadio = element.type === 'radio' || role === 'radio';
    const checked = element.tagName === 'INPUT' ? element.checked : element.getAttribute('aria-checked') === 'true';
    if (isRadio && !flag) return describe(element) + ' is a radio button; it cannot be unchecked. Check another option of its group instead.';
    if (checked === flag) return null;
    const problem = reachable(element, id);
    if (problem) return problem;
    element.click();
    return null;
  }
  return 'Unknown action ' + kind + '.';
}

function act(kind, id, arg, flag) {
  navigating = false;
  submitEvent = null;
  const errorsBefore = errors.length;
  const scrollBefore = window.scrollY;
  const error = perform(kind, id, arg, flag);
  // Nothing stays focused between steps: a focused field, most of all one showing a refused submission's validation
  // bubble, keeps Chromium drawing an idle page (experiments section 46, bench web-idle).
  const focused = document.activeElement;
  if (focused && focused !== document.body && typeof focused.blur === 'function') focused.blur();
  const submitted = submitEvent !== null && !submitEvent.defaultPrevented;
  const outcome = { error, navigating: navigating || submitted, errors: errors.splice(errorsBefore), moved: window.scrollY !== scrollBefore };
  // An action that leaves the page where it is brings the observation back in the same round trip.
  if (!outcome.navigating) outcome.view = observe();
  return outcome;
}

Object.defineProperty(window, '__turngym', { value: { observe, act }, enumerable: false });

// Once the page has loaded (listeners on window run after the page's own ones on document), it sends its
// first observation to the env through a binding, so the env need not ask for it. Not the blank page the env
// opens ahead of an episode.
window.addEventListener('DOMContentLoaded', () => {
  const send = window.__turngymLoaded;
  if (typeof send === 'function' && location.pathname !== ${JSON.stringify(BLANK_PATH)}) send(observe());
});
})();`;
