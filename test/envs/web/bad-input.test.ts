import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env, StepResult } from '../../../src/envs/env.js';
import { make } from '../../../src/envs/registry.js';
import '../../../src/envs/builtin.js';
import { findElement, parseTree } from '../../../src/envs/web/tree.js';
import { bare, eventually, formsSeed, idOf } from './helpers.js';

/** Bad input on real pages: each is an error observation and the episode goes on. */
describe('web envs: agent mistakes are error observations', () => {
  let env: Env;
  let lab: StepResult;

  // Short enough that the timeout tests stay quick, long enough that ordinary page loads never hit it on a
  // 2-core machine shared with training runs (1.5 s did, now and then).
  const actionTimeoutMs = 4000;

  beforeAll(async () => {
    env = await make('web/forms-v0', { difficulty: 1, actionTimeoutMs });
  });
  afterAll(async () => {
    await env.close();
  });

  async function openLab(): Promise<StepResult> {
    await env.reset({ seed: 3 });
    lab = await env.step({ tool: 'goto', args: { path: '/lab' } });
    expect(lab.info.error).toBeUndefined();
    return lab;
  }

  function expectGoesOn(result: StepResult): void {
    expect(result.terminated).toBe(false);
    expect(result.truncated).toBe(false);
    expect(result.reward).toBe(0);
  }

  it('answers an unknown element id with the page and a hint', async () => {
    await openLab();
    const result = await env.step({ tool: 'click', args: { id: 999 } });
    expectGoesOn(result);
    expect(result.info.error).toEqual({
      code: 'TOOL_ERROR',
      message: 'There is no element [999] on this page; use an id from the latest observation.',
    });
    expect(result.observation.text).toContain('Error: There is no element [999]');
    expect(result.observation.text).toContain('URL: /lab');
    // The episode goes on: a good click works afterwards.
    const counted = await env.step({ tool: 'click', args: { id: idOf(result.observation, 'button', 'Count') } });
    expect(counted.info.error).toBeUndefined();
    expect(counted.observation.text).toContain('text "Clicked 1 times"');
  });

  it('refuses to type into a button', async () => {
    const page = await openLab();
    const id = idOf(page.observation, 'button', 'Count');
    const result = await env.step({ tool: 'type', args: { id, text: 'hello' } });
    expectGoesOn(result);
    expect(result.info.error?.message).toBe(
      `[${id}] button "Count" is not a text field; type() needs a textbox, searchbox, date or number field (use click() for this one).`,
    );
  });

  it('names the options when selecting a missing one', async () => {
    const seed = formsSeed(5, (task) => task.form.fields.some((field) => field.kind === 'select' && field.tab === 0));
    const reset = await env.reset({ seed, options: { difficulty: 5 } });
    const dropdown = parseTree(reset.observation.text).find((element) => element.role === 'combobox');
    expect(dropdown, reset.observation.text).toBeDefined();
    const result = await env.step({ tool: 'select', args: { id: dropdown!.id, option: 'Atlantis' } });
    expectGoesOn(result);
    const options = dropdown!.options!.map((option) => JSON.stringify(option)).join(', ');
    expect(result.info.error).toEqual({
      code: 'TOOL_ERROR',
      message: `There is no option "Atlantis" in [${dropdown!.id}] combobox ${JSON.stringify(dropdown!.name)}. Its options are ${options}.`,
    });
    // The episode goes on: an option it has is chosen.
    const chosen = await env.step({ tool: 'select', args: { id: dropdown!.id, option: dropdown!.options![1]! } });
    expect(chosen.info.error).toBeUndefined();
    expect(findElement(parseTree(chosen.observation.text), 'combobox', dropdown!.name)?.value).toBe(
      dropdown!.options![1],
    );
  });

  it('refuses select() on a button and check() on a text field', async () => {
    const page = await openLab();
    const button = idOf(page.observation, 'button', 'Count');
    expect((await env.step({ tool: 'select', args: { id: button, option: 'x' } })).info.error?.message).toBe(
      `[${button}] button "Count" is not a dropdown; select() needs a combobox (for radio buttons and checkboxes use check()).`,
    );
    expect((await env.step({ tool: 'check', args: { id: button } })).info.error?.message).toBe(
      `[${button}] button "Count" is not a checkbox or radio button; check() needs one.`,
    );
  });

  it('keeps goto inside the site', async () => {
    await env.reset({ seed: 3 });
    for (const path of ['https://example.com/', 'file:///etc/passwd', '//evil.example/x', 'javascript:alert(1)']) {
      const result = await env.step({ tool: 'goto', args: { path } });
      expectGoesOn(result);
      expect(result.info.error).toEqual({
        code: 'TOOL_ERROR',
        message: `goto only opens pages of this site: give a path such as /search (got ${JSON.stringify(path)}).`,
      });
      expect(result.observation.text).toContain('URL: /\n');
    }
    const missing = await env.step({ tool: 'goto', args: { path: '/no/such/page' } });
    expect(missing.info.error?.message).toBe('goto("/no/such/page"): the site answered 404.');
    expect(missing.observation.text).toContain('heading "Page not found"');
  });

  // Issue 35, item 9: `blob:http://127.0.0.1:PORT/...` has the site's origin inside it and passed the check.
  it('refuses every URL that is not an http page of the site, whatever the scheme or the disguise', async () => {
    const origin = bare(env).origin;
    const host = origin.slice('http://'.length);
    const port = Number(host.split(':')[1]);
    const refused = [
      `blob:${origin}/2f6c1a52-0c4e-4d3b-9b1e-3f1a2b3c4d5e`,
      `blob:${origin}/`,
      `BLOB:${origin}/lab`,
      'data:text/html,<h1>Not the site</h1>',
      `view-source:${origin}/lab`,
      `filesystem:${origin}/temporary/x`,
      'about:blank',
      'about:srcdoc',
      'chrome://version',
      'chrome://crash',
      'javascript:location.href="https://example.com/"',
      ' javascript:alert(1)',
      'file:///etc/passwd',
      `ws://${host}/`,
      `ftp://${host}/`,
      `http://user:secret@${host}/lab`,
      `http://user@${host}/lab`,
      `http://127.0.0.1:${port + 1}/lab`,
      `http://127.0.0.1/lab`,
      `https://${host}/lab`,
      `http://127.0.0.1.nip.io:${port}/lab`,
      `http://localhost:${port}/lab`,
      `http://${host}.evil.example/lab`,
      `http://${host}@evil.example/lab`,
      '/\\evil.example/lab',
      '\\\\evil.example\\lab',
      '\\/evil.example/lab',
      '//evil.example/lab',
      'java\tscript:alert(1)',
      'java\nscript:alert(1)',
      '/lab\u0000',
      '/lab\r\nSet-Cookie: turngym-session=stolen',
      '\u0000javascript:alert(1)',
      '/lab\u007f',
      '/lab\u0085',
    ];
    for (const [index, path] of refused.entries()) {
      // An episode has 30 turns: a new one every ten refusals.
      if (index % 10 === 0) await env.reset({ seed: 3 });
      const result = await env.step({ tool: 'goto', args: { path } });
      expectGoesOn(result);
      expect(result.info.error, JSON.stringify(path)).toEqual({
        code: 'TOOL_ERROR',
        message: `goto only opens pages of this site: give a path such as /search (got ${JSON.stringify(path.trim().slice(0, 200))}).`,
      });
      expect(result.observation.text, JSON.stringify(path)).toContain('URL: /\n');
      expect(bare(env).page!.url()).toBe(`${origin}/`);
    }
    // Too long for the tool's schema: refused before the browser.
    const long = await env.step({ tool: 'goto', args: { path: `/${'a'.repeat(5000)}` } });
    expectGoesOn(long);
    expect(long.info.error?.code).toBe('INVALID_ARGS');
    // What is accepted: the site's paths, relative or not, and its own URLs.
    await env.reset({ seed: 3 });
    // (An empty user name and password are no credentials: the parser drops them.)
    for (const path of [
      'lab',
      ' /lab ',
      '/lab?x=1#top',
      `${origin}/lab`,
      `HTTP://${host.toUpperCase()}/lab`,
      `${origin}/a/../lab`,
      `http://:@${host}/lab`,
    ]) {
      const result = await env.step({ tool: 'goto', args: { path } });
      expect(result.info.error, JSON.stringify(path)).toBeUndefined();
      expect(bare(env).page!.url()).toMatch(new RegExp(`^${origin}/lab`));
    }
    // A long path of the site is its 404 page, not a failure.
    const longPath = await env.step({ tool: 'goto', args: { path: `/${'%'.repeat(600)}${'é'.repeat(1000)}` } });
    expectGoesOn(longPath);
    expect(longPath.info.error?.message).toMatch(/the site answered 404\.$/);
  });

  // Issue 35, item 9: links and scripts of a page are the other way off the site.
  it('brings the browser back to the site when a link or a page script leaves it, with an error observation', async () => {
    const origin = bare(env).origin;
    const hrefs = [
      'about:blank',
      'blob',
      'javascript:location.href = "about:blank"',
      'data:text/html,<h1>Not the site</h1>',
      `view-source:${origin}/lab`,
      'chrome://version',
      'file:///etc/passwd',
    ];
    for (const href of hrefs) {
      await openLab();
      // A link as a page of the site could hold one (the test adds it, as a script of the page would).
      await bare(env).page!.evaluate((href) => {
        const link = document.createElement('a');
        link.href =
          href === 'blob'
            ? URL.createObjectURL(new Blob(['<h1>A page made by a script</h1>'], { type: 'text/html' }))
            : href;
        link.textContent = 'Injected link';
        document.body.prepend(link);
      }, href);
      const seen = await env.step({ tool: 'scroll', args: { direction: 'top' } });
      let result = await env.step({ tool: 'click', args: { id: idOf(seen.observation, 'link', 'Injected link') } });
      // A javascript: link navigates a moment later: the next step finds the page gone and brings it back.
      if (href.startsWith('javascript:') && !result.info.error)
        result = await env.step({ tool: 'scroll', args: { direction: 'down' } });
      expectGoesOn(result);
      expect(result.observation.text.split('\n')[0], href).toBe('URL: /lab');
      expect(bare(env).page!.url()).toBe(`${origin}/lab`);
      // Chromium itself refuses a page's links to data:, view-source:, chrome: and file: URLs: nothing leaves.
      if (/^(data|view-source|chrome|file):/.test(href)) expect(result.info.error, href).toBeUndefined();
      // (After a javascript: link, the step the navigation cut short says so first.)
      else
        expect(result.info.error?.message, href).toMatch(
          /(^|cut short: .* )The page left the site for (about:blank|blob:http:\/\/127\.0\.0\.1:\d+\/[-0-9a-f]+); only this site can be browsed, so the browser went back to \/lab\.$/,
        );
    }
    // A script that navigates away by itself, between two steps.
    await openLab();
    const page = bare(env).page!;
    await page.evaluate('location.replace("about:blank")');
    expect(await eventually(() => page.url() === 'about:blank')).toBe(true);
    const after = await env.step({ tool: 'scroll', args: { direction: 'down' } });
    expectGoesOn(after);
    expect(after.info.error?.message).toMatch(
      /^The page left the site for about:blank; only this site can be browsed, so the browser went back to \/(lab)?\./,
    );
    expect(page.url().startsWith(`${origin}/`)).toBe(true);
    expect(page.url()).not.toContain('__turngym');
  });

  it('cuts an action short when a script of the page navigates while it runs, and the episode goes on', async () => {
    const page = await openLab();
    const count = idOf(page.observation, 'button', 'Count');
    // The page's script takes over the action's call (it never answers) and moves to another page meanwhile.
    await bare(env).page!.evaluate(
      `window.__turngym.act = () => { setTimeout(() => { location.href = '/lab?moved=1'; }, 50); return new Promise(() => {}); }`,
    );
    const cut = await env.step({ tool: 'click', args: { id: count } });
    expectGoesOn(cut);
    expect(cut.info.error).toEqual({
      code: 'TOOL_ERROR',
      message: `click(${count}) was cut short: the page went to another page meanwhile; look at it before acting again.`,
    });
    expect(cut.observation.text.split('\n')[0]).toBe('URL: /lab?moved=1');
    const counted = await env.step({ tool: 'click', args: { id: idOf(cut.observation, 'button', 'Count') } });
    expect(counted.info.error).toBeUndefined();
    expect(counted.observation.text).toContain('Clicked 1 times');
  });

  it('reports a page that throws, on click and while loading', async () => {
    const page = await openLab();
    const thrown = await env.step({ tool: 'click', args: { id: idOf(page.observation, 'button', 'Throw an error') } });
    expectGoesOn(thrown);
    expect(thrown.info.error).toEqual({
      code: 'TOOL_ERROR',
      message: 'The page threw an error: Uncaught Error: the widget lab button failed on purpose',
    });
    const broken = await env.step({ tool: 'click', args: { id: idOf(thrown.observation, 'link', 'Broken page') } });
    expectGoesOn(broken);
    expect(broken.observation.text).toContain('URL: /broken');
    expect(broken.info.error).toEqual({
      code: 'TOOL_ERROR',
      message: 'The page threw an error: Uncaught TypeError: this page fails while loading',
    });
  });

  it('times out a script that freezes the page, and the page answers again', async () => {
    const page = await openLab();
    const frozen = await env.step({ tool: 'click', args: { id: idOf(page.observation, 'button', 'Freeze the page') } });
    expectGoesOn(frozen);
    expect(frozen.info.error?.code).toBe('TIMEOUT');
    expect(frozen.info.error?.message).toMatch(
      new RegExp(`^click\\(\\d+\\) did not finish within ${actionTimeoutMs} ms; it was stopped\\.$`),
    );
    expect(frozen.observation.text).toContain('URL: /lab');
    const counted = await env.step({ tool: 'click', args: { id: idOf(frozen.observation, 'button', 'Count') } });
    expect(counted.info.error).toBeUndefined();
    expect(counted.observation.text).toContain('Clicked 1 times');
  });

  it('times out a page that never arrives', async () => {
    const page = await openLab();
    const slow = await env.step({ tool: 'click', args: { id: idOf(page.observation, 'link', 'Slow page') } });
    expectGoesOn(slow);
    expect(slow.info.error?.code).toBe('TIMEOUT');
    expect(slow.observation.text).toContain('URL: /lab');
    const viaGoto = await env.step({ tool: 'goto', args: { path: '/slow' } });
    expect(viaGoto.info.error).toEqual({
      code: 'TIMEOUT',
      message: `goto("/slow") did not load within ${actionTimeoutMs} ms; loading was stopped.`,
    });
    const back = await env.step({ tool: 'goto', args: { path: '/lab' } });
    expect(back.info.error).toBeUndefined();
  });

  it('blocks and counts requests off the site', async () => {
    const page = await openLab();
    expect(page.info.blocked_requests).toBe(0);
    const external = await env.step({ tool: 'click', args: { id: idOf(page.observation, 'link', 'External site') } });
    expectGoesOn(external);
    expect(external.info.blocked_requests).toBe(1);
    expect(external.observation.text).toContain(
      'Note: Loading https://example.com/ failed (net::ERR_BLOCKED_BY_CLIENT): only this site can be reached.',
    );
    // The browser does not stay on the error page: it is back on the page the link was on.
    expect(external.info.error).toEqual({
      code: 'TOOL_ERROR',
      message:
        'The page left the site for https://example.com/; only this site can be browsed, so the browser went back to /lab.',
    });
    expect(external.observation.text.split('\n')[0]).toBe('URL: /lab');
    const counted = await env.step({ tool: 'click', args: { id: idOf(external.observation, 'button', 'Count') } });
    expect(counted.info.error).toBeUndefined();
    expect(counted.observation.text).toContain('Clicked 1 times');
  });

  it('accepts dialogs, blocks popups and refuses downloads, telling the agent', async () => {
    const page = await openLab();
    const alert = await env.step({ tool: 'click', args: { id: idOf(page.observation, 'button', 'Show an alert') } });
    expect(alert.info.error).toBeUndefined();
    expect(alert.observation.text).toContain('Note: An alert dialog said "Hello from the lab"; it was accepted.');
    expect(alert.observation.text).toContain('text "Alert closed"');
    const popup = await env.step({ tool: 'click', args: { id: idOf(alert.observation, 'button', 'Open a popup') } });
    expect(popup.info.error).toBeUndefined();
    expect(popup.observation.text).toContain('Note: A popup window was blocked: this environment keeps to one tab.');
    const newWindow = await env.step({
      tool: 'click',
      args: { id: idOf(popup.observation, 'link', 'Help in a new window') },
    });
    expect(newWindow.info.error).toBeUndefined();
    expect(newWindow.observation.text).toContain('URL: /lab\n');
    expect(newWindow.observation.text).toContain(
      'Note: A popup window was blocked: this environment keeps to one tab.',
    );
    expect(bare(env).page!.context().pages()).toHaveLength(1);
    const download = await env.step({
      tool: 'click',
      args: { id: idOf(newWindow.observation, 'link', 'Download a file') },
    });
    expectGoesOn(download);
    expect(download.observation.text).toContain('URL: /lab');
    expect(download.observation.text).toContain('Note: A download (data.bin) was refused: downloads are off.');
  });

  it('refuses a button under a modal, and a form that is not valid yet', async () => {
    // A form with a confirmation modal (every form from difficulty 2) whose first required field is the Department dropdown.
    const seed = formsSeed(2, (task) => {
      const first = task.form.fields.find(
        (field) => field.required && !(field.kind === 'checkbox' && field.initiallyChecked),
      );
      return first?.kind === 'select' && first.label === 'Department';
    });
    const reset = await env.reset({ seed, options: { difficulty: 2 } });
    const opened = await env.step({ tool: 'click', args: { id: idOf(reset.observation, 'button', 'Submit') } });
    expect(opened.info.error).toBeUndefined();
    expect(opened.observation.text).toContain('dialog "Confirm submission"');
    const draft = idOf(opened.observation, 'button', 'Save draft');
    const covered = await env.step({ tool: 'click', args: { id: draft } });
    expectGoesOn(covered);
    expect(covered.info.error).toEqual({
      code: 'TOOL_ERROR',
      message: `[${draft}] button "Save draft" is covered by dialog "Confirm submission"; deal with it first.`,
    });
    const department = idOf(reset.observation, 'combobox', 'Department');
    const invalid = await env.step({ tool: 'click', args: { id: idOf(covered.observation, 'button', 'Confirm') } });
    expectGoesOn(invalid);
    expect(invalid.info.error).toEqual({
      code: 'TOOL_ERROR',
      message: `The form was not submitted: [${department}] combobox "Department": Please select an item in the list.`,
    });
    expect(invalid.observation.text).toContain('URL: /\n');
  });

  it('refuses a disabled button and back() with no previous page', async () => {
    const reset = await env.reset({ seed: 3 });
    const back = await env.step({ tool: 'back', args: {} });
    expect(back.info.error?.message).toBe('There is no previous page of this site to go back to.');
    const page = await env.step({ tool: 'goto', args: { path: '/lab' } });
    const disabled = await env.step({
      tool: 'click',
      args: { id: idOf(page.observation, 'button', 'Disabled button') },
    });
    expect(disabled.info.error?.message).toMatch(/^\[\d+\] button "Disabled button" is disabled\.$/);
    const previous = await env.step({ tool: 'back', args: {} });
    expect(previous.info.error).toBeUndefined();
    expect(previous.observation.text.split('\n')[0]).toBe('URL: /');
    expect(reset.observation.text).toContain('URL: /');
  });
});
