// The benchmark's yardstick: a bare Bun.serve doing the minimum a report needs (read the body,
// verify its Ed25519 signature with node:crypto, one insert into a WAL table). Not shipped.
import { Database } from "bun:sqlite";
import { createPublicKey, verify } from "node:crypto";

const [path, port] = [process.argv[2]!, Number(process.argv[3] ?? 0)];
const db = new Database(path, { create: true, strict: true });
db.run("PRAGMA journal_mode = WAL");
db.run("PRAGMA synchronous = NORMAL");
db.run("PRAGMA busy_timeout = 1000");
db.run(
  "CREATE TABLE IF NOT EXISTS reports (id INTEGER PRIMARY KEY, public_key TEXT NOT NULL, body TEXT NOT NULL)",
);
const insert = db.query("INSERT INTO reports (public_key, body) VALUES (?, ?)");
const prefix = Buffer.from("302a300506032b6570032100", "hex");

const server = Bun.serve({
  hostname: "127.0.0.1",
  port,
  async fetch(request) {
    const body = new Uint8Array(await request.arrayBuffer());
    const [, sig, pub] = (request.headers.get("x-ccflux-signature") ?? "").split(" ");
    const timestamp = request.headers.get("x-ccflux-timestamp") ?? "";
    const message = Buffer.concat([body, Buffer.from(`\n${timestamp}`)]);
    const key = createPublicKey({
      key: Buffer.concat([prefix, Buffer.from(pub ?? "", "base64")]),
      format: "der",
      type: "spki",
    });
    if (!verify(null, message, key, Buffer.from(sig ?? "", "base64")))
      return new Response("bad signature", { status: 403 });
    insert.run(pub!, new TextDecoder().decode(body));
    return Response.json({ status: "stored" });
  },
});
console.log(`listening on 127.0.0.1:${server.port}`);
