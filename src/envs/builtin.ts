/**
 * Registers every built-in env family. Families keep their heavy dependencies (isolated-vm, Chromium,
 * SQLite) behind dynamic imports in `create`, so importing this module is cheap.
 */
import './puzzle/index.js';
import './code/index.js';
import './web/index.js';
import './search/index.js';
