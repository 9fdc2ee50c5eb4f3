// The dashboard's pure parts: escaping, number and time formats, ranges, chart geometry, form
// parsing, CSV/JSON streaming and the demo generator's randomness.
import { describe, expect, test } from "bun:test";
import { csvCell, usageStream } from "../../../src/receiver/admin/export.ts";
import { escapeHtml, html, trusted } from "../../../src/receiver/admin/html.ts";
import { parseDays, parseId, parseRange, safeReturn, withNotice } from "../../../src/receiver/admin/model.ts";
import { actorLabel } from "../../../src/receiver/admin/views/audit.ts";
import {
  horizontalBars,
  modelColour,
  niceTicks,
  OKABE_ITO,
  stackedColumns,
} from "../../../src/receiver/admin/views/charts.ts";
import {
  abbreviate,
  costText,
  countOf,
  formatInteger,
  formatPercent,
  formatUsd,
  timeCell,
} from "../../../src/receiver/admin/views/format.ts";

import { exportHref, withQuery } from "../../../src/receiver/admin/views/layout.ts";
import { dataTable } from "../../../src/receiver/admin/views/parts.ts";
import { pageRows, tableState } from "../../../src/receiver/admin/views/server-table.ts";
import { daysBetween, rangeStartDay, rangeStartMs } from "../../../src/receiver/analytics/ranges.ts";
import type { UsageExportRow } from "../../../src/receiver/analytics/usage-export.ts";
import { seededRandom } from "../../../src/receiver/cli/demo-data.ts";

const XSS = "<img src=x onerror=alert(1)>";

describe("html template", () => {
  test("escapes every interpolation, including attribute quotes", () => {
    expect(html`<td title="${`"${XSS}'`}">${XSS}</td>`.text).toBe(
      '<td title="&quot;&lt;img src=x onerror=alert(1)&gt;&#39;">&lt;img src=x onerror=alert(1)&gt;</td>',
    );
  });

  test("nests templates without escaping them twice, joins arrays, drops null, undefined and false", () => {
    const inner = html`<b>${"a&b"}</b>`;
    expect(html`${inner}${[html`<i>1</i>`, "<2>"]}${null}${undefined}${false}${0}`.text).toBe(
      "<b>a&amp;b</b><i>1</i>&lt;2&gt;0",
    );
  });

  test("only trusted() passes markup through, and escapeHtml covers the five special characters", () => {
    expect(html`${trusted("<style>a{}</style>")}`.text).toBe("<style>a{}</style>");
    expect(escapeHtml(`&<>"'`)).toBe("&amp;&lt;&gt;&quot;&#39;");
  });
});

describe("words", () => {
  test("every count reads right for one and for many", () => {
    expect(countOf(1, "device key")).toBe("1 device key");
    expect(countOf(2, "device key")).toBe("2 device keys");
    expect(countOf(0, "user")).toBe("0 users");
    expect(countOf(1, "entry", "entries")).toBe("1 entry");
    expect(countOf(1500, "entry", "entries")).toBe("1,500 entries");
  });

  test("a table counts its rows with the same words, for one row and for many", () => {
    const one = dataTable({
      name: "t",
      item: "device key",
      columns: [],
      rows: [html`<tr></tr>`],
      empty: "",
    }).text;
    expect(one).toContain(">1 device key</span>");
    const two = dataTable({
      name: "t",
      item: "entry",
      items: "entries",
      columns: [],
      rows: [html`<tr></tr>`, html`<tr></tr>`],
      empty: "",
    }).text;
    expect(two).toContain(">2 entries</span>");
    expect(two).toContain('data-item="entry" data-items="entries"');
  });

  test("the audit log names who acted: a failed login is anonymous, from its address", () => {
    expect(actorLabel({ actor: "anonymous", address: "203.0.113.7" })).toBe("anonymous, from 203.0.113.7");
    expect(actorLabel({ actor: "session", address: "x" })).toBe("dashboard session");
    expect(actorLabel({ actor: "bearer", address: "x" })).toBe("ADMIN_TOKEN (script)");
  });
});

describe("number formats", () => {
  test("thousands separators and abbreviations with at most three significant figures", () => {
    expect(formatInteger(1234567)).toBe("1,234,567");
    expect(abbreviate(999)).toBe("999");
    expect(abbreviate(1000)).toBe("1k");
    expect(abbreviate(1234)).toBe("1.23k");
    expect(abbreviate(45_678)).toBe("45.7k");
    expect(abbreviate(3_270_000_000)).toBe("3.27B");
    expect(abbreviate(275_400_000)).toBe("275M");
  });

  test("percent with one decimal, a dash when there is nothing to divide", () => {
    expect(formatPercent(1, 3)).toBe("33.3%");
    expect(formatPercent(5, 0)).toBe("–");
  });

  test("a stored UTC time becomes a <time> with an ISO instant the script can localise", () => {
    const cell = timeCell("2026-05-11 03:04:05").text;
    expect(cell).toContain('datetime="2026-05-11T03:04:05Z"');
    expect(cell).toContain("2026-05-11 03:04 UTC");
    expect(timeCell(null, "never").text).toContain("never");
    expect(timeCell("2026-05-11 03:04:05", "", true).text).toContain("data-absolute");
  });
});

describe("ranges", () => {
  const now = Date.parse("2026-11-27T02:47:00Z");

  test("the last N days end today, today included; all time starts before any data", () => {
    expect(rangeStartDay("7", now)).toBe("2026-11-21");
    expect(rangeStartDay("30", now)).toBe("2026-10-29");
    expect(rangeStartDay("all", now) < "1970-01-01").toBe(true);
    expect(rangeStartMs("7", now)).toBe(Date.parse("2026-11-21T00:00:00Z"));
    expect(rangeStartMs("all", now)).toBe(0);
  });

  test("days between a start and now have no gaps, across a month end", () => {
    expect(daysBetween("2026-10-30", now)).toEqual([
      "2026-10-30",
      "2026-10-31",
      ...Array.from({ length: 27 }, (_, i) => `2026-11-${String(i + 1).padStart(2, "0")}`),
    ]);
  });

  test("the range parameter: absent is the default, unknown is refused with the choices", () => {
    expect(parseRange(null, "30")).toEqual({ ok: true, range: "30" });
    expect(parseRange("all", "30")).toEqual({ ok: true, range: "all" });
    const bad = parseRange("365", "30");
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.message).toContain("use 7, 30, 90 or all");
  });
});

describe("form parsing", () => {
  test("a return path stays inside the dashboard", () => {
    expect(safeReturn("/admin/users/a%40b.org?range=7", "/admin/")).toBe("/admin/users/a%40b.org?range=7");
    for (const evil of [
      "https://evil.example/",
      "//evil.example/admin/",
      "/admin\\..",
      "/other",
      undefined,
      "",
    ]) {
      expect(safeReturn(evil, "/admin/")).toBe("/admin/");
    }
  });

  test("a return path is judged as the browser resolves it, so a notice added later cannot lead off-site", () => {
    for (const evil of [
      "/admin/..//evil.example/phish",
      "/admin/%2e%2e//evil.example/phish",
      "/admin/./..//evil.example/",
      "/admin/x/../..//evil.example/",
      "/admin/..",
    ]) {
      expect(`${evil} → ${safeReturn(evil, "/admin/")}`).toBe(`${evil} → /admin/`);
    }
    const kept = safeReturn("/admin/x/../devices?devices.q=a", "/admin/");
    expect(kept).toBe("/admin/devices?devices.q=a");
    expect(withNotice(kept, "revoked")).toBe("/admin/devices?devices.q=a&notice=revoked");
  });

  test("a return path outside Latin-1 comes back percent-encoded, fit for a Location header", () => {
    const back = safeReturn("/admin/users/漢字@example.org?range=7", "/admin/");
    expect(back).toBe("/admin/users/%E6%BC%A2%E5%AD%97@example.org?range=7");
    expect(() => new Headers({ Location: back })).not.toThrow();
    expect(safeReturn("/admin/?q=\u{1F642}", "/admin/")).toBe("/admin/?q=%F0%9F%99%82");
  });

  test("notices are codes added to the query", () => {
    expect(withNotice("/admin/devices?devices.q=x", "device-revoked")).toBe(
      "/admin/devices?devices.q=x&notice=device-revoked",
    );
  });

  test("ids and days are whole numbers or refused", () => {
    expect(parseId("12")).toBe(12);
    expect(parseId("1e3")).toBeNull();
    expect(parseId("-1")).toBeNull();
    expect(parseDays(undefined, 365)).toBe(365);
    expect(parseDays(" 30 ", 365)).toBe(30);
    expect(parseDays("2.5", 365)).toBeNaN();
  });

  test("links keep the query except export; the export link adds it", () => {
    const url = new URL("http://x/admin/?range=7&users.q=eng&export");
    expect(withQuery(url, { range: "90" })).toBe("/admin/?range=90&users.q=eng");
    expect(exportHref(new URL("http://x/admin/devices"))).toBe("/admin/devices?export");
    expect(exportHref(new URL("http://x/admin/?range=7"))).toBe("/admin/?range=7&export");
  });
});

describe("charts", () => {
  test("nice ticks are 1, 2 or 5 × 10^k steps from 0 to at least the maximum", () => {
    expect(niceTicks(95)).toEqual([0, 50, 100]);
    expect(niceTicks(1234)).toEqual([0, 500, 1000, 1500]);
    expect(niceTicks(0)).toEqual([0, 1]);
    const ticks = niceTicks(7_300_000);
    expect(ticks[ticks.length - 1]!).toBeGreaterThanOrEqual(7_300_000);
  });

  test("an all-zero chart says why it is empty instead of drawing", () => {
    const chart = stackedColumns({
      title: "Tokens per day, the last 7 days",
      series: [{ name: "Input", colour: "#000" }],
      columns: [{ label: "2026-11-27", tick: "27 Nov", values: [0] }],
      xLabel: "Day",
      yLabel: "Tokens",
      empty: "No reports in the last 7 days.",
    }).text;
    expect(chart).toContain("No reports in the last 7 days.");
    expect(chart).not.toContain("<svg");
  });

  test("every mark has a <title> with the exact value; axes are labelled; a legend for two series", () => {
    const chart = stackedColumns({
      title: "Tokens per day",
      series: [
        { name: "Input", colour: "#0072B2" },
        { name: "Output", colour: "#D55E00" },
      ],
      columns: [
        { label: "2026-11-26", tick: "26 Nov", values: [1234567, 5] },
        { label: "2026-11-27", tick: "27 Nov", values: [10, 0] },
      ],
      xLabel: "Day (UTC)",
      yLabel: "Tokens",
      empty: "none",
    }).text;
    expect(chart).toContain("<title>2026-11-26 · Input: 1,234,567</title>");
    expect(chart).toContain("<title>2026-11-26 · Output: 5</title>");
    expect(chart).not.toContain("2026-11-27 · Output");
    expect(chart).toContain("Day (UTC)</text>");
    expect(chart).toContain('class="legend"');
    expect(chart).not.toContain("style=");
  });

  test("bar labels are escaped and long ones shortened with the full text in a title", () => {
    const chart = horizontalBars({
      title: "By user",
      series: [{ name: "Tokens", colour: "#999" }],
      rows: [{ label: `${XSS}-a-very-long-name-that-goes-on@example.org`, values: [3] }],
      xLabel: "Tokens",
      empty: "none",
    }).text;
    expect(chart).not.toContain("<img");
    expect(chart).toContain("…");
    expect(chart).toContain(
      "&lt;img src=x onerror=alert(1)&gt;-a-very-long-name-that-goes-on@example.org</title>",
    );
  });

  test("model colours come from the Okabe–Ito palette by slot, wrapping after eight", () => {
    expect(modelColour(0)).toBe(OKABE_ITO[0]!);
    expect(modelColour(9)).toBe(OKABE_ITO[1]!);
    expect(OKABE_ITO).toHaveLength(8);
  });
});

describe("cost figures", () => {
  test("dollars with cents, tiny amounts not shown as $0.00, unpriced said in words", () => {
    expect(formatUsd(1234.5)).toBe("$1,234.50");
    expect(formatUsd(0.001)).toBe("< $0.01");
    expect(formatUsd(0)).toBe("$0.00");
    expect(costText({ usd: 12.3, priced: true, unpricedModels: [] })).toBe("$12.30");
    expect(costText({ usd: 12.3, priced: true, unpricedModels: ["x"] })).toBe("$12.30 + unpriced");
    expect(costText({ usd: 0, priced: false, unpricedModels: ["x"] })).toBe("unpriced");
  });
});

describe("exports", () => {
  test("CSV cells are quoted when needed and formulas from users' machines are defused", () => {
    expect(csvCell("plain")).toBe("plain");
    expect(csvCell('a,"b"')).toBe('"a,""b"""');
    expect(csvCell("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(csvCell("+1,2")).toBe('"\'+1,2"');
    expect(csvCell(-5)).toBe("-5");
    // An unpriced model's cost is an empty cell, never 0.
    expect(csvCell(null)).toBe("");
  });

  test("CSV defuses a formula wherever a spreadsheet may start a cell: after spaces and after any separator", () => {
    // Leading spaces, and each delimiter a spreadsheet may split on (, ; tab | line breaks).
    expect(csvCell(" =1+1")).toBe("' =1+1");
    expect(csvCell("\u00a0@SUM(A1)")).toBe("'\u00a0@SUM(A1)");
    expect(csvCell(";=cmd|' /C calc'!A0")).toBe(`";'=cmd|' /C calc'!A0"`);
    expect(csvCell("model;=1+1")).toBe(`"model;'=1+1"`);
    expect(csvCell("model, -2+3")).toBe(`"model,' -2+3"`);
    expect(csvCell("a|+1")).toBe(`"a|'+1"`);
    expect(csvCell("a\t@x")).toBe(`"a\t'@x"`);
    expect(csvCell("\t=1")).toBe(`"'\t'=1"`);
    expect(csvCell("\r=1")).toBe(`"'\r'=1"`);
    expect(csvCell("a\n=1")).toBe(`"a\n'=1"`);
    // A quote before the formula character is no shield: a spreadsheet may strip it.
    expect(csvCell('"=1')).toBe(`"'""=1"`);
    expect(csvCell('a;"=1')).toBe(`"a;'""=1"`);
    // Whatever the delimiter, no piece of a cell begins (after spaces) with a formula character.
    for (const hostile of [";=1", " ;  =1", "x,=1;+2|@3\t-4", "=;=,=", "a;b", ';"=1', ' "" @1']) {
      const cell = csvCell(hostile);
      for (const piece of cell.split(/[,;|\t\r\n]/))
        expect(`${hostile}: ${piece}`).not.toMatch(/: [ \u00a0"]*[=+\-@]/);
      if (/[,;|\t]/.test(hostile)) expect(cell).toStartWith('"');
    }
    // Ordinary values are left alone.
    expect(csvCell("claude-opus-4-1")).toBe("claude-opus-4-1");
    expect(csvCell("2026-11-27")).toBe("2026-11-27");
    expect(csvCell("jsmith@example.org")).toBe("jsmith@example.org");
  });

  function rows(n: number): UsageExportRow[] {
    return Array.from({ length: n }, (_, i) => ({
      day: "2026-11-27",
      email: `u${String(i).padStart(5, "0")}@example.org`,
      division: null,
      model: "m",
      input_tokens: i,
      output_tokens: 0,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      cache_write_5m_tokens: 0,
      cache_write_1h_tokens: 0,
      requests: 0,
      turns: 1,
      cost_usd: null,
    }));
  }

  /** A fake page source over `all`, recording the keys it was asked to continue after. */
  function pages(all: UsageExportRow[]) {
    const asked: string[] = [];
    return {
      asked,
      fetch: (after: { day: string; email: string; model: string }, limit: number) => {
        asked.push(after.email);
        return all.filter((r) => r.email > after.email).slice(0, limit);
      },
    };
  }

  test("JSON streams page by page into one valid array, continuing after the last key", async () => {
    const all = rows(12_345);
    const source = pages(all);
    const parsed = (await new Response(usageStream("json", source.fetch)).json()) as UsageExportRow[];
    expect(parsed).toEqual(all);
    expect(source.asked).toEqual(["", all[4999]!.email, all[9999]!.email]);
  });

  test("an empty range is an empty JSON array and a CSV with only the header", async () => {
    expect(await new Response(usageStream("json", () => [])).json()).toEqual([]);
    expect(await new Response(usageStream("csv", () => [])).text()).toBe(
      "day,email,division,model,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,cache_write_5m_tokens,cache_write_1h_tokens,requests,turns,cost_usd\r\n",
    );
  });

  test("CSV has one line per row after the header", async () => {
    const text = await new Response(usageStream("csv", pages(rows(5001)).fetch)).text();
    const lines = text.trimEnd().split("\r\n");
    expect(lines).toHaveLength(5002);
    expect(lines[1]).toBe("2026-11-27,u00000@example.org,,m,0,0,0,0,0,0,0,1,");
  });
});

test("the demo generator's randomness is the same for the same seed and differs across seeds", () => {
  const a = seededRandom(7);
  const b = seededRandom(7);
  const c = seededRandom(8);
  const first = Array.from({ length: 5 }, a);
  expect(Array.from({ length: 5 }, b)).toEqual(first);
  expect(Array.from({ length: 5 }, c)).not.toEqual(first);
  for (const value of first) expect(value >= 0 && value < 1).toBe(true);
});

describe("server-side tables", () => {
  const rows = Array.from({ length: 120 }, (_, i) => ({
    email: `p${String(i).padStart(3, "0")}@x.org`,
    billed: i % 7,
  }));
  const state = (query: string) =>
    tableState(new URL(`http://x/admin/?${query}`), "people", ["person", "billed"], "billed");
  const run = (query: string) =>
    pageRows(
      rows,
      state(query),
      (r) => (state(query).sort === "person" ? r.email : r.billed),
      (r) => r.email,
      (r) => r.email,
    );

  test("50 rows a page, sorted by the default column, ties broken by the first column", () => {
    const first = run("");
    expect(first).toMatchObject({ total: 120, page: 1, pages: 3, problems: [] });
    expect(first.rows).toHaveLength(50);
    expect(first.rows[0]).toEqual({ email: "p006@x.org", billed: 6 });
    expect(run("people.page=3").rows).toHaveLength(20);
    expect(run("people.sort=person&people.dir=asc").rows[0]?.email).toBe("p000@x.org");
  });

  test("a page past the end shows the last page; a bad page or sort is corrected with a note", () => {
    const past = run("people.page=99");
    expect(past.page).toBe(3);
    expect(past.problems).toEqual(["Page 99 is past the end; showing page 3, the last."]);
    expect(run("people.page=-1").problems[0]).toContain("is not a page number; showing page 1");
    expect(state("people.sort=evil").problems[0]).toContain("people.sort=evil is not a column");
    expect(state("people.sort=evil").sort).toBe("billed");
  });

  test("search is plain text in any case: patterns and markup match only themselves", () => {
    expect(run("people.q=P11").total).toBe(10);
    expect(run("people.q=%25").total).toBe(0);
    expect(run(`people.q=${encodeURIComponent("<script>")}`).total).toBe(0);
    expect(run(`people.q=${"a".repeat(500)}`).problems[0]).toContain("cut to its first 200 characters");
  });
});
