/**
 * The bundled sites' HTTP server: node:http on 127.0.0.1, one server (one origin) per site.
 *
 * Per-episode state lives in the server, keyed by a session cookie: an env opens a session with the
 * episode's generated content (a catalogue, a form), puts the cookie into the episode's browser context, and
 * later reads what the agent did (orders, submissions) straight from the session. A person browsing a site
 * without the cookie gets a fresh session with the site's default content.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EnvFailureError } from '../../../core/errors.js';

/** The cookie that carries a session token. */
export const SESSION_COOKIE = 'tg_session';

/**
 * An empty page every site serves without touching sessions: the envs open it in the next episode's page
 * ahead of time, so that the renderer for the site is already running when the episode starts.
 */
export const BLANK_PATH = '/__turngym/blank';

/** A parsed request, as a site sees it. */
export interface SiteRequest {
  method: string;
  /** Path without the query, e.g. `/product/12`. */
  path: string;
  query: URLSearchParams;
  /** Form fields of a POST (application/x-www-form-urlencoded); empty otherwise. */
  form: URLSearchParams;
}

/** What a site answers: a page, a redirect, or (for the test pages) something unusual. */
export type SiteResponse =
  | { status?: number; html: string }
  | { redirect: string }
  | { status: number; body: string; headers: Record<string, string> }
  /** Never answer (a hung server, for timeout tests); the connection is dropped when the server closes. */
  | { hang: true };

/** A bundled site: its pages, from a request and the session's state. */
export interface Site<State> {
  readonly name: string;
  /** State of a session opened without an env (a person browsing). */
  defaultState(): State;
  handle(request: SiteRequest, state: State): SiteResponse | Promise<SiteResponse>;
}

const MAX_BODY_BYTES = 64 * 1024;
/** Sessions opened by people browsing (no env); the oldest is dropped beyond this. */
const MAX_BROWSING_SESSIONS = 100;

/** Serves one site on 127.0.0.1. */
export class SiteServer<State> {
  private server: Server | undefined;
  private readonly sessions = new Map<string, State>();
  private readonly browsingSessions: string[] = [];
  private nextToken = 1;
  private port = 0;
  private host = '127.0.0.1';
  /** Requests served (all sessions). */
  requests = 0;

  constructor(readonly site: Site<State>) {}

  /** Starts listening; `port` 0 (the default) picks a free port. */
  async start(port = 0, host = '127.0.0.1'): Promise<void> {
    if (this.server) return;
    const server = createServer((request, response) => {
      this.serve(request, response).catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        response.end(`Internal error: ${error instanceof Error ? error.message : String(error)}`);
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) =>
        reject(
          new EnvFailureError(`The ${this.site.name} site could not listen on ${host}:${port}: ${error.message}`, {
            cause: error,
          }),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.host = host;
  }

  /** `http://127.0.0.1:PORT`, the site's origin. */
  get origin(): string {
    if (!this.server) throw new EnvFailureError(`The ${this.site.name} site is not running.`);
    return `http://${this.host}:${this.port}`;
  }

  /** A new session token, for a session opened later with {@link openSession} (its cookie can be set first). */
  newToken(): string {
    return `s${this.nextToken++}-${randomBytes(6).toString('hex')}`;
  }

  /** Opens a session with the given state (under `token`, default a new one); returns its token (the value of the session cookie). */
  openSession(state: State, token = this.newToken()): string {
    this.sessions.set(token, state);
    return token;
  }

  /** The state of an open session. */
  session(token: string): State | undefined {
    return this.sessions.get(token);
  }

  closeSession(token: string): void {
    this.sessions.delete(token);
  }

  /** Number of open sessions (envs' and people's). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Stops listening and drops every connection (including hung requests). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    this.sessions.clear();
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.requests++;
    const url = new URL(request.url ?? '/', 'http://site.invalid');
    if (url.pathname === BLANK_PATH) {
      response
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end('<!doctype html><html><head><title></title></head><body></body></html>');
      return;
    }
    const method = request.method ?? 'GET';
    const form = method === 'POST' ? await readForm(request) : new URLSearchParams();
    let token = readCookie(request.headers.cookie ?? '', SESSION_COOKIE);
    const headers: Record<string, string> = {};
    if (!token || !this.sessions.has(token)) {
      token = this.openSession(this.site.defaultState());
      this.browsingSessions.push(token);
      if (this.browsingSessions.length > MAX_BROWSING_SESSIONS) this.closeSession(this.browsingSessions.shift()!);
      headers['set-cookie'] = `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax`;
    }
    if (url.pathname === '/favicon.ico') {
      response.writeHead(204, headers).end();
      return;
    }
    const answer = await this.site.handle(
      { method, path: url.pathname, query: url.searchParams, form },
      this.sessions.get(token)!,
    );
    if ('hang' in answer) return;
    if ('redirect' in answer) {
      response.writeHead(303, { ...headers, location: answer.redirect }).end();
    } else if ('html' in answer) {
      response
        .writeHead(answer.status ?? 200, {
          ...headers,
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
        })
        .end(answer.html);
    } else {
      response.writeHead(answer.status, { ...headers, ...answer.headers }).end(answer.body);
    }
  }
}

function readCookie(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) break;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string | number): string {
  return String(text).replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!,
  );
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#234;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
header a{color:#fff}main{padding:16px;max-width:960px;margin:auto}
.error{color:#b00020}.muted{color:#666}.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px;margin:8px 0}
label{display:block;margin:6px 0}[role=tabpanel][hidden]{display:none}
.modal-backdrop[hidden]{display:none}.modal-backdrop{position:fixed;inset:0;background:rgba(0,0,0,.4);display:flex;align-items:center;justify-content:center}
.modal{background:#fff;padding:20px;border-radius:8px;min-width:280px}`;

/** A complete page: title, a header with the site's links, and the body. */
export function layout(title: string, header: string, body: string, script = ''): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    `<style>${STYLE}</style></head><body><header>${header}</header><main>${body}</main>` +
    (script ? `<script>${script}</script>` : '') +
    `</body></html>`
  );
}

/** The 404 page of a site. */
export function notFound(siteTitle: string, header: string, path: string): SiteResponse {
  return {
    status: 404,
    html: layout(
      `Not found — ${siteTitle}`,
      header,
      `<h1>Page not found</h1><p>There is no page at ${escapeHtml(path)}.</p>`,
    ),
  };
}
