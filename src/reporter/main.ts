// ccflux: the reporter binary that Claude Code's hooks run (see docs/user-setup.md).

import { VERSION } from "../protocol/version.ts";
import { BACKFILL_DEFAULT_DAYS, BACKFILL_MAX_DAYS, runBackfill } from "./backfill.ts";
import { doctor, status } from "./commands.ts";
import { type Env, statePaths } from "./files.ts";
import { runHook } from "./hook.ts";
import { logger } from "./log.ts";
import { runSender } from "./sender.ts";

const USAGE = `ccflux ${VERSION}: reports Claude Code token usage to your organisation's ccflux receiver.

usage:
  ccflux hook <event>   what the plugin's hooks run (hook JSON on stdin); prints nothing, exits 0
  ccflux send           send the queued reports now (the hooks start this in the background)
  ccflux status         configuration, device key, queued reports, last success and error
  ccflux doctor         check the receiver, the token and the key registration, and say what to fix
  ccflux backfill [--days N]
                        also report the sessions of the last N days (default 30, at most 365) from
                        before the plugin was installed; nothing already reported is sent again
  ccflux --version
`;

const env: Env = process.env;

/** `--days N` (or `--days=N`), BACKFILL_DEFAULT_DAYS without; null when it is not a day count. */
function backfillDays(options: string[]): number | null {
  if (options.length === 0) return BACKFILL_DEFAULT_DAYS;
  const value = options[0]?.startsWith("--days=")
    ? options[0].slice(7)
    : options[0] === "--days"
      ? options[1]
      : "";
  const extra = options[0]?.startsWith("--days=") ? options.length > 1 : options.length > 2;
  const days = /^\d{1,3}$/.test(value ?? "") ? Number(value) : 0;
  return !extra && days >= 1 && days <= BACKFILL_MAX_DAYS ? days : null;
}
const [command, ...args] = process.argv.slice(2);

async function hook(event: string): Promise<void> {
  try {
    runHook(event, await Bun.stdin.text(), env);
  } catch (error) {
    // A hook must never disturb Claude Code: the failure goes to errors.log, the exit status stays 0.
    const code = (error as NodeJS.ErrnoException)?.code ?? (error as Error)?.name ?? "unknown";
    logger(statePaths(env)).error("hook failed; its turn will be counted by the next hook", { event, code });
  }
  process.exit(0);
}

switch (command) {
  case "hook":
    await hook(args[0] ?? "");
    break;
  case "send":
    try {
      await runSender(env);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException)?.code ?? (error as Error)?.name ?? "unknown";
      logger(statePaths(env)).error("sender failed; the next hook starts it again", { code });
    }
    break;
  case "status":
    console.log(status(env).join("\n"));
    break;
  case "doctor": {
    const result = await doctor(env);
    console.log(result.lines.join("\n"));
    process.exit(result.ok ? 0 : 1);
    break;
  }
  case "backfill": {
    const days = backfillDays(args);
    if (days === null) {
      console.error(`ccflux backfill: --days takes a whole number from 1 to ${BACKFILL_MAX_DAYS}`);
      process.exit(2);
    }
    const result = runBackfill(env, days);
    if (!result.ok) {
      console.error(`ccflux backfill: ${result.message}`);
      process.exit(1);
    }
    console.log(
      `queued ${result.reports} reports from ${result.sessions} sessions of the last ${days} days; they are sent in the background (ccflux status shows the outbox)`,
    );
    break;
  }
  case "--version":
  case "version":
    console.log(VERSION);
    break;
  case "--help":
  case "help":
    console.log(USAGE);
    break;
  default:
    console.error(USAGE);
    process.exit(2);
}
