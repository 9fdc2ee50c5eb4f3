// GET /admin/api/usage.csv and .json: one row per user, day and model, streamed page by page
// (keyset pagination, a fresh query per page), so memory stays flat on any range.
import { EXPORT_COLUMNS, type UsageExportRow } from "../analytics/usage-export.ts";

const PAGE_ROWS = 5000;

export type ExportFormat = "csv" | "json";

// A cell starting with one of these is a formula to a spreadsheet; a model name comes from a
// user's machine, so it is defused with a leading apostrophe.
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: string | number | null): string {
  if (value === null) return "";
  if (typeof value === "number") return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
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
