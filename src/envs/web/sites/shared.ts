/**
 * The process-wide site servers: one per bundled site, started on first use and closed when the last env
 * that uses it closes (reference-counted, like the browser).
 */
import { type Site, SiteServer } from './server.js';

interface Entry {
  server: SiteServer<unknown>;
  references: number;
  starting: Promise<void>;
}

const servers = new Map<string, Entry>();

/** The running server of `site` (started if needed); pair every call with {@link releaseSite}. */
export async function acquireSite<State>(site: Site<State>): Promise<SiteServer<State>> {
  let entry = servers.get(site.name);
  if (!entry) {
    const server = new SiteServer<unknown>(site as Site<unknown>);
    entry = { server, references: 0, starting: server.start() };
    servers.set(site.name, entry);
  }
  entry.references++;
  try {
    await entry.starting;
  } catch (error) {
    entry.references--;
    if (servers.get(site.name) === entry) servers.delete(site.name);
    throw error;
  }
  return entry.server as SiteServer<State>;
}

/** Releases one use of `site`'s server; the last release stops it. */
export async function releaseSite(site: Site<unknown>): Promise<void> {
  const entry = servers.get(site.name);
  if (!entry) return;
  entry.references--;
  if (entry.references > 0) return;
  servers.delete(site.name);
  await entry.server.close();
}
