// The reference PHP chat (apps/chat-php/server.php) run for real: php processes on loopback
// ports, `ws` clients. Skipped with a message when `php` is missing, except in CI.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as net from "net";
import * as path from "path";
import WebSocket from "ws";

const SERVER = path.resolve(__dirname, "../../apps/chat-php/server.php");
const phpAvailable = spawnSync("php", ["-v"], { stdio: "ignore" }).status === 0;
const inCI = process.env.CI === "true";

if (!phpAvailable && !inCI) {
  console.warn("chat-php tests SKIPPED: `php` (CLI) is not on PATH; install php-cli to run them.");
}

const d = phpAvailable || inCI ? describe : describe.skip;
jest.setTimeout(30_000);

interface Srv {
  name: string;
  proc: ChildProcess;
  wsPort: number;
  relayPort: number;
  log: string[];
  exited: Promise<number | null>;
}

interface Client {
  ws: WebSocket;
  messages: Array<Record<string, unknown>>;
  closed: Promise<{ code: number; reason: string }>;
}

const procs: ChildProcess[] = [];
const sockets: WebSocket[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 5000, everyMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

async function startServer(name: string, env: Record<string, string> = {}, ports?: { ws: number; relay: number }): Promise<Srv> {
  const wsPort = ports?.ws ?? (await freePort());
  const relayPort = ports?.relay ?? (await freePort());
  const proc = spawn("php", [SERVER], {
    env: {
      PATH: process.env.PATH ?? "",
      WSENV_WS_PORT: String(wsPort),
      CHAT_RELAY_PORT: String(relayPort),
      WSENV_NODE_NAME: name,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  procs.push(proc);
  const log: string[] = [];
  let partial = "";
  proc.stdout!.on("data", (b: Buffer) => {
    const parts = (partial + b.toString("utf8")).split("\n");
    partial = parts.pop() ?? "";
    log.push(...parts);
  });
  proc.stderr!.on("data", (b: Buffer) => log.push(`[stderr] ${b.toString("utf8").trimEnd()}`));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const end = Date.now() + 10_000;
  while (!(await canConnect(wsPort))) {
    if (hasExited) throw new Error(`${name} exited during start-up:\n${log.join("\n")}`);
    if (Date.now() > end) throw new Error(`${name} did not listen on ${wsPort} within 10 s:\n${log.join("\n")}`);
    await sleep(50);
  }
  return { name, proc, wsPort, relayPort, log, exited };
}

function connect(port: number, wsPath = "/ws/"): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${wsPath}`, { handshakeTimeout: 5000 });
    sockets.push(ws);
    const messages: Array<Record<string, unknown>> = [];
    const closed = new Promise<{ code: number; reason: string }>((res) =>
      ws.once("close", (code, reason) => res({ code, reason: reason.toString() })),
    );
    ws.on("message", (data, isBinary) => {
      if (!isBinary) messages.push(JSON.parse(data.toString()) as Record<string, unknown>);
    });
    ws.once("open", () => resolve({ ws, messages, closed }));
    ws.once("error", reject);
  });
}

async function welcomed(port: number): Promise<Client> {
  const c = await connect(port);
  await waitFor("welcome", () => c.messages.find((m) => m.type === "welcome"));
  return c;
}

function chat(c: Client, text: string, name = "tester"): void {
  c.ws.send(JSON.stringify({ type: "message", name, text }));
}

function withText(c: Client, text: string): Array<Record<string, unknown>> {
  return c.messages.filter((m) => m.type === "message" && m.text === text);
}

function rawHttp(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    let buf = "";
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no complete HTTP response within 5 s, got: ${JSON.stringify(buf)}`));
    }, 5000);
    s.on("connect", () => s.write(request));
    s.on("data", (b) => (buf += b.toString("latin1")));
    s.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on("close", () => {
      clearTimeout(timer);
      resolve(buf);
    });
  });
}

interface RawFrame {
  fin: boolean;
  op: number;
  payload: Buffer;
}

/** A hand-rolled client for what `ws` will not send: odd framings, byte-by-byte writes. */
interface RawWs {
  sock: net.Socket;
  frames: RawFrame[];
  ended: Promise<void>;
}

function rawWs(port: number): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    const frames: RawFrame[] = [];
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const ended = new Promise<void>((r) => sock.once("close", () => r()));
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error("raw handshake timed out"));
    }, 5000);
    sock.on("error", () => undefined);
    sock.on("connect", () =>
      sock.write(
        "GET /ws/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      ),
    );
    sock.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.subarray(0, end).toString("latin1");
        buf = buf.subarray(end + 4);
        clearTimeout(timer);
        if (!/^HTTP\/1\.1 101 /.test(head) || !head.includes("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")) {
          reject(new Error(`bad handshake response: ${head}`));
          return;
        }
        upgraded = true;
        resolve({ sock, frames, ended });
      }
      for (;;) {
        if (buf.length < 2) return;
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) return;
        frames.push({ fin: (buf[0] & 0x80) !== 0, op: buf[0] & 0x0f, payload: Buffer.from(buf.subarray(off, off + len)) });
        buf = buf.subarray(off + len);
      }
    });
  });
}

/** A client frame; `lenBits` forces the length encoding (64 even for small payloads). */
function clientFrame(op: number, payload: Buffer | string, opts: { fin?: boolean; mask?: boolean; lenBits?: 7 | 16 | 64 } = {}): Buffer {
  const data = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  const mask = opts.mask ?? true;
  const bits = opts.lenBits ?? (data.length < 126 ? 7 : data.length < 65536 ? 16 : 64);
  const head: number[] = [((opts.fin ?? true) ? 0x80 : 0) | op];
  const m = mask ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (bits === 7) head.push(m | data.length);
  else if (bits === 16) {
    head.push(m | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(data.length);
  } else {
    head.push(m | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(BigInt(data.length));
  }
  if (!mask) return Buffer.concat([Buffer.from(head), ext, data]);
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const masked = Buffer.from(data.map((b, i) => b ^ key[i % 4]));
  return Buffer.concat([Buffer.from(head), ext, key, masked]);
}

function closeCode(f: RawFrame | undefined): number | undefined {
  return f && f.op === 8 && f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined;
}

function chatFrameText(f: RawFrame): string | undefined {
  if (f.op !== 1) return undefined;
  const m = JSON.parse(f.payload.toString("utf8")) as Record<string, unknown>;
  return m.type === "message" ? String(m.text) : undefined;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

afterAll(async () => {
  for (const ws of sockets) ws.terminate();
  for (const p of procs) {
    if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  }
  await Promise.all(
    procs.map((p) =>
      p.exitCode !== null || p.signalCode !== null
        ? Promise.resolve()
        : withTimeout(new Promise<void>((r) => p.once("exit", () => r())), 5000, "php exit").catch(() => undefined),
    ),
  );
});

d("apps/chat-php/server.php", () => {
  if (!phpAvailable) {
    it("needs php in CI", () => {
      throw new Error("`php` is not on PATH but CI=true: the chat-php tests must run in CI");
    });
    return;
  }

  describe("single node", () => {
    let srv: Srv;
    beforeAll(async () => {
      srv = await startServer("node-solo");
    });

    it("welcomes clients with the node name and echoes a message to every client, sender included", async () => {
      const a = await welcomed(srv.wsPort);
      const b = await welcomed(srv.wsPort);
      const wa = a.messages.find((m) => m.type === "welcome")!;
      expect(wa.node).toBe("node-solo");
      expect(typeof wa.id).toBe("string");
      expect(b.messages.find((m) => m.type === "welcome")!.id).not.toBe(wa.id);

      chat(a, "hello from a", "alice");
      await waitFor("message on a", () => withText(a, "hello from a").length === 1);
      await waitFor("message on b", () => withText(b, "hello from a").length === 1);
      const m = withText(b, "hello from a")[0];
      expect(m).toMatchObject({ type: "message", name: "alice", node: "node-solo" });
      expect(typeof m.id).toBe("string");
      expect(typeof m.ts).toBe("number");
      expect(withText(a, "hello from a")[0].id).toBe(m.id);
      expect(srv.log.some((l) => /event=connect /.test(l))).toBe(true);
      a.ws.close();
      b.ws.close();
      expect((await withTimeout(a.closed, 5000, "close")).code).toBe(1005); // empty close echoed
    });

    it("accepts any request path (the balancer passes /ws/ unchanged) and ignores invalid chat messages", async () => {
      const c = await connect(srv.wsPort, "/some/other/path?x=1");
      await waitFor("welcome", () => c.messages.find((m) => m.type === "welcome"));
      c.ws.send("not json");
      c.ws.send(JSON.stringify({ type: "message", name: "x".repeat(33), text: "too long name" }));
      c.ws.send(JSON.stringify({ type: "message", name: "bob", text: "y".repeat(2001) }));
      c.ws.send(JSON.stringify({ type: "other", name: "bob", text: "nope" }));
      c.ws.send(JSON.stringify({ type: "message", name: "bob", text: "ünïcødé ✓" }));
      await waitFor("valid message", () => withText(c, "ünïcødé ✓").length === 1);
      expect(c.messages.filter((m) => m.type === "message")).toHaveLength(1);
      c.ws.close(1000);
      expect((await withTimeout(c.closed, 5000, "close")).code).toBe(1000);
    });

    it("answers a ping with a pong", async () => {
      const c = await welcomed(srv.wsPort);
      const pong = new Promise<Buffer>((r) => c.ws.once("pong", (data) => r(data)));
      c.ws.ping("are-you-there");
      expect((await withTimeout(pong, 5000, "pong")).toString()).toBe("are-you-there");
      c.ws.close();
    });

    it("closes with 1009 when a message exceeds 64 KiB", async () => {
      const c = await welcomed(srv.wsPort);
      c.ws.send(JSON.stringify({ type: "message", name: "big", text: "z".repeat(70 * 1024) }));
      const { code } = await withTimeout(c.closed, 5000, "close 1009");
      expect(code).toBe(1009);
    });

    it("reassembles fragmented messages", async () => {
      const c = await welcomed(srv.wsPort);
      const json = JSON.stringify({ type: "message", name: "frag", text: "in three parts" });
      c.ws.send(json.slice(0, 5), { fin: false });
      c.ws.send(json.slice(5, 20), { fin: false });
      c.ws.send(json.slice(20), { fin: true });
      await waitFor("fragmented message", () => withText(c, "in three parts").length === 1);
      c.ws.close();
    });

    it("handles byte-by-byte frames, 16-bit and (non-minimal) 64-bit lengths", async () => {
      const r = await rawWs(srv.wsPort);
      const long = "L".repeat(1500);
      const frame16 = clientFrame(1, JSON.stringify({ type: "message", name: "raw", text: long }));
      expect(frame16[1] & 0x7f).toBe(126);
      r.sock.setNoDelay(true);
      // the header and mask one byte at a time, then the payload in small pieces: partial reads
      for (let i = 0; i < frame16.length; i += i < 16 ? 1 : 97) {
        r.sock.write(frame16.subarray(i, i < 16 ? i + 1 : i + 97));
        await sleep(2);
      }
      await waitFor("16-bit message echoed", () => r.frames.some((f) => chatFrameText(f) === long));
      const echoed = r.frames.find((f) => chatFrameText(f) === long)!;
      expect(echoed.payload.length).toBeGreaterThan(125); // the server used the 16-bit length too
      r.sock.write(clientFrame(1, JSON.stringify({ type: "message", name: "raw", text: "len64" }), { lenBits: 64 }));
      await waitFor("64-bit length message echoed", () => r.frames.some((f) => chatFrameText(f) === "len64"));
      const close = Buffer.alloc(2);
      close.writeUInt16BE(4000);
      r.sock.write(clientFrame(8, close));
      await waitFor("close echoed", () => r.frames.find((f) => f.op === 8));
      expect(closeCode(r.frames.find((f) => f.op === 8))).toBe(4000);
      await withTimeout(r.ended, 5000, "server closes TCP after the close handshake");
    });

    it("closes with 1002 on an unmasked frame and 1007 on invalid UTF-8", async () => {
      const r1 = await rawWs(srv.wsPort);
      r1.sock.write(clientFrame(1, "hi", { mask: false }));
      await waitFor("close 1002", () => r1.frames.find((f) => f.op === 8));
      expect(closeCode(r1.frames.find((f) => f.op === 8))).toBe(1002);
      r1.sock.destroy();

      const r2 = await rawWs(srv.wsPort);
      r2.sock.write(clientFrame(1, Buffer.from([0x7b, 0xc3, 0x28, 0x7d])));
      await waitFor("close 1007", () => r2.frames.find((f) => f.op === 8));
      expect(closeCode(r2.frames.find((f) => f.op === 8))).toBe(1007);
      r2.sock.write(clientFrame(8, Buffer.from([0x03, 0xef])));
      await withTimeout(r2.ended, 5000, "server closes TCP after the client's close");
    });

    it("never blocks on a client that stops reading (it is dropped, others keep getting messages)", async () => {
      const stalled = await rawWs(srv.wsPort);
      stalled.sock.pause(); // stop reading: its kernel buffers fill, then the server's output buffer
      const c = await welcomed(srv.wsPort);
      const text = "x".repeat(2000);
      const count = 8000; // ~16 MB to every client
      for (let i = 0; i < count; i++) chat(c, text);
      await waitFor("all echoes to the reading client", () => withText(c, text).length === count, 20_000, 50);
      await waitFor("stalled client dropped", () => srv.log.some((l) => l.includes("slow client")), 10_000);
      c.ws.close();
      stalled.sock.destroy();
    }, 40_000);

    it("answers 400 to a plain GET without Upgrade and 200 to GET /healthz", async () => {
      const bad = await rawHttp(srv.wsPort, "GET /ws/ HTTP/1.1\r\nHost: x\r\n\r\n");
      expect(bad).toMatch(/^HTTP\/1\.1 400 /);
      const badKey = await rawHttp(
        srv.wsPort,
        "GET /ws/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n",
      );
      expect(badKey).toMatch(/^HTTP\/1\.1 400 /);
      const health = await rawHttp(srv.wsPort, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      expect(health).toMatch(/^HTTP\/1\.1 200 /);
      expect(health.endsWith("\r\n\r\nok\n")).toBe(true);
    });

    it("keeps an idle client connected (3 s)", async () => {
      const c = await welcomed(srv.wsPort);
      await sleep(3000);
      expect(c.ws.readyState).toBe(WebSocket.OPEN);
      chat(c, "still here");
      await waitFor("message after idle", () => withText(c, "still here").length === 1);
      c.ws.close();
    });
  });

  describe("keepalive pings (CHAT_PING_INTERVAL=1 here, 30 s by default)", () => {
    it("pings clients, keeps those that answer and drops those that do not", async () => {
      const srv = await startServer("node-ping", { CHAT_PING_INTERVAL: "1" });
      const c = await welcomed(srv.wsPort); // `ws` answers pings by itself
      const pinged = new Promise<void>((r) => c.ws.once("ping", () => r()));
      const silent = await rawWs(srv.wsPort); // reads, but never sends a pong
      await withTimeout(pinged, 3000, "server ping");
      await withTimeout(silent.ended, 5000, "silent client dropped");
      expect(silent.frames.some((f) => f.op === 9)).toBe(true);
      // The server closes the socket first and logs after: wait for the line rather than race it.
      await waitFor("the ping timeout logged", () => srv.log.some((l) => l.includes('reason="ping timeout"')), 5000);
      expect(c.ws.readyState).toBe(WebSocket.OPEN);
      c.ws.close();
      srv.proc.kill("SIGTERM");
    });
  });

  describe("two nodes linked by the relay mesh", () => {
    let a: Srv;
    let b: Srv;
    beforeAll(async () => {
      const pa = { ws: await freePort(), relay: await freePort() };
      const pb = { ws: await freePort(), relay: await freePort() };
      const peers = `127.0.0.1:${pa.relay},127.0.0.1:${pb.relay}`;
      [a, b] = await Promise.all([
        startServer("node-a", { CHAT_RELAY_PEERS: peers }, pa),
        startServer("node-b", { CHAT_RELAY_PEERS: peers }, pb),
      ]);
      await waitFor("a -> b link", () => a.log.some((l) => l.includes(`event=peer-link-up target=127.0.0.1:${pb.relay}`)), 10_000);
      await waitFor("b -> a link", () => b.log.some((l) => l.includes(`event=peer-link-up target=127.0.0.1:${pa.relay}`)), 10_000);
    });

    it("delivers a message from a client on A to a client on B exactly once, and vice versa", async () => {
      const ca = await welcomed(a.wsPort);
      const cb = await welcomed(b.wsPort);
      expect(ca.messages[0].node).toBe("node-a");
      expect(cb.messages[0].node).toBe("node-b");

      chat(ca, "from A");
      await waitFor("A's message on B", () => withText(cb, "from A").length > 0);
      chat(cb, "from B");
      await waitFor("B's message on A", () => withText(ca, "from B").length > 0);
      await sleep(500); // room for duplicates to show up
      expect(withText(cb, "from A")).toHaveLength(1);
      expect(withText(cb, "from A")[0].node).toBe("node-a");
      expect(withText(ca, "from A")).toHaveLength(1); // sender's echo, not bounced back
      expect(withText(ca, "from B")).toHaveLength(1);
      expect(withText(ca, "from B")[0].node).toBe("node-b");
      expect(withText(cb, "from B")).toHaveLength(1);
      expect(withText(ca, "from A")[0].id).toBe(withText(cb, "from A")[0].id);
      // the own endpoint in CHAT_RELAY_PEERS is skipped: exactly one outgoing link each
      expect(a.log.filter((l) => l.includes("event=peer-link-up"))).toHaveLength(1);
      ca.ws.close();
      cb.ws.close();
    });

    (process.platform === "linux" ? it : it.skip)("stops dialling itself when listed under an address it does not know as its own", async () => {
      const relay = await freePort();
      const self = await startServer("node-self", { CHAT_RELAY_PEERS: `127.0.0.2:${relay}` }, { ws: await freePort(), relay });
      await waitFor("self detected", () => self.log.some((l) => l.includes(`event=peer-link-self target=127.0.0.2:${relay}`)), 5000);
      await sleep(2500); // one more discovery round: no new link
      expect(self.log.filter((l) => l.includes("event=peer-link-up"))).toHaveLength(1);
      self.proc.kill("SIGTERM");
      expect(await withTimeout(self.exited, 5000, "exit")).toBe(0);
    });

    it("sends close 1001 to clients on SIGTERM and exits", async () => {
      const c1 = await welcomed(b.wsPort);
      const c2 = await welcomed(b.wsPort);
      const aLogBefore = a.log.length;
      b.proc.kill("SIGTERM");
      const [r1, r2] = await withTimeout(Promise.all([c1.closed, c2.closed]), 5000, "close 1001");
      expect(r1.code).toBe(1001);
      expect(r2.code).toBe(1001);
      expect(await withTimeout(b.exited, 5000, "exit after SIGTERM")).toBe(0);
      expect(b.log.some((l) => l.includes("event=shutdown signal=SIGTERM"))).toBe(true);
      // A notices the link is gone (it will reconnect when B comes back)
      await waitFor("A drops the link", () => a.log.slice(aLogBefore).some((l) => l.includes("event=peer-link-down")), 5000);
    });
  });
});
