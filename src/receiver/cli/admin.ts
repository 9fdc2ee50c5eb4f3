// `ccflux-receiver users|devices|backup`: administration of the database from the same binary,
// for servers without sqlite3. Safe beside a running receiver (SQLite's WAL and busy timeout).
// Every change is written to the audit log with who ran it and where (command.ts).
import { readFileSync, unlinkSync } from "node:fs";
import type { ParseArgsOptionsConfig } from "node:util";
import type { Config } from "../config.ts";
import { createPrivateFile, type Database } from "../db/database.ts";
import { createKeyService, type DeviceKeyRow, type KeyService } from "../keys/service.ts";
import { importPeople, issuedCsv, planImport } from "../tokens/import.ts";
import {
  createTokenService,
  DEFAULT_TOKEN_DAYS,
  daysProblem,
  type IssuedToken,
  normaliseEmail,
  provisioningProblem,
  type TokenService,
} from "../tokens/service.ts";
import {
  auditCommand,
  CommandError,
  type Out,
  type Plan,
  table,
  UsageError,
  withDatabase,
} from "./command.ts";

export const ADMIN_HELP = {
  users: `Usage:
  ccflux-receiver users add EMAIL [--division D] [--days N] [--replace]
                                   issue a refresh token (printed once); --replace revokes
                                   the person's other active tokens in the same step
  ccflux-receiver users import FILE [--days N]
                                   provision everyone in a CSV (email,division,days; a header
                                   line optional; FILE - reads standard input): prints
                                   email,division,expires_at,refresh_token,report_url once;
                                   people who already hold an active token are left as they are
  ccflux-receiver users list [--json]    list refresh tokens (never the tokens)
  ccflux-receiver users revoke EMAIL     revoke every active token of EMAIL

Emails are kept trimmed and lower-case. The database is DATABASE_PATH (default ccflux.db).
--days defaults to ${DEFAULT_TOKEN_DAYS}.`,
  devices: `Usage:
  ccflux-receiver devices list [EMAIL] [--json]   list device keys, of everyone or of EMAIL
  ccflux-receiver devices revoke PUBLIC_KEY [--reissue [--days N]]
                                   revoke one device key: that device (its device id) cannot
                                   register a new key until allowed; the user's other devices
                                   keep working. --reissue also revokes the person's refresh
                                   tokens and prints a new one (the lost device may hold the token)
  ccflux-receiver devices allow PUBLIC_KEY        let the device of that revoked key register a new key`,
  backup: `Usage:
  ccflux-receiver backup FILE   write a consistent copy of the database to FILE (safe while serving)`,
};

function days(raw: string | boolean | undefined, help: string): number {
  const value = raw === undefined ? DEFAULT_TOKEN_DAYS : Number(raw);
  const problem = daysProblem(value);
  if (problem) throw new UsageError(`${problem}\n\n${help}`);
  return value;
}

/** The token block `users add` and `devices revoke --reissue` print: once, with the endpoint. */
function printToken(config: Config, issued: IssuedToken, out: Out): void {
  out(`Refresh token for ${issued.email} (shown once; it expires ${issued.expiresAt} UTC unless used):`);
  out(issued.token);
  if (config.baseUrl) out(`Report endpoint: ${config.baseUrl}/report`);
  else out("Report endpoint: set BASE_URL to print it here (your public receiver URL + /report).");
}

function addUser(
  config: Config,
  db: Database,
  request: { email: string; division: string | null; days: number; replace: boolean },
  io: { out: Out; note: Out },
): void {
  const tokens = createTokenService(db, config);
  const { issued, revoked } = db.transaction(() => {
    const others = tokens.active(request.email).length;
    const result = request.replace
      ? tokens.replace(request.email, request.division, request.days, Date.now())
      : { issued: tokens.issue(request.email, request.division, request.days, Date.now()), revoked: 0 };
    auditCommand(db, "provision", result.issued.email, `token #${result.issued.id}, ${request.days} days`);
    if (result.revoked)
      auditCommand(db, "revoke", result.issued.email, `${result.revoked} replaced by #${result.issued.id}`);
    if (!request.replace && others > 0) {
      io.note(
        `warning: ${result.issued.email} already has ${others} active refresh token${others === 1 ? "" : "s"}; both work now (to replace ${others === 1 ? "it" : "them"} instead, add --replace)`,
      );
    }
    return result;
  })();
  printToken(config, issued, io.out);
  if (revoked)
    io.out(
      `Revoked the ${revoked} other active refresh token${revoked === 1 ? "" : "s"} of ${issued.email}.`,
    );
}

export function usersCommand(config: Config, args: string[], out: Out, note: Out): void {
  const help = ADMIN_HELP.users;
  const options: ParseArgsOptionsConfig = {
    division: { type: "string" },
    days: { type: "string" },
    json: { type: "boolean" },
    replace: { type: "boolean" },
  };
  withDatabase(config, args, options, help, { out, note }, ({ values, positionals }): Plan => {
    const [action, rawEmail, ...extra] = positionals;
    if (extra.length || !action) throw new UsageError(help);
    const email = rawEmail === undefined ? undefined : normaliseEmail(rawEmail);
    if (action === "add" && email !== undefined) {
      const division = (values.division as string | undefined) ?? null;
      const period = values.days === undefined ? DEFAULT_TOKEN_DAYS : Number(values.days);
      const problem = provisioningProblem(email, division, period);
      if (problem) throw new UsageError(`users add: ${problem}`);
      const request = { email, division, days: period, replace: values.replace === true };
      return { access: "create", run: (db) => addUser(config, db, request, { out, note }) };
    }
    if (action === "import" && rawEmail !== undefined) {
      const file = rawEmail;
      const text = readImportFile(file);
      const plan = planImport(text, days(values.days, help));
      if (plan.problems.length > 0) {
        throw new CommandError(
          `users import: ${file} was not imported, nobody was added:\n${plan.problems.map((p) => `  ${p}`).join("\n")}`,
        );
      }
      return {
        access: "create",
        run(db) {
          const result = db.transaction(() => {
            const done = importPeople(createTokenService(db, config), plan.rows, Date.now());
            for (const t of done.issued)
              auditCommand(db, "provision", t.email, `token #${t.id}, import of ${file}`);
            return done;
          })();
          out(issuedCsv(result.issued, config.baseUrl ? `${config.baseUrl}/report` : null).trimEnd());
          note(
            `${result.issued.length ? `Added ${result.issued.length} of ${plan.rows.length} people from ${file}; their tokens are above, shown once.` : `Added nobody from ${file}.`}${
              result.skipped.length
                ? ` Left as they were (an active token already): ${result.skipped.join(", ")}.`
                : ""
            }`,
          );
        },
      };
    }
    if (action === "list" && email === undefined) {
      return {
        access: "read",
        run: (db) => listUsers(createTokenService(db, config), values.json === true, out),
      };
    }
    if (action === "revoke" && email !== undefined) {
      return {
        access: "write",
        run(db) {
          const n = db.transaction(() => {
            const revoked = createTokenService(db, config).revokeEmail(email);
            if (revoked) auditCommand(db, "revoke", email, `${revoked} token${revoked === 1 ? "" : "s"}`);
            return revoked;
          })();
          if (!n)
            throw new CommandError(
              `users revoke: ${email} has no active refresh token (see: ccflux-receiver users list)`,
            );
          out(
            `Revoked ${n} refresh token${n === 1 ? "" : "s"} of ${email}; their devices stop reporting on the next turn.`,
          );
        },
      };
    }
    throw new UsageError(help);
  });
}

/** The import file's text, or standard input for `-`; a file that cannot be read says why. */
function readImportFile(file: string): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    throw new CommandError(
      `users import: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a CSV file of email,division,days lines`,
    );
  }
}

function listUsers(tokens: TokenService, json: boolean, out: Out): void {
  const rows = tokens.list();
  if (json) {
    out(JSON.stringify(rows.map(({ revoked: _, ...row }) => row)));
    return;
  }
  if (!rows.length) {
    out("No refresh tokens yet. Add one with: ccflux-receiver users add EMAIL");
    return;
  }
  out(
    table([
      ["ID", "EMAIL", "DIVISION", "STATUS", "EXPIRES (UTC)", "LAST USED (UTC)"],
      ...rows.map((r) => [
        String(r.id),
        r.email,
        r.division ?? "",
        r.status,
        r.expires_at,
        r.last_used_at ?? "never",
      ]),
    ]),
  );
}

function deviceStatus(row: DeviceKeyRow): string {
  if (!row.revoked) return "active";
  return row.released_at ? "revoked (new key allowed)" : "revoked";
}

function listDevices(keys: KeyService, email: string | undefined, json: boolean, out: Out): void {
  const rows = keys.list(email);
  if (json) {
    out(JSON.stringify(rows.map((r) => ({ ...r, revoked: r.revoked !== 0 }))));
    return;
  }
  if (!rows.length) {
    out(email ? `No device keys for ${email}.` : "No device keys registered yet.");
    return;
  }
  out(
    table([
      ["PUBLIC KEY", "EMAIL", "DEVICE", "STATUS", "REGISTERED (UTC)", "LAST SEEN (UTC)"],
      ...rows.map((r) => [
        r.public_key,
        r.email,
        r.device_id ?? "",
        deviceStatus(r),
        r.registered_at ?? "",
        r.last_seen_at ?? "never",
      ]),
    ]),
  );
}

/** Revokes the key (and with `reissue` the person's tokens, printing the new one). */
function revokeDevice(
  config: Config,
  db: Database,
  publicKey: string,
  reissue: number | null,
  out: Out,
): void {
  const keys = createKeyService(db);
  const tokens = createTokenService(db, config);
  const issued = db.transaction((): IssuedToken | null => {
    const key = keys.find(publicKey);
    if (!key || !keys.revoke(publicKey)) {
      throw new CommandError(
        `devices revoke: no active device key ${publicKey} (see: ccflux-receiver devices list)`,
      );
    }
    auditCommand(db, "device-revoke", key.email, `device "${key.deviceId}" key ${publicKey}`);
    if (reissue === null) return null;
    const replaced = tokens.replace(key.email, undefined, reissue, Date.now());
    auditCommand(
      db,
      "reissue",
      key.email,
      `${replaced.revoked} revoked → #${replaced.issued.id}, ${reissue} days`,
    );
    return replaced.issued;
  })();
  out(
    "Revoked; that device stops reporting on its next turn and cannot register a new key until allowed (devices allow). The user's other devices keep working.",
  );
  if (issued) {
    out("The person's refresh tokens are revoked too: give them this one for their other devices.");
    printToken(config, issued, out);
  }
}

export function devicesCommand(config: Config, args: string[], out: Out, note: Out): void {
  const help = ADMIN_HELP.devices;
  const options: ParseArgsOptionsConfig = {
    json: { type: "boolean" },
    reissue: { type: "boolean" },
    days: { type: "string" },
  };
  withDatabase(config, args, options, help, { out, note }, ({ values, positionals }): Plan => {
    const [action, arg, ...extra] = positionals;
    if (extra.length || !action) throw new UsageError(help);
    if (action === "list") {
      const email = arg === undefined ? undefined : normaliseEmail(arg);
      return {
        access: "read",
        run: (db) => listDevices(createKeyService(db), email, values.json === true, out),
      };
    }
    if (action === "revoke" && arg) {
      const reissue = values.reissue ? days(values.days, help) : null;
      return { access: "write", run: (db) => revokeDevice(config, db, arg, reissue, out) };
    }
    if (action === "allow" && arg) {
      return {
        access: "write",
        run(db) {
          const keys = createKeyService(db);
          const key = keys.find(arg);
          const allowed = db.transaction(() => {
            if (!key || !keys.allow(arg, Date.now())) return false;
            auditCommand(db, "device-allow", key.email, `device "${key.deviceId}" key ${arg}`);
            return true;
          })();
          if (!allowed)
            throw new CommandError(
              `devices allow: ${arg} is not a revoked device key whose device is still kept out (see: ccflux-receiver devices list)`,
            );
          out(
            `${key!.email}'s device "${key!.deviceId}" may register a new key; it does so on its next turn.`,
          );
        },
      };
    }
    throw new UsageError(help);
  });
}

export function backupCommand(config: Config, args: string[], out: Out, note: Out): void {
  const help = ADMIN_HELP.backup;
  withDatabase(config, args, {}, help, { out, note }, ({ positionals }): Plan => {
    const [file, ...extra] = positionals;
    if (!file || extra.length) throw new UsageError(help);
    return {
      access: "read",
      run(db) {
        // The copy holds every refresh token: it is made 0600 before a byte is written to it,
        // and made with "wx", which also refuses to overwrite an existing file.
        let created: boolean;
        try {
          created = createPrivateFile(file);
        } catch (error) {
          throw new CommandError(`backup: cannot write ${file} (${(error as NodeJS.ErrnoException).code})`);
        }
        if (!created) throw new CommandError(`backup: ${file} already exists; choose a new file name`);
        try {
          // VACUUM INTO reads one snapshot, so the copy is consistent while the receiver writes.
          db.run("VACUUM INTO ?", [file]);
        } catch (error) {
          unlinkSync(file);
          throw new CommandError(`backup: cannot write ${file} (${(error as Error).message})`);
        }
        out(`Backed up ${config.databasePath} to ${file}.`);
      },
    };
  });
}
