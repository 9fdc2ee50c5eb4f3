// The sender's delivery numbers and journal against a fake receiver that answers delivery_held by
// the receiver's own rule: numbers without gaps, kept across retries and sender processes; a
// receiver that says it lost deliveries gets exactly the journaled ones above its answer again.
import { afterEach, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { statePaths } from "../../src/reporter/files.ts";
import { Journal } from "../../src/reporter/journal.ts";
import { readSenderStatus, runSender } from "../../src/reporter/sender.ts";
import { FakeReceiver } from "./fake-receiver.ts";
import { assistant, jsonl } from "./helpers.ts";
import { type FakeHome, fakeHome } from "./session.ts";

let home: FakeHome;
let receiver: FakeReceiver;
afterEach(() => {
  receiver?.stop();
  home?.remove();
});

function setup(env: Record<string, string> = {}): void {
  receiver = new FakeReceiver();
  home = fakeHome({
    CLAUDE_PLUGIN_OPTION_API_ENDPOINT: `${receiver.url}/report`,
    CCFLUX_ALLOW_HTTP: "1",
    CCFLUX_BACKOFF_MS: "5",
    ...env,
  });
}

let nextId = 0;
function queue(turns: number): void {
  for (let i = 0; i < turns; i++) {
    home.append(home.transcript("s1"), jsonl(assistant({ id: `h${nextId++}`, output: 10 })));
    home.hook("s1");
  }
}

const paths = () => statePaths(home.env);
const sent = () =>
  receiver.seen
    .filter((r) => r.path === "/report")
    .map((r) => {
      const body = JSON.parse(r.body);
      return [body.delivery_seq, body.turn_index, body.delivery_journal_from];
    });
const journal = () => Journal.load(paths().journal, Date.now());
const activity = () => (existsSync(paths().activityLog) ? readFileSync(paths().activityLog, "utf8") : "");

test("numbers 1, 2, 3 …: a retry keeps its number, a report refused for good gives it back", async () => {
  setup();
  queue(3);
  receiver.plan("/report", { status: 503 }, { status: 400 });
  await runSender(home.env);
  // [delivery_seq, turn_index, delivery_journal_from]
  expect(sent()).toEqual([
    [1, 0, 1],
    [1, 0, 1],
    [1, 1, 1],
    [2, 2, 1],
  ]);
  expect(journal().size).toBe(2);
  expect(readSenderStatus(paths()).delivery).toMatchObject({ next: 3, pending: null });
});

test("a number given to a report survives the sender process that gave it", async () => {
  setup();
  queue(1);
  receiver.plan("/report", ...Array.from({ length: 200 }, () => ({ status: 503 })));
  await runSender(home.env); // the sender gives up for now; the report waits with its number
  expect(readSenderStatus(paths()).delivery.pending).toMatchObject({ seq: 1 });
  receiver.unplan("/report");
  queue(1);
  await runSender(home.env);
  expect(sent().slice(-2)).toEqual([
    [1, 0, 1],
    [2, 1, 1],
  ]);
  expect(
    new Set(
      sent()
        .slice(0, -1)
        .map(([seq]) => seq),
    ),
  ).toEqual(new Set([1]));
});

test("a receiver restored to an earlier point gets again exactly what it lost, once, oldest first", async () => {
  setup();
  queue(5);
  await runSender(home.env);
  const key = receiver.seen.find((r) => r.path === "/report")?.publicKey ?? "";
  expect(receiver.held.get(key)).toBe(5);

  receiver.held.set(key, 2); // the database now holds deliveries 1 and 2 only
  const before = receiver.seen.length;
  queue(1);
  await runSender(home.env);
  expect(sent().slice(-5)).toEqual([
    [6, 5, 1], // the new turn: its answer says 2
    [3, 2, 1],
    [4, 3, 1],
    [5, 4, 1],
    [6, 5, 1], // once more, so the receiver's unbroken run reaches it
  ]);
  expect(receiver.seen.length - before).toBe(5);
  expect(receiver.held.get(key)).toBe(6);
  expect(journal().size).toBe(6); // re-sends are not journaled twice
  expect(activity()).toContain("receiver lost reports it had acknowledged");
  expect(activity()).toContain("journaled reports sent again count=4");

  // Healed: the next turn is one request again.
  queue(1);
  await runSender(home.env);
  expect(sent().slice(-1)).toEqual([[7, 6, 1]]);
  expect(receiver.seen.length - before).toBe(6);
});

test("a heal cut short by a failure goes on with the next turn", async () => {
  setup();
  queue(4);
  await runSender(home.env);
  const key = receiver.seen.find((r) => r.path === "/report")?.publicKey ?? "";
  receiver.held.set(key, 0);
  // The new turn and the first re-send are answered as usual; then the receiver fails until this
  // sender gives up.
  const usual = { status: 200, passThrough: true };
  receiver.plan("/report", usual, usual, ...Array.from({ length: 200 }, () => ({ status: 503 })));
  queue(1);
  await runSender(home.env);
  expect(receiver.held.get(key)).toBe(1);
  receiver.unplan("/report");
  const before = sent().length;
  queue(1);
  await runSender(home.env);
  expect(
    sent()
      .slice(before)
      .map(([seq]) => seq),
  ).toEqual([6, 2, 3, 4, 5, 6]);
  expect(receiver.held.get(key)).toBe(6);
});

test("a receiver that keeps no numbers: every report says 1, nothing is journaled", async () => {
  setup();
  receiver.keepsDeliveryNumbers = false;
  queue(3);
  await runSender(home.env);
  expect(sent().map(([seq]) => seq)).toEqual([1, 1, 1]);
  expect(existsSync(paths().journal)).toBe(false);
});

test("a new device key starts its own numbers with an empty journal", async () => {
  setup();
  queue(2);
  await runSender(home.env);
  expect(journal().size).toBe(2);
  rmSync(paths().deviceKey);
  queue(1);
  await runSender(home.env);
  expect(sent().slice(-1)).toEqual([[1, 2, 1]]);
  expect(journal().size).toBe(1);
});
