/**
 * The wiki: the search family's knowledge base (src/envs/search/kb.ts) as linked articles, with a title
 * search and an A–Z index, so that multi-hop questions can be answered by browsing. Read-only: a session
 * only says which knowledge base it shows.
 */
import { type Article, type KnowledgeBase, generateKnowledgeBase } from '../../search/kb.js';
import { escapeHtml, layout, notFound, type Site, type SiteRequest, type SiteResponse } from './server.js';

export interface WikiState {
  kb: KnowledgeBase;
}

/** Size of the knowledge base a person browsing the site sees (and the default of `web/wiki-v0`). */
export const DEFAULT_WIKI_SIZE = 1000;

const cache = new Map<number, KnowledgeBase>();

/** The wiki's knowledge base of `size` articles (seed 0, generated once per process and size). */
export function wikiKnowledgeBase(size = DEFAULT_WIKI_SIZE): KnowledgeBase {
  let kb = cache.get(size);
  if (!kb) {
    kb = generateKnowledgeBase({ seed: 0, size });
    cache.set(size, kb);
  }
  return kb;
}

const SITE_TITLE = 'Turngym Wiki';
const HEADER =
  `<nav aria-label="Site"><a href="/">${SITE_TITLE}</a> <a href="/index/A">A–Z index</a></nav>` +
  `<form action="/search" method="get" role="search"><input type="search" name="q" aria-label="Search the wiki" placeholder="Search the wiki"> <button type="submit">Search</button></form>`;
const PAGE_SIZE = 20;

function page(title: string, body: string, status?: number): SiteResponse {
  return { html: layout(`${title} — ${SITE_TITLE}`, HEADER, body), ...(status ? { status } : {}) };
}

const articleIndex = new WeakMap<KnowledgeBase, Map<string, Article>>();

function articleOf(kb: KnowledgeBase, id: string): Article | undefined {
  let index = articleIndex.get(kb);
  if (!index) {
    index = new Map(kb.articles.map((article) => [article.id, article]));
    articleIndex.set(kb, index);
  }
  return index.get(id);
}

/** The article's text with the first mention of each linked entity made a link to its article. */
export function linkArticle(article: Article, kb: KnowledgeBase): string {
  const spans: { start: number; end: number; id: string }[] = [];
  const names = article.links.map((id) => ({ id, name: kb.byId.get(id)?.name ?? '' })).filter((entry) => entry.name);
  // Longest names first, so that a name inside a longer one does not take its place.
  names.sort((a, b) => b.name.length - a.name.length);
  for (const { id, name } of names) {
    let from = 0;
    for (;;) {
      const start = article.text.indexOf(name, from);
      if (start < 0) break;
      const end = start + name.length;
      if (!spans.some((span) => start < span.end && end > span.start)) {
        spans.push({ start, end, id });
        break;
      }
      from = start + 1;
    }
  }
  spans.sort((a, b) => a.start - b.start);
  let html = '';
  let position = 0;
  for (const span of spans) {
    html += escapeHtml(article.text.slice(position, span.start));
    html += `<a href="/wiki/${span.id}">${escapeHtml(article.text.slice(span.start, span.end))}</a>`;
    position = span.end;
  }
  return html + escapeHtml(article.text.slice(position));
}

/** Articles whose title (first) or text contain every word of the query, best first. */
export function searchArticles(kb: KnowledgeBase, query: string): Article[] {
  const words = query
    .toLowerCase()
    .split(/[^\p{L}\p{N}&'-]+/u)
    .filter(Boolean);
  if (words.length === 0) return [];
  const inTitle: Article[] = [];
  const inText: Article[] = [];
  for (const article of kb.articles) {
    const title = article.title.toLowerCase();
    if (words.every((word) => title.includes(word))) inTitle.push(article);
    else if (words.every((word) => title.includes(word) || article.text.toLowerCase().includes(word)))
      inText.push(article);
  }
  const exact = inTitle.filter((article) => article.title.toLowerCase() === query.trim().toLowerCase());
  return [...exact, ...inTitle.filter((article) => !exact.includes(article)), ...inText];
}

function resultsPage(kb: KnowledgeBase, query: URLSearchParams): SiteResponse {
  const q = (query.get('q') ?? '').trim();
  const results = searchArticles(kb, q);
  const pages = Math.max(1, Math.ceil(results.length / PAGE_SIZE));
  const pageNumber = Math.min(pages, Math.max(1, Number.parseInt(query.get('page') ?? '1', 10) || 1));
  const shown = results.slice((pageNumber - 1) * PAGE_SIZE, pageNumber * PAGE_SIZE);
  const items = shown.map((a) => `<li><a href="/wiki/${a.id}">${escapeHtml(a.title)}</a></li>`).join('');
  const next =
    pageNumber < pages ? ` <a href="/search?q=${encodeURIComponent(q)}&amp;page=${pageNumber + 1}">Next page</a>` : '';
  const body = q
    ? `<h1>Search results for ${escapeHtml(q)}</h1>${results.length ? `<ul aria-label="Search results">${items}</ul><p>Page ${pageNumber} of ${pages} (${results.length} articles)${next}</p>` : '<p>No article matches. Try other words.</p>'}`
    : '<h1>Search</h1><p>Type words from an article title into the search box.</p>';
  return page('Search', body);
}

function indexPage(kb: KnowledgeBase, letter: string, query: URLSearchParams): SiteResponse {
  const letters = [...new Set(kb.articles.map((a) => a.title[0]!.toUpperCase()))].sort();
  const titles = kb.articles
    .filter((a) => a.title[0]!.toUpperCase() === letter)
    .sort((a, b) => a.title.localeCompare(b.title));
  const size = PAGE_SIZE * 2;
  const pages = Math.max(1, Math.ceil(titles.length / size));
  const pageNumber = Math.min(pages, Math.max(1, Number.parseInt(query.get('page') ?? '1', 10) || 1));
  const items = titles
    .slice((pageNumber - 1) * size, pageNumber * size)
    .map((a) => `<li><a href="/wiki/${a.id}">${escapeHtml(a.title)}</a></li>`)
    .join('');
  const nav = letters.map((l) => `<a href="/index/${encodeURIComponent(l)}">${escapeHtml(l)}</a>`).join(' ');
  const next =
    pageNumber < pages ? `<a href="/index/${encodeURIComponent(letter)}?page=${pageNumber + 1}">Next page</a>` : '';
  return page(
    `Index ${letter}`,
    `<h1>Articles starting with ${escapeHtml(letter)}</h1><nav aria-label="Letters">${nav}</nav><ul aria-label="Articles">${items}</ul><p>Page ${pageNumber} of ${pages} ${next}</p>`,
  );
}

export const wikiSite: Site<WikiState> = {
  name: 'wiki',
  defaultState: () => ({ kb: wikiKnowledgeBase() }),
  handle(request: SiteRequest, state: WikiState): SiteResponse {
    const { kb } = state;
    const { path } = request;
    if (request.method !== 'GET') return notFound(SITE_TITLE, HEADER, path);
    if (path === '/') {
      return page(
        'Main page',
        `<h1>Welcome to the ${SITE_TITLE}</h1><p>${kb.articles.length} articles about people, places, organisations and works. Search by title, or browse the <a href="/index/A">A–Z index</a>.</p>`,
      );
    }
    if (path === '/search') return resultsPage(kb, request.query);
    const article = /^\/wiki\/([a-z]+-\d+)$/.exec(path);
    if (article) {
      const found = kb.byId.get(article[1]!);
      const text = found ? articleOf(kb, found.id) : undefined;
      if (!found || !text) return notFound(SITE_TITLE, HEADER, path);
      return page(
        found.name,
        `<h1>${escapeHtml(found.name)}</h1><p>${linkArticle(text, kb)}</p><p class="muted">Category: ${found.kind}</p>`,
      );
    }
    const index = /^\/index\/(.+)$/.exec(path);
    if (index) return indexPage(kb, decodeURIComponent(index[1]!).slice(0, 1).toUpperCase(), request.query);
    return notFound(SITE_TITLE, HEADER, path);
  },
};
