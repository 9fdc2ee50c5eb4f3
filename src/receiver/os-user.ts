// Who is running this process, for messages and the audit log.
import { readFileSync } from "node:fs";

/** The account name of `uid` (os.userInfo() needs a HOME, which a service may not have). */
export function userName(uid: number): string {
  try {
    const line = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .find((entry) => entry.split(":")[2] === String(uid));
    return line?.split(":")[0] || String(uid);
  } catch {
    return String(uid);
  }
}

/** This process's account name. */
export function currentUser(): string {
  return userName(process.getuid?.() ?? -1);
}
