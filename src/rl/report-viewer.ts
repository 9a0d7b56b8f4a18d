/**
 * The report's trajectory viewer: plain browser JavaScript (no libraries, no network) inlined into
 * report.html. It reads the trajectories from the `<script id="trajectory-data" type="application/json">`
 * element, fills the filters, and renders a transcript with textContent only, so recorded text (which may
 * contain markup) is never interpreted as HTML.
 *
 * Kept as a string because it runs in the browser, not in Node; it must not contain backticks or
 * dollar-brace sequences.
 */
export const VIEWER_SCRIPT = String.raw`
(function () {
  'use strict';
  var source = document.getElementById('trajectory-data');
  var root = document.getElementById('trajectories');
  if (!source || !root) return;
  var data = JSON.parse(source.textContent || '{"runs":[]}');
  var runSelect = document.getElementById('filter-run');
  var stepSelect = document.getElementById('filter-step');
  var outcomeSelect = document.getElementById('filter-outcome');
  var list = document.getElementById('trajectory-list');
  var detail = document.getElementById('trajectory-detail');
  var count = document.getElementById('trajectory-count');
  var selected = 0;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function number(value, digits) {
    if (typeof value !== 'number' || !isFinite(value)) return '–';
    return value.toFixed(digits === undefined ? 3 : digits);
  }
  function signed(value) {
    if (typeof value !== 'number' || !isFinite(value)) return '–';
    return (value > 0 ? '+' : '') + value.toFixed(3);
  }
  function stepLabel(step) {
    return step < 0 ? 'before training' : 'step ' + step;
  }
  function chip(label, value, className) {
    var node = element('span', 'chip' + (className ? ' ' + className : ''));
    node.appendChild(element('span', 'chip-label', label));
    node.appendChild(element('span', 'chip-value', value));
    return node;
  }
  function currentRun() {
    return data.runs[runSelect ? Number(runSelect.value) : 0] || { name: '', trajectories: [] };
  }

  function fillSteps() {
    var run = currentRun();
    var steps = [];
    run.trajectories.forEach(function (trajectory) {
      if (steps.indexOf(trajectory.step) < 0) steps.push(trajectory.step);
    });
    steps.sort(function (a, b) { return a - b; });
    stepSelect.textContent = '';
    var all = element('option', null, 'all steps (' + steps.length + ')');
    all.value = 'all';
    stepSelect.appendChild(all);
    steps.forEach(function (step) {
      var option = element('option', null, stepLabel(step));
      option.value = String(step);
      stepSelect.appendChild(option);
    });
  }

  function visible() {
    var run = currentRun();
    var step = stepSelect.value;
    var outcome = outcomeSelect.value;
    return run.trajectories.filter(function (trajectory) {
      if (step !== 'all' && String(trajectory.step) !== step) return false;
      if (outcome === 'success' && !trajectory.success) return false;
      if (outcome === 'failure' && trajectory.success) return false;
      return true;
    });
  }

  function renderList() {
    var shown = visible();
    var total = currentRun().trajectories.length;
    count.textContent = shown.length + ' of ' + total + ' trajectories';
    list.textContent = '';
    if (selected >= shown.length) selected = 0;
    shown.forEach(function (trajectory, index) {
      var item = element('li', 'trajectory-item' + (index === selected ? ' selected' : ''));
      item.setAttribute('role', 'option');
      item.setAttribute('aria-selected', index === selected ? 'true' : 'false');
      item.tabIndex = 0;
      item.appendChild(element('span', 'badge ' + (trajectory.success ? 'success' : 'failure'), trajectory.success ? '✓' : '✗'));
      item.appendChild(element('span', 'item-title', stepLabel(trajectory.step) + ' · group ' + trajectory.group));
      item.appendChild(element('span', 'item-meta', trajectory.turns.length + ' turns · return ' + number(trajectory.return, 2)));
      function choose() {
        selected = index;
        renderList();
      }
      item.addEventListener('click', choose);
      item.addEventListener('keydown', function (event) {
        if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); choose(); }
      });
      list.appendChild(item);
    });
    renderDetail(shown[selected]);
  }

  function renderDetail(trajectory) {
    detail.textContent = '';
    if (!trajectory) {
      detail.appendChild(element('p', 'empty', 'No trajectory matches these filters.'));
      return;
    }
    var header = element('header', 'detail-header');
    header.appendChild(element('h3', null, stepLabel(trajectory.step) + ' · group ' + trajectory.group + ' · seed ' + trajectory.seed));
    var facts = element('div', 'chips');
    facts.appendChild(chip('env', trajectory.env));
    facts.appendChild(chip('outcome', trajectory.success ? 'success' : 'failure', trajectory.success ? 'good' : 'bad'));
    facts.appendChild(chip('score', number(trajectory.outcome, 2)));
    facts.appendChild(chip('return', number(trajectory.return, 2)));
    facts.appendChild(chip('turns', trajectory.turns.length + ' / ' + trajectory.max_turns));
    if (trajectory.truncated) facts.appendChild(chip('ended', 'truncated by the horizon', 'bad'));
    if (typeof trajectory.initial_answer_probability === 'number') facts.appendChild(chip('p₀', number(trajectory.initial_answer_probability)));
    header.appendChild(facts);
    detail.appendChild(header);

    var task = element('section', 'message task');
    task.appendChild(element('div', 'role', 'task'));
    task.appendChild(element('pre', 'text', trajectory.prompt));
    detail.appendChild(task);

    if (trajectory.tools && trajectory.tools.length) {
      var tools = element('details', 'tools');
      tools.appendChild(element('summary', null, 'Tools (' + trajectory.tools.length + '): ' + trajectory.tools.map(function (tool) { return tool.name; }).join(', ')));
      var toolList = element('dl');
      trajectory.tools.forEach(function (tool) {
        toolList.appendChild(element('dt', null, tool.name));
        toolList.appendChild(element('dd', null, tool.description));
      });
      tools.appendChild(toolList);
      detail.appendChild(tools);
    }

    var scale = 0;
    trajectory.turns.forEach(function (turn) {
      if (typeof turn.information_gain === 'number') scale = Math.max(scale, Math.abs(turn.information_gain));
    });
    trajectory.turns.forEach(function (turn, index) {
      var block = element('section', 'turn' + (turn.error ? ' has-error' : ''));
      var head = element('div', 'turn-head');
      head.appendChild(element('span', 'turn-number', 'turn ' + (index + 1)));
      if (turn.tool) head.appendChild(element('span', 'tool-name', turn.tool));
      if (turn.error) head.appendChild(element('span', 'error-code', turn.error));
      block.appendChild(head);
      var action = element('div', 'message action');
      action.appendChild(element('div', 'role', 'action'));
      action.appendChild(element('pre', 'text', turn.action));
      block.appendChild(action);
      var observation = element('div', 'message observation');
      observation.appendChild(element('div', 'role', 'observation'));
      observation.appendChild(element('pre', 'text', turn.observation));
      block.appendChild(observation);
      var values = element('div', 'chips');
      values.appendChild(chip('reward', number(turn.reward, 2)));
      if (turn.format) values.appendChild(chip('format', number(turn.format, 2), 'bad'));
      if (typeof turn.information_gain === 'number') {
        var gain = chip('info gain', signed(turn.information_gain), turn.information_gain >= 0 ? 'good' : 'bad');
        var bar = element('span', 'gain-bar ' + (turn.information_gain >= 0 ? 'up' : 'down'));
        bar.style.width = (scale > 0 ? Math.max(2, Math.round((48 * Math.abs(turn.information_gain)) / scale)) : 2) + 'px';
        gain.appendChild(bar);
        values.appendChild(gain);
      }
      if (typeof turn.answer_probability === 'number') values.appendChild(chip('p(answer)', number(turn.answer_probability)));
      if (typeof turn.advantage === 'number') values.appendChild(chip('advantage', signed(turn.advantage)));
      block.appendChild(values);
      detail.appendChild(block);
    });
  }

  if (runSelect) runSelect.addEventListener('change', function () { selected = 0; fillSteps(); renderList(); });
  stepSelect.addEventListener('change', function () { selected = 0; renderList(); });
  outcomeSelect.addEventListener('change', function () { selected = 0; renderList(); });
  fillSteps();
  renderList();
})();
`;
