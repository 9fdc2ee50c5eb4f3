// Tables that grow with the organisation: sorted, searched and cut into pages on the server, so a
// page stays small at any size. State lives in the query string (`people.sort`, `people.dir`,
// `people.q`, `people.page`) and survives a reload; bad values get a note and the default.
import { type Html, html } from "../html.ts";
import { countOf, formatInteger } from "./format.ts";
import { type View, withQuery } from "./layout.ts";
import { pager, ROWS_PER_PAGE } from "./paging.ts";

const PAGE_ROWS = ROWS_PER_PAGE;
const MAX_SEARCH = 200;

export interface ServerColumn<T> {
  key: string;
  label: string;
  numeric?: boolean;
  hint?: string;
  /** Sorts by this; a column without it cannot be sorted. */
  sortValue?: (row: T) => number | string;
  cell: (row: T) => Html;
}

export interface ServerTableOptions<T> {
  name: string;
  /** What a row is ("person"), and its plural when not that + "s" ("people"). */
  item: string;
  items?: string;
  columns: readonly ServerColumn<T>[];
  rows: readonly T[];
  defaultSort: string;
  defaultDir?: "asc" | "desc";
  /** The text the search box matches, case-insensitively, as plain text. */
  searchText: (row: T) => string;
  /** Said when there are no rows at all. */
  empty: string;
  rowClass?: (row: T) => string;
  /** Called with the rows of the page shown, before their cells: for lookups done once a page. */
  onPage?: (rows: readonly T[]) => void;
}

export interface TableState {
  sort: string;
  dir: "asc" | "desc";
  q: string;
  page: number;
  /** What was wrong with the query string, already corrected. */
  problems: string[];
}

/** The table's state from the URL; an unknown sort, a bad page or an over-long search is corrected. */
export function tableState(
  url: URL,
  name: string,
  sortable: readonly string[],
  defaultSort: string,
  defaultDir: "asc" | "desc" = "desc",
): TableState {
  const params = url.searchParams;
  const problems: string[] = [];
  let sort = params.get(`${name}.sort`) ?? defaultSort;
  if (!sortable.includes(sort)) {
    problems.push(
      `${name}.sort=${sort.slice(0, 40)} is not a column of this table; sorted by ${defaultSort} instead.`,
    );
    sort = defaultSort;
  }
  const rawDir = params.get(`${name}.dir`);
  const dir = rawDir === "asc" || rawDir === "desc" ? rawDir : defaultDir;
  let q = params.get(`${name}.q`) ?? "";
  if (q.length > MAX_SEARCH) {
    problems.push(`The search was cut to its first ${MAX_SEARCH} characters.`);
    q = q.slice(0, MAX_SEARCH);
  }
  const rawPage = params.get(`${name}.page`);
  let page = 1;
  if (rawPage !== null) {
    if (/^\d{1,9}$/.test(rawPage) && Number(rawPage) >= 1) page = Number(rawPage);
    else problems.push(`${name}.page=${rawPage.slice(0, 20)} is not a page number; showing page 1.`);
  }
  return { sort, dir, q, page, problems };
}

function compare(a: number | string, b: number | string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Filters, sorts and cuts the rows; a page past the end shows the last one, with a note. */
export function pageRows<T>(
  rows: readonly T[],
  state: TableState,
  sortValue: ((row: T) => number | string) | undefined,
  searchText: (row: T) => string,
  tieBreak: (row: T) => string,
): { rows: T[]; total: number; page: number; pages: number; problems: string[] } {
  const needle = state.q.trim().toLowerCase();
  const matching = needle ? rows.filter((row) => searchText(row).toLowerCase().includes(needle)) : [...rows];
  const sign = state.dir === "asc" ? 1 : -1;
  if (sortValue) {
    const keyed = matching.map((row) => ({ row, key: sortValue(row), tie: tieBreak(row) }));
    keyed.sort((a, b) => compare(a.key, b.key) * sign || compare(a.tie, b.tie));
    matching.splice(0, matching.length, ...keyed.map((k) => k.row));
  }
  const pages = Math.max(1, Math.ceil(matching.length / PAGE_ROWS));
  const problems = [...state.problems];
  let page = state.page;
  if (page > pages) {
    problems.push(`Page ${formatInteger(page)} is past the end; showing page ${pages}, the last.`);
    page = pages;
  }
  return {
    rows: matching.slice((page - 1) * PAGE_ROWS, page * PAGE_ROWS),
    total: matching.length,
    page,
    pages,
    problems,
  };
}

/** Hidden inputs for the URL's other parameters, so a GET form keeps the rest of the page's state. */
export function keptFields(url: URL, drop: readonly string[]): Html {
  return html`${[...url.searchParams.entries()]
    .filter(([key]) => !drop.includes(key) && key !== "export" && key !== "notice")
    .map(([key, value]) => html`<input type="hidden" name="${key}" value="${value}">`)}`;
}

export function serverTable<T>(view: View, options: ServerTableOptions<T>): Html {
  const { name, item } = options;
  const noun = options.items ?? `${item}s`;
  const sortable = options.columns.filter((c) => c.sortValue).map((c) => c.key);
  const state = tableState(view.url, name, sortable, options.defaultSort, options.defaultDir);
  const column = options.columns.find((c) => c.key === state.sort);
  const first = options.columns[0];
  const result = pageRows(options.rows, state, column?.sortValue, options.searchText, (row) =>
    String(first?.sortValue?.(row) ?? ""),
  );
  options.onPage?.(result.rows);
  const link = (changes: Record<string, string | null>) => withQuery(view.url, { ...changes });
  const search = view.exported
    ? state.q
      ? html`<p class="note">Rows matching “${state.q}”.</p>`
      : html``
    : html`<form method="get" class="table-search" role="search">${keptFields(view.url, [
        `${name}.q`,
        `${name}.page`,
      ])}<input type="search" name="${name}.q" value="${state.q}" maxlength="${MAX_SEARCH}" placeholder="Search ${noun}…" aria-label="Search ${noun}"><button type="submit" class="secondary">Search</button>${
        state.q ? html` <a href="${link({ [`${name}.q`]: null, [`${name}.page`]: null })}">Clear</a>` : ""
      }</form>`;
  const from = result.total === 0 ? 0 : (result.page - 1) * PAGE_ROWS + 1;
  const to = Math.min(result.total, result.page * PAGE_ROWS);
  const all = countOf(result.total, item, noun);
  const count = html`<span class="count">${
    result.pages === 1 ? all : `${formatInteger(from)}–${formatInteger(to)} of ${all}`
  }${state.q ? ` matching “${state.q}”` : ""}</span>`;
  const problems = result.problems.map((p) => html`<p class="notice warn" role="status">${p}</p>`);
  if (options.rows.length === 0) return html`<p class="empty">${options.empty}</p>`;
  const header = (c: ServerColumn<T>) => {
    const current = c.key === state.sort;
    const label =
      c.sortValue && !view.exported
        ? html`<a class="sort" href="${link({
            [`${name}.sort`]: c.key,
            [`${name}.dir`]: current ? (state.dir === "asc" ? "desc" : "asc") : c.numeric ? "desc" : "asc",
            [`${name}.page`]: null,
          })}">${c.label}</a>`
        : c.label;
    return html`<th scope="col"${c.numeric ? html` class="num"` : ""}${c.hint ? html` title="${c.hint}"` : ""}${
      current ? html` aria-sort="${state.dir === "asc" ? "ascending" : "descending"}"` : ""
    }>${label}</th>`;
  };
  const body =
    result.rows.length === 0
      ? html`<p class="empty">No ${noun} match “${state.q}”.</p>`
      : html`<div class="table-wrap"><table data-server-table="${name}"><thead><tr>${options.columns.map(header)}</tr></thead><tbody>${result.rows.map(
          (row) => {
            const cls = options.rowClass?.(row) ?? "";
            return html`<tr${cls ? html` class="${cls}"` : ""}>${options.columns.map((c) => c.cell(row))}</tr>`;
          },
        )}</tbody></table></div>`;
  return html`${problems}<div class="table-tools">${search}${count}</div>${body}${pager(
    view,
    `${name}.page`,
    { page: result.page, offset: (result.page - 1) * PAGE_ROWS, limit: PAGE_ROWS, total: result.total },
    noun,
  )}`;
}
