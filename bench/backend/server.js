// The bench's backend: one Node.js "app node" that every target proxies to (and the direct target reaches
// without a proxy). Plain JavaScript for Node 18 (the local stand-in image), no build step.
//
// Protocol on every path:
//   - WebSocket: every text (or binary) message is echoed back to its sender, except a JSON text message
//     {"type":"broadcast","text":...}, which is sent unchanged to every connected client (sender included):
//     the chat fan-out.
//   - Plain HTTP GET (any path): a small HTML page.
// The server never pings: idle sockets stay silent, so a proxy's idle timeout is what the idle test sees.
//
// One process cannot hold 20k sockets here (nofile is 20000 per process on this machine), so the node runs
// a cluster: the primary hands accepted connections round-robin to BENCH_WORKERS workers (each with its
// own fd limit) and relays broadcasts between them over IPC.
"use strict";
const cluster = require("cluster");
const http = require("http");

const PORT = Number(process.env.WSENV_HTTP_PORT || process.env.PORT || 3000);
const WORKERS = Math.max(1, Math.min(16, Number(process.env.BENCH_WORKERS || 4)));
const NODE_NAME = process.env.WSENV_NODE_NAME || "bench-backend";

if (cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const workers = [];
  let stopping = false;
  let restarts = 0;
  const relay = (msg) => {
    if (msg && typeof msg.b === "string") for (const w of workers) if (w.isConnected()) w.send(msg);
  };
  const start = () => {
    const w = cluster.fork();
    w.on("message", relay);
    workers.push(w);
  };
  for (let i = 0; i < WORKERS; i++) start();
  cluster.on("exit", (w, code, signal) => {
    workers.splice(workers.indexOf(w), 1);
    if (stopping) {
      if (workers.length === 0) process.exit(0);
      return;
    }
    console.error(`worker ${w.process.pid} exited (${code ?? signal})`);
    if (restarts++ < 20) start();
  });
  const stop = () => {
    stopping = true;
    for (const w of workers) w.process.kill("SIGTERM");
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  console.log(`bench backend ${NODE_NAME}: port ${PORT}, ${WORKERS} workers`);
} else {
  const { WebSocketServer } = require("ws");
  const page = Buffer.from(
    `<!doctype html>\n<html><head><meta charset="utf-8"><title>wsenv bench</title></head>\n` +
      `<body><h1>wsenv bench backend</h1><p>node ${NODE_NAME}, echo and chat on any path.</p></body></html>\n`,
  );
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Content-Length": page.length, "Cache-Control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : page);
  });
  // Longer than the proxies' upstream keepalive (nginx 60 s), so the backend is never the side that drops
  // a pooled connection under a request.
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 80_000;
  server.requestTimeout = 0;
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 });
  wss.on("connection", (ws) => {
    ws.on("error", () => {});
    ws.on("message", (data, isBinary) => {
      if (!isBinary && data.length > 0 && data[0] === 0x7b /* { */) {
        let msg;
        try {
          msg = JSON.parse(data.toString());
        } catch {
          msg = null;
        }
        if (msg && msg.type === "broadcast") {
          process.send({ b: data.toString() });
          return;
        }
      }
      ws.send(data, { binary: isBinary });
    });
  });
  process.on("message", (msg) => {
    if (!msg || typeof msg.b !== "string") return;
    const frame = Buffer.from(msg.b);
    for (const client of wss.clients) if (client.readyState === 1) client.send(frame, { binary: false });
  });
  process.on("SIGTERM", () => process.exit(0));
  server.listen(PORT, "0.0.0.0");
}
