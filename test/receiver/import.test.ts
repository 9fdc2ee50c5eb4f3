// Bulk provisioning from a CSV: the plan (pure) and the issuing, on a real SQLite file.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/receiver/config.ts";
import { openDatabase } from "../../src/receiver/db/database.ts";
import { importPeople, issuedCsv, planImport } from "../../src/receiver/tokens/import.ts";
import { createTokenService } from "../../src/receiver/tokens/service.ts";

const dir = mkdtempSync(join(tmpdir(), "ccflux-import-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("planImport", () => {
  test("a header is optional; division and days are optional; emails are normalised", () => {
    const plan = planImport(
      '\uFEFFemail,division,days\r\n Anna@Example.org ,eng,30\r\nbob@example.org\r\n"cy, the third@x.org"\n\n"dee@x.org","a ""quoted"" team",7\n',
      365,
    );
    expect(plan.problems).toEqual([
      'line 4: "cy, the third@x.org" is not an email address such as jsmith@example.org',
    ]);
    expect(planImport("anna@example.org,eng,30\nbob@example.org", 365)).toEqual({
      rows: [
        { line: 1, email: "anna@example.org", division: "eng", days: 30 },
        { line: 2, email: "bob@example.org", division: null, days: 365 },
      ],
      problems: [],
    });
    expect(planImport('"dee@x.org","a ""quoted"" team",7').rows[0]).toEqual({
      line: 1,
      email: "dee@x.org",
      division: 'a "quoted" team',
      days: 7,
    });
  });

  test("an email with a control or invisible character is refused: it would look like another person", () => {
    const plan = planImport(
      "anna@example.org\u0000\nbob\u200b@example.org\nc\u202e@example.org\ndee@example.org\ud800",
    );
    expect(plan.rows).toEqual([]);
    expect(plan.problems).toHaveLength(4);
    for (const problem of plan.problems) expect(problem).toContain("control or invisible character");
  });

  test("every problem is named by its line: bad emails, days, divisions, quotes, duplicates, extra cells", () => {
    const plan = planImport(
      [
        "a@x.org,,0",
        "b@x.org,eng,many",
        `c@x.org,${"d".repeat(65)}`,
        'd@x.org,"open',
        "A@x.org",
        "e@x.org,1,2,3",
      ].join("\n"),
    );
    expect(plan.problems).toEqual([
      "line 1: days must be a whole number from 1 to 36500",
      "line 2: days must be a whole number from 1 to 36500",
      "line 3: the division must be at most 64 characters",
      "line 4: a quote is not closed",
      "line 6: expected email,division,days (3 cells at most), found 4",
    ]);
    expect(planImport("a@x.org\nb@x.org\n A@X.org ").problems).toEqual([
      "line 3: a@x.org is already on line 1",
    ]);
    expect(planImport("\n\n").problems).toEqual(["the file holds no people: one email,division,days a line"]);
  });
});

describe("importPeople", () => {
  test("issues a token to each new person, leaves those with an active token, and lists the tokens once", () => {
    const path = join(dir, "import.db");
    const config = loadConfig({ DATABASE_PATH: path });
    const db = openDatabase(path);
    const tokens = createTokenService(db, config);
    tokens.issue("held@x.org", null, 30, Date.now());
    const plan = planImport("new@x.org,=HYPERLINK(1),10\nheld@x.org\n");
    const result = db.transaction(() => importPeople(tokens, plan.rows, Date.now()))();
    expect(result.skipped).toEqual(["held@x.org"]);
    expect(result.issued.map((t) => [t.email, t.division])).toEqual([["new@x.org", "=HYPERLINK(1)"]]);
    expect(tokens.active("new@x.org")).toHaveLength(1);
    const csv = issuedCsv(result.issued, "https://c.example.org/report").split("\r\n");
    expect(csv[0]).toBe("email,division,expires_at,refresh_token,report_url");
    // A division that a spreadsheet would run as a formula is defused.
    expect(csv[1]).toStartWith("new@x.org,'=HYPERLINK(1),");
    expect(csv[1]).toContain(`,${result.issued[0]!.token},https://c.example.org/report`);
    db.close();
  });
});
