// A CSV of people to provision in one go (dashboard and `users import`): `email,division,days`,
// a header line optional, division and days optional. Pure: text in, rows or problems out; the
// caller issues the tokens in one transaction, so a file with any problem adds nobody.
import { csvCell } from "../admin/export.ts";
import {
  DEFAULT_TOKEN_DAYS,
  type IssuedToken,
  normaliseEmail,
  provisioningProblem,
  type TokenService,
} from "./service.ts";

export const MAX_IMPORT_ROWS = 10_000;

export interface ImportRow {
  /** 1-based line in the file, for messages. */
  line: number;
  email: string;
  division: string | null;
  days: number;
}

export interface ImportPlan {
  rows: ImportRow[];
  /** "line 4: …", one per refused line; when any, nothing is imported. */
  problems: string[];
}

/** One CSV line's cells: commas separate, double quotes quote ("" is a quote inside). */
function cells(line: string): string[] | null {
  const out: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell.trim() === "") {
      quoted = true;
      cell = "";
    } else if (c === ",") {
      out.push(cell);
      cell = "";
    } else cell += c;
  }
  if (quoted) return null;
  out.push(cell);
  return out.map((c) => c.trim());
}

export function planImport(text: string, defaultDays = DEFAULT_TOKEN_DAYS): ImportPlan {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const rows: ImportRow[] = [];
  const problems: string[] = [];
  const seen = new Map<string, number>();
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    const parts = cells(raw);
    if (parts === null) {
      problems.push(`line ${line}: a quote is not closed`);
      return;
    }
    if (index === 0 && parts[0]?.toLowerCase() === "email") return; // the header
    if (parts.length > 3) {
      problems.push(`line ${line}: expected email,division,days (3 cells at most), found ${parts.length}`);
      return;
    }
    const [rawEmail = "", rawDivision = "", rawDays = ""] = parts;
    const email = normaliseEmail(rawEmail);
    const division = rawDivision === "" ? null : rawDivision;
    const days = rawDays === "" ? defaultDays : /^\d{1,6}$/.test(rawDays) ? Number(rawDays) : Number.NaN;
    const problem = provisioningProblem(email, division, days);
    if (problem) {
      problems.push(`line ${line}: ${problem}`);
      return;
    }
    const first = seen.get(email);
    if (first !== undefined) {
      problems.push(`line ${line}: ${email} is already on line ${first}`);
      return;
    }
    seen.set(email, line);
    rows.push({ line, email, division, days });
  });
  if (rows.length + problems.length === 0)
    problems.push("the file holds no people: one email,division,days a line");
  if (rows.length > MAX_IMPORT_ROWS) {
    problems.push(`${rows.length} people is more than ${MAX_IMPORT_ROWS} at once; split the file`);
  }
  return { rows, problems };
}

export interface ImportResult {
  issued: (IssuedToken & { division: string | null })[];
  /** People who already hold an active token: left as they are (reissue them instead). */
  skipped: string[];
}

/** Issues a token to everyone in the plan who has no active one; the caller holds the transaction. */
export function importPeople(tokens: TokenService, rows: readonly ImportRow[], now: number): ImportResult {
  const result: ImportResult = { issued: [], skipped: [] };
  for (const row of rows) {
    if (tokens.active(row.email).length > 0) result.skipped.push(row.email);
    else
      result.issued.push({ ...tokens.issue(row.email, row.division, row.days, now), division: row.division });
  }
  return result;
}

/** The new tokens as CSV, each shown this once: what to hand to each person. */
export function issuedCsv(issued: ImportResult["issued"], reportUrl: string | null): string {
  return `email,division,expires_at,refresh_token,report_url\r\n${issued
    .map((t) => [t.email, t.division ?? "", t.expiresAt, t.token, reportUrl ?? ""].map(csvCell).join(","))
    .join("\r\n")}\r\n`;
}
