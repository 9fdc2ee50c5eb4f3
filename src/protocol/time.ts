// RFC 3339 instants on the wire; SQLite's `YYYY-MM-DD HH:MM:SS` (UTC) in the database.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch, or null when the text is not a valid RFC 3339 instant. */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [, , mo, d, h, mi, s] = m.map(Number) as number[];
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || s! > 60) return null;
  const ms = Date.parse(text.replace(" ", "T"));
  if (Number.isNaN(ms)) return null;
  // Date.parse rolls 2026-02-31 over to March; refuse it instead.
  const offsetMs = offsetMinutes(m[8]!) * 60_000;
  const local = new Date(ms + offsetMs);
  if (local.getUTCDate() !== d || local.getUTCMonth() + 1 !== mo) return null;
  return ms;
}

function offsetMinutes(zone: string): number {
  if (zone === "Z" || zone === "z") return 0;
  const sign = zone.startsWith("-") ? -1 : 1;
  return sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
}

/** `2026-05-11T03:00:00Z`: whole seconds, UTC, as the signed timestamp header wants. */
export function toRfc3339(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** `2026-05-11 03:00:00`: SQLite's datetime() form, so hand-written SQL compares it correctly. */
export function toSqlTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

/** Reads a time the database holds (ours, or one an admin typed) back into milliseconds. */
export function fromSqlTime(text: string): number {
  const iso = text.includes("T") ? text : text.replace(" ", "T");
  return Date.parse(/[Zz]|[+-]\d{2}:\d{2}$/.test(iso) ? iso : `${iso}Z`);
}
