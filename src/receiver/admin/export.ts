// GET /admin/api/usage.csv and .json: one row per user, day and model, streamed page by page
// (keyset pagination, a fresh query per page), so memory stays flat on any range.
import { EXPORT_COLUMNS, type UsageExportRow } from "../analytics/usage-export.ts";

const PAGE_ROWS = 5000;

export type ExportFormat = "csv" | "json";

// Text from users' machines (a model name) must never become a formula in a spreadsheet (OWASP,
// CSV injection). A spreadsheet reads a formula where a cell starts with = + - @ tab or CR, also
// after leading spaces or a quote it strips, and it may split a cell on any of , ; tab | or a line
// break (whatever delimiter its locale or the import dialog picks, some ignoring quotes). So every
// place a cell could start, the start of the text and each such separator, gets an apostrophe
// before a formula character; and a cell holding any separator or quote is quoted.
const FORMULA_AFTER_SEPARATOR = /([,;|\t\r\n])(?=[ \u00a0"]*[=+\-@\t\r])/g;
const FORMULA_AT_START = /^[ \u00a0"]*[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",;|\t\r\n]/;

export function csvCell(value: string | number | null): string {
  if (value === null) return "";
  if (typeof value === "number") return String(value);
  const inner = value.replace(FORMULA_AFTER_SEPARATOR, "$1'");
  const text = FORMULA_AT_START.test(inner) ? `'${inner}` : inner;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(row: UsageExportRow): string {
  return `${EXPORT_COLUMNS.map((column) => csvCell(row[column])).join(",")}\r\n`;
}

export type FetchPage = (
  after: { day: string; email: string; model: string },
  limit: number,
) => UsageExportRow[];

/** The export as a byte stream; each pull reads one page. */
export function usageStream(format: ExportFormat, fetchPage: FetchPage): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let after = { day: "", email: "", model: "" };
  let first = true;
  let done = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (done) return;
      let text = "";
      if (first) text += format === "csv" ? `${EXPORT_COLUMNS.join(",")}\r\n` : "[";
      const rows = fetchPage(after, PAGE_ROWS);
      for (const row of rows) {
        if (format === "csv") text += csvLine(row);
        else text += `${first ? "\n" : ",\n"}${JSON.stringify(row)}`;
        first = false;
      }
      first = false;
      const last = rows[rows.length - 1];
      if (last) after = { day: last.day, email: last.email, model: last.model };
      if (rows.length < PAGE_ROWS) {
        if (format === "json") text += "\n]\n";
        done = true;
      }
      controller.enqueue(encoder.encode(text));
      if (done) controller.close();
    },
  });
}
