// ccflux-receiver: serve (no arguments), or administer the database (users, devices, backup).
import { VERSION } from "../protocol/version.ts";
import { backupCommand, devicesCommand, usersCommand } from "./cli/admin.ts";
import { CommandError, UsageError } from "./cli/command.ts";
import { demoDataCommand } from "./cli/demo-data.ts";
import { CONFIG_VARIABLES, ConfigError, loadConfig } from "./config.ts";
import { DatabaseSetupError, SchemaTooNewError } from "./db/database.ts";
import { EXIT_STATUS } from "./exit-status.ts";
import { PortInUseError, startReceiver } from "./server.ts";

const HELP = `ccflux-receiver ${VERSION}: receives Claude Code token reports and serves the admin dashboard.

Usage:
  ccflux-receiver                 serve (configured by environment variables, below)
  ccflux-receiver users ...       add, list and revoke users' refresh tokens
  ccflux-receiver devices ...     list and revoke device keys, and let a revoked device back
  ccflux-receiver backup FILE     consistent copy of the database, safe while serving
  ccflux-receiver demo-data ...   fill an empty database with realistic demo usage
  ccflux-receiver --version | --help
Each command takes --help.

Environment:
${CONFIG_VARIABLES.map((v) => `  ${v.name.padEnd(30)} ${v.help} (default: ${v.fallback || "unset"})`).join("\n")}
`;

const COMMANDS: Record<string, typeof usersCommand> = {
  users: usersCommand,
  devices: devicesCommand,
  backup: backupCommand,
  "demo-data": demoDataCommand,
};

function fail(message: string, code: number): never {
  console.error(`ccflux-receiver: ${message}`);
  process.exit(code);
}

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  if (command === "--version" || command === "version") return console.log(`ccflux-receiver ${VERSION}`);
  if (command === "--help" || command === "-h" || command === "help") return console.log(HELP);
  if (command !== undefined && !(command in COMMANDS)) {
    fail(`unknown command "${command}"; run ccflux-receiver --help`, EXIT_STATUS.usage);
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, EXIT_STATUS.usage);
    throw error;
  }
  try {
    if (command !== undefined) {
      return COMMANDS[command]!(
        config,
        rest,
        (line) => console.log(line),
        (line) => console.error(`ccflux-receiver: ${line}`),
      );
    }
    // Handlers go in first: systemd may send SIGTERM the moment we say we are listening.
    let receiver: ReturnType<typeof startReceiver> | undefined;
    const onSignal = () => (receiver ? receiver.stop() : Promise.resolve()).then(() => process.exit(0));
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    receiver = startReceiver(config);
  } catch (error) {
    if (error instanceof UsageError) fail(error.message, EXIT_STATUS.usage);
    if (error instanceof SchemaTooNewError) fail(error.message, EXIT_STATUS.schemaTooNew);
    if (
      error instanceof CommandError ||
      error instanceof DatabaseSetupError ||
      error instanceof PortInUseError
    )
      fail(error.message, EXIT_STATUS.failure);
    throw error;
  }
}

await main(process.argv.slice(2));
