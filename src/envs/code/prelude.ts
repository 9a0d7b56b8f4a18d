/**
 * The code that runs inside every sandbox context before any agent code: the driver the host calls, a
 * `console` that writes to a capped buffer, a Node-like `inspect` for values, virtual timers and a seeded
 * `Math.random`.
 *
 * It is a string (not a function's source) because it is compiled by V8 inside the isolate, never by the
 * host's transpiler. Nothing from the host is installed in the context: the driver receives and returns
 * only copied primitives and small arrays of them, so no host object can be reached from agent code.
 *
 * Driver protocol (`driver(command, ...args)`; every result is copied out):
 * - `configure(seed, maxOutputChars)`: seeds `Math.random`, sets the output cap.
 * - `start(source, filename, wrapped)`: evaluates a cell with indirect `eval` (so `var` and function
 *   declarations land on the global object and persist). `wrapped` cells evaluate to an async function
 *   (top-level await, see rewrite.ts) that is called with the real global object. Returns a result or
 *   `['pending']` when a promise or timers remain.
 * - `tick()`: after the host let the microtask queue drain, settles the cell or runs the next virtual timer.
 * - `abort()`: after a timeout, drops timers and returns the output written so far.
 * - `call(name, argsJson)`: calls a global function with JSON arguments and returns the canonical text of
 *   its result (hidden tests of `code/functions-v0`).
 *
 * A result is `['done', output, outputTotalChars, valueText | null, errorText | null]`.
 */
export const PRELUDE = String.raw`
(function (global) {
  'use strict';
  // Intrinsics captured before agent code runs: a cell that overwrites builtins only spoils its own output.
  var indirectEval = global.eval;
  var R = Reflect, apply = R.apply, ownKeys = R.ownKeys, getPrototypeOf = R.getPrototypeOf;
  var getDescriptor = Object.getOwnPropertyDescriptor, isArray = Array.isArray, objectIs = Object.is;
  var jsonStringify = JSON.stringify, jsonParse = JSON.parse, StringOf = String;
  var toTag = Object.prototype.toString, fnToString = Function.prototype.toString;
  var arrayJoin = Array.prototype.join, arrayPush = Array.prototype.push, arraySort = Array.prototype.sort;
  var strSlice = String.prototype.slice, strSplit = String.prototype.split, strReplace = String.prototype.replace;
  var strIndexOf = String.prototype.indexOf, strRepeat = String.prototype.repeat, strTest = RegExp.prototype.test;
  var regexpToString = RegExp.prototype.toString, dateToISO = Date.prototype.toISOString, dateGetTime = Date.prototype.getTime;
  var bigintToString = BigInt.prototype.toString, symbolToString = Symbol.prototype.toString;
  var mapForEach = Map.prototype.forEach, setForEach = Set.prototype.forEach;
  var mapSize = getDescriptor(Map.prototype, 'size').get, setSize = getDescriptor(Set.prototype, 'size').get;
  var typedArrayProto = getPrototypeOf(Uint8Array.prototype);
  var typedLength = getDescriptor(typedArrayProto, 'length').get;
  var typedName = getDescriptor(typedArrayProto, Symbol.toStringTag).get;
  var promiseThen = Promise.prototype.then, PromiseCtor = Promise;
  var mathFloor = Math.floor, mathMin = Math.min, imul = Math.imul;
  var defineProperty = R.defineProperty, arraySlice = Array.prototype.slice;
  function call(fn, self) { return apply(fn, self, apply(arraySlice, arguments, [2])); }
  function join(items, separator) { return call(arrayJoin, items, separator); }
  // Appends by defining the index: an assignment would run a setter the agent put on Array.prototype.
  // The descriptor has no prototype, so fields the agent adds to Object.prototype (get, set) are not read.
  function push(items, value) { defineProperty(items, items.length, { __proto__: null, value: value, writable: true, enumerable: true, configurable: true }); }
  function hasOwn(object, key) { return getDescriptor(object, key) !== undefined; }

  // ---- output buffer -------------------------------------------------------------------------------
  var maxOutput = 4096, kept = [], keptChars = 0, totalChars = 0;
  function write(text) {
    totalChars += text.length;
    if (keptChars >= maxOutput) return;
    var room = maxOutput - keptChars;
    var piece = text.length > room ? call(strSlice, text, 0, room) : text;
    push(kept, piece);
    keptChars += piece.length;
  }
  function takeOutput() { var text = join(kept, ''); var total = totalChars; kept = []; keptChars = 0; totalChars = 0; return [text, total]; }

  // ---- inspect --------------------------------------------------------------------------------------
  var MAX_DEPTH = 4, MAX_ITEMS = 100, MAX_STRING = 10000, LINE = 76;
  function quote(text) {
    var cut = '';
    if (text.length > MAX_STRING) { cut = '... ' + (text.length - MAX_STRING) + ' more characters'; text = call(strSlice, text, 0, MAX_STRING); }
    var body = call(strSlice, jsonStringify(text), 1, -1);
    var quoted = call(strIndexOf, text, "'") < 0 ? "'" + call(strReplace, body, /\\"/g, '"') + "'" : '"' + body + '"';
    return quoted + cut;
  }
  function keyText(key) {
    if (typeof key === 'symbol') return '[' + call(symbolToString, key) + ']';
    return call(strTest, /^[A-Za-z_$][A-Za-z0-9_$]*$/, key) ? key : quote(key);
  }
  function constructorName(value) {
    try {
      var proto = getPrototypeOf(value);
      if (proto === null) return '[Object: null prototype]';
      var descriptor = getDescriptor(proto, 'constructor');
      var ctor = descriptor && hasOwn(descriptor, 'value') ? descriptor.value : undefined;
      return typeof ctor === 'function' && typeof ctor.name === 'string' ? ctor.name : '';
    } catch (error) { return ''; }
  }
  function group(prefix, open, items, close, indent) {
    if (items.length === 0) return prefix + open + close;
    var flat = prefix + open + ' ' + join(items, ', ') + ' ' + close;
    if (flat.length <= LINE && call(strIndexOf, flat, '\n') < 0) return flat;
    var pad = call(strRepeat, '  ', indent + 1);
    // Many short items (numbers, short strings) are packed several to a line, as Node's REPL does.
    var short = items.length > 6;
    for (var i = 0; short && i < items.length; i++) {
      if ((items[i].length > 16 && call(strIndexOf, items[i], '... ') !== 0) || call(strIndexOf, items[i], '\n') >= 0) short = false;
    }
    if (short) {
      var lines = [], line = '';
      for (var j = 0; j < items.length; j++) {
        var piece = items[j] + (j < items.length - 1 ? ',' : '');
        if (line !== '' && pad.length + line.length + 1 + piece.length > LINE) { push(lines, line); line = ''; }
        line = line === '' ? piece : line + ' ' + piece;
      }
      push(lines, line);
      return prefix + open + '\n' + pad + join(lines, '\n' + pad) + '\n' + call(strRepeat, '  ', indent) + close;
    }
    return prefix + open + '\n' + pad + join(items, ',\n' + pad) + '\n' + call(strRepeat, '  ', indent) + close;
  }
  function errorText(error) {
    var stack;
    try { stack = error.stack; } catch (problem) { stack = undefined; }
    var head;
    try { head = StringOf(error.name) + ': ' + StringOf(error.message); } catch (problem) { head = 'Error'; }
    if (typeof stack !== 'string' || stack === '') return head;
    var lines = call(strSplit, stack, '\n'), out = [];
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i];
      var isFrame = call(strTest, /^\s+at /, line);
      // Frames below the first driver frame are the sandbox's plumbing, not the agent's code.
      if (isFrame && (call(strIndexOf, line, 'turngym:') >= 0 || call(strIndexOf, line, 'eval at ') >= 0)) break;
      if (isFrame) line = call(strReplace, line, /at eval \((cell-\d+:\d+:\d+)\)$/, 'at $1');
      push(out, line);
    }
    while (out.length > 0 && call(strTest, /^\s+at eval \(<anonymous>\)$/, out[out.length - 1])) out.length--;
    return join(out, '\n');
  }
  function inspect(value, depth, seen, indent) {
    switch (typeof value) {
      case 'string': return quote(value);
      case 'number': return objectIs(value, -0) ? '-0' : StringOf(value);
      case 'bigint': return call(bigintToString, value) + 'n';
      case 'boolean': return value ? 'true' : 'false';
      case 'undefined': return 'undefined';
      case 'symbol': return call(symbolToString, value);
      case 'function': {
        var source = '';
        try { source = call(fnToString, value); } catch (error) { source = ''; }
        var name = '';
        try { name = typeof value.name === 'string' ? value.name : ''; } catch (error) { name = ''; }
        if (call(strTest, /^class\b/, source)) return '[class ' + (name || '(anonymous)') + ']';
        return '[Function: ' + (name || '(anonymous)') + ']';
      }
    }
    if (value === null) return 'null';
    for (var s = 0; s < seen.length; s++) if (seen[s] === value) return '[Circular]';
    var tag = call(toTag, value);
    if (tag === '[object Error]') return errorText(value);
    if (tag === '[object Date]') { var time = call(dateGetTime, value); return time === time ? call(dateToISO, value) : 'Invalid Date'; }
    if (tag === '[object RegExp]') return call(regexpToString, value);
    if (tag === '[object Promise]') return 'Promise {}';
    var name2 = constructorName(value);
    if (depth >= MAX_DEPTH) return isArray(value) ? '[Array]' : '[' + (name2 || 'Object') + ']';
    var inner = [];
    for (var k = 0; k < seen.length; k++) push(inner, seen[k]);
    push(inner, value);
    var items = [], count = 0;
    if (tag === '[object Map]') {
      call(mapForEach, value, function (v, key) {
        if (count++ < MAX_ITEMS) push(items, inspect(key, depth + 1, inner, indent + 1) + ' => ' + inspect(v, depth + 1, inner, indent + 1));
      });
      if (count > MAX_ITEMS) push(items, '... ' + (count - MAX_ITEMS) + ' more items');
      return group('Map(' + call(mapSize, value) + ') ', '{', items, '}', indent);
    }
    if (tag === '[object Set]') {
      call(setForEach, value, function (v) { if (count++ < MAX_ITEMS) push(items, inspect(v, depth + 1, inner, indent + 1)); });
      if (count > MAX_ITEMS) push(items, '... ' + (count - MAX_ITEMS) + ' more items');
      return group('Set(' + call(setSize, value) + ') ', '{', items, '}', indent);
    }
    var typed = undefined;
    try { typed = call(typedName, value); } catch (error) { typed = undefined; }
    if (typed !== undefined) {
      var length = call(typedLength, value);
      for (var t = 0; t < length && t < MAX_ITEMS; t++) push(items, inspect(value[t], depth + 1, inner, indent + 1));
      if (length > MAX_ITEMS) push(items, '... ' + (length - MAX_ITEMS) + ' more items');
      return group(typed + '(' + length + ') ', '[', items, ']', indent);
    }
    var array = isArray(value);
    // Listing the keys of a huge array would allocate a string per index: show only its items then.
    var keys = array && value.length > 10000 ? [] : ownKeys(value);
    if (array) {
      var size = value.length, holes = 0;
      for (var a = 0; a < size && items.length < MAX_ITEMS; a++) {
        var slot = getDescriptor(value, StringOf(a));
        if (!slot) { holes++; continue; }
        if (holes > 0) { push(items, '<' + holes + ' empty item' + (holes > 1 ? 's' : '') + '>'); holes = 0; }
        push(items, property(value, slot, undefined, depth, inner, indent));
      }
      if (holes > 0) push(items, '<' + holes + ' empty item' + (holes > 1 ? 's' : '') + '>');
      if (a < size) push(items, '... ' + (size - a) + ' more items');
    }
    var shown = 0;
    for (var i = 0; i < keys.length; i++) {
      var key = keys[i];
      if (array && (key === 'length' || call(strTest, /^(0|[1-9]\d*)$/, key))) continue;
      var descriptor = getDescriptor(value, key);
      if (!descriptor || !descriptor.enumerable) continue;
      if (shown++ >= MAX_ITEMS) continue;
      push(items, property(value, descriptor, key, depth, inner, indent));
    }
    if (shown > MAX_ITEMS) push(items, '... ' + (shown - MAX_ITEMS) + ' more properties');
    if (array) return group(name2 && name2 !== 'Array' ? name2 + '(' + value.length + ') ' : '', '[', items, ']', indent);
    return group(name2 && name2 !== 'Object' ? name2 + ' ' : '', '{', items, '}', indent);
  }
  function property(owner, descriptor, key, depth, seen, indent) {
    var text;
    // Getters are never invoked: reading them could run agent code at display time.
    var getter = hasOwn(descriptor, 'get') && descriptor.get, setter = hasOwn(descriptor, 'set') && descriptor.set;
    if (getter || setter) text = getter && setter ? '[Getter/Setter]' : getter ? '[Getter]' : '[Setter]';
    else text = inspect(descriptor.value, depth + 1, seen, indent + 1);
    return key === undefined ? text : keyText(key) + ': ' + text;
  }
  function show(value) {
    try { return inspect(value, 0, [], 0); }
    catch (error) { return '[value could not be displayed: ' + safeMessage(error) + ']'; }
  }
  function safeMessage(error) {
    try { return typeof error === 'object' && error !== null ? StringOf(error.message) : StringOf(error); } catch (problem) { return 'unknown error'; }
  }
  function uncaught(error) {
    try {
      if (error !== null && typeof error === 'object' && call(toTag, error) === '[object Error]') return 'Uncaught ' + errorText(error);
      return 'Uncaught ' + show(error);
    } catch (problem) { return 'Uncaught exception (it could not be displayed)'; }
  }

  // ---- console --------------------------------------------------------------------------------------
  function formatArguments(args) {
    var parts = [], start = 0;
    if (typeof args[0] === 'string' && call(strIndexOf, args[0], '%') >= 0) {
      var next = 1;
      push(parts, call(strReplace, args[0], /%([sdifjoOc%])/g, function (match, letter) {
        if (letter === '%') return '%';
        if (next >= args.length) return match;
        var arg = args[next++];
        if (letter === 's') return typeof arg === 'string' ? arg : show(arg);
        if (letter === 'd' || letter === 'i') return typeof arg === 'bigint' ? show(arg) : StringOf(letter === 'i' ? mathFloor(Number(arg)) : Number(arg));
        if (letter === 'f') return StringOf(Number(arg));
        if (letter === 'j') { try { return jsonStringify(arg); } catch (error) { return '[Circular]'; } }
        if (letter === 'c') return '';
        return show(arg);
      }));
      start = next;
    }
    for (var i = start; i < args.length; i++) {
      if (i === 0 && parts.length === 0) push(parts, typeof args[0] === 'string' ? args[0] : show(args[0]));
      else push(parts, typeof args[i] === 'string' ? args[i] : show(args[i]));
    }
    return join(parts, ' ');
  }
  function logger() {
    return function () {
      var args = [];
      for (var i = 0; i < arguments.length; i++) push(args, arguments[i]);
      var text;
      try { text = formatArguments(args); } catch (error) { text = '[could not format: ' + safeMessage(error) + ']'; }
      write(text + '\n');
    };
  }
  var sandboxConsole = { log: logger(), info: logger(), debug: logger(), warn: logger(), error: logger(), dir: logger(), trace: logger() };
  sandboxConsole.assert = function (condition) {
    if (condition) return;
    var args = ['Assertion failed'];
    for (var i = 1; i < arguments.length; i++) push(args, arguments[i]);
    if (args.length > 1) args[0] = 'Assertion failed:';
    write(formatArguments(args) + '\n');
  };

  // ---- virtual timers (no host timers: time advances only when the cell waits) ----------------------
  var timers = [], timerSeq = 0, clock = 0;
  function addTimer(fn, ms, args, repeat) {
    var delay = Number(ms);
    if (!(delay >= 1)) delay = repeat ? 1 : 0;
    var id = ++timerSeq;
    push(timers, { id: id, at: clock + delay, fn: fn, args: args, every: repeat ? delay : 0 });
    return id;
  }
  function clearTimer(id) {
    for (var i = 0; i < timers.length; i++) if (timers[i].id === id) { timers[i] = timers[timers.length - 1]; timers.length--; return; }
  }
  function restArgs(list, from) { var args = []; for (var i = from; i < list.length; i++) push(args, list[i]); return args; }
  function runNextTimer() {
    if (timers.length === 0) return false;
    var best = 0;
    for (var i = 1; i < timers.length; i++) {
      if (timers[i].at < timers[best].at || (timers[i].at === timers[best].at && timers[i].id < timers[best].id)) best = i;
    }
    var timer = timers[best];
    clock = timer.at;
    if (timer.every > 0) timer.at = clock + timer.every;
    else { timers[best] = timers[timers.length - 1]; timers.length--; }
    if (typeof timer.fn === 'function') {
      try { apply(timer.fn, undefined, timer.args); } catch (error) { write(uncaught(error) + '\n'); }
    }
    return true;
  }

  // ---- seeded Math.random (mulberry32), so that a seed gives the same observations ------------------
  var randomState = 0;
  function random() {
    randomState = (randomState + 0x6d2b79f5) | 0;
    var t = imul(randomState ^ (randomState >>> 15), 1 | randomState);
    t = (t + imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  var globals = {
    console: sandboxConsole,
    setTimeout: function setTimeout(fn, ms) { return addTimer(fn, ms, restArgs(arguments, 2), false); },
    setInterval: function setInterval(fn, ms) { return addTimer(fn, ms, restArgs(arguments, 2), true); },
    setImmediate: function setImmediate(fn) { return addTimer(fn, 0, restArgs(arguments, 1), false); },
    clearTimeout: function clearTimeout(id) { clearTimer(id); },
    clearInterval: function clearInterval(id) { clearTimer(id); },
    clearImmediate: function clearImmediate(id) { clearTimer(id); },
    queueMicrotask: function queueMicrotask(fn) { call(promiseThen, Promise.resolve(), function () { fn(); }); },
  };
  var names = ownKeys(globals);
  for (var g = 0; g < names.length; g++) {
    R.defineProperty(global, names[g], { value: globals[names[g]], writable: true, configurable: true, enumerable: false });
  }
  Math.random = random;

  // Intrinsics that isolated-vm cannot contain are removed before any agent code runs; nothing left in the
  // context leads back to them (SharedArrayBuffer was reachable only as a global or through WebAssembly
  // memories). Each was shown to break the host (see the security tests):
  // - memory outside the heap limit: WebAssembly memories and resizable/growable buffers are committed
  //   outside the isolate's allocator (a 32 MB sandbox filled 1 GB), and Intl's formatters, collators and
  //   segmenters keep ICU objects in native memory (a 64 MB sandbox grew the host by gigabytes);
  // - code that runs outside any call, where no time limit applies: FinalizationRegistry cleanup callbacks
  //   (run by the garbage collector; one that loops blocked the host), WeakRef (its targets' collection is
  //   observable between calls), and WebAssembly's asynchronous compilation;
  // - a process abort: Atomics.waitAsync on a SharedArrayBuffer schedules a wake-up that isolated-vm's
  //   platform cannot run, and the whole host process ends with SIGABRT.
  // The locale methods (toLocaleString, localeCompare) stay: they use ICU objects only for the call.
  var growers = [[ArrayBuffer.prototype, 'resize'], [ArrayBuffer.prototype, 'transfer'], [ArrayBuffer.prototype, 'transferToFixedLength'], [SharedArrayBuffer.prototype, 'grow']];
  for (var h = 0; h < growers.length; h++) delete growers[h][0][growers[h][1]];
  var removed = ['WebAssembly', 'SharedArrayBuffer', 'Atomics', 'FinalizationRegistry', 'WeakRef', 'Intl'];
  for (var r = 0; r < removed.length; r++) delete global[removed[r]];

  // ---- canonical text of a value (the hidden tests compare these) ------------------------------------
  function canonical(value, depth) {
    if (depth > 32) return '<too deep>';
    switch (typeof value) {
      case 'string': return jsonStringify(value);
      case 'number': return objectIs(value, -0) ? '0' : StringOf(value);
      case 'bigint': return call(bigintToString, value) + 'n';
      case 'boolean': return value ? 'true' : 'false';
      case 'undefined': return 'undefined';
      case 'symbol': case 'function': return '<' + typeof value + '>';
    }
    if (value === null) return 'null';
    var parts = [];
    if (isArray(value)) {
      for (var i = 0; i < value.length; i++) push(parts, canonical(value[i], depth + 1));
      return '[' + join(parts, ',') + ']';
    }
    var tag = call(toTag, value);
    if (tag !== '[object Object]') return '<' + call(strSlice, tag, 8, -1) + '>';
    var keys = [], own = ownKeys(value);
    for (var k = 0; k < own.length; k++) if (typeof own[k] === 'string') push(keys, own[k]);
    call(arraySort, keys);
    for (var j = 0; j < keys.length; j++) push(parts, jsonStringify(keys[j]) + ':' + canonical(value[keys[j]], depth + 1));
    return '{' + join(parts, ',') + '}';
  }

  // ---- the driver -----------------------------------------------------------------------------------
  var pending = null;
  function finish(value, error, failed) {
    var output = takeOutput();
    return ['done', output[0], output[1], failed ? null : show(value), failed ? uncaught(error) : null];
  }
  function settleLater(thenable) {
    var state = { settled: false, failed: false, value: undefined, error: undefined };
    // Adopting through a new promise also handles thenables that are not promises (their then runs later).
    var promise = new PromiseCtor(function (resolve) { resolve(thenable); });
    call(promiseThen, promise, function (value) { state.settled = true; state.value = value; },
      function (error) { state.settled = true; state.failed = true; state.error = error; });
    pending = state;
    return ['pending'];
  }
  function isThenable(value) {
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
    try { return typeof value.then === 'function'; } catch (error) { return false; }
  }
  return function driver(command, a, b, c) {
    try {
      return dispatch(command, a, b, c);
    } catch (error) {
      // A failure of the driver itself (agent code sabotaged something it relies on) is the cell's error.
      pending = null;
      timers.length = 0;
      return finish(undefined, error, true);
    }
  };
  function dispatch(command, a, b, c) {
    if (command === 'start') {
      pending = null;
      var value;
      try {
        value = indirectEval(a + '\n//# sourceURL=' + b);
        if (c) value = value(global);
      } catch (error) {
        return timers.length > 0 ? (pending = { settled: true, failed: true, error: error }, ['pending']) : finish(undefined, error, true);
      }
      if (isThenable(value)) return settleLater(value);
      if (timers.length > 0) { pending = { settled: true, failed: false, value: value }; return ['pending']; }
      return finish(value, undefined, false);
    }
    if (command === 'tick') {
      var state = pending;
      if (state === null) return finish(undefined, new Error('nothing is running'), true);
      // The host drained the microtask queue before this call; run one virtual timer, or settle.
      if (runNextTimer()) return ['pending'];
      pending = null;
      if (!state.settled) {
        return finish(undefined, new Error('the promise never settled: nothing is left that could resolve it (no pending timers)'), true);
      }
      return finish(state.value, state.error, state.failed);
    }
    if (command === 'abort') {
      pending = null;
      timers.length = 0;
      return takeOutput();
    }
    if (command === 'configure') {
      randomState = a | 0;
      maxOutput = b;
      return true;
    }
    if (command === 'call') {
      try {
        var fn = indirectEval(a);
        if (typeof fn !== 'function') return ['error', a + ' is not a function (it is ' + (fn === null ? 'null' : typeof fn) + ')'];
        var result = apply(fn, undefined, jsonParse(b));
        return ['ok', canonical(result, 0)];
      } catch (error) {
        return ['error', uncaught(error)];
      } finally {
        takeOutput();
        timers.length = 0;
      }
    }
    return null;
  }
})(globalThis)
`;
