// One load-generator process. The orchestrator (bench/run.ts) forks several of these (child_process.fork)
// and drives them over IPC: each command gets exactly one reply {type:"done", ...} or {type:"error"}.
// Plain CommonJS so a child starts in ~50 ms without a TypeScript loader. WebSockets use the `ws`
// package (the same one the backend uses); HTTP uses Node's own client with keep-alive.
//
// Every loop here is bounded by a count and by a deadline. Times are process.hrtime (CLOCK_MONOTONIC,
// the same clock in every process on the machine), so the orchestrator can compare them across children.
"use strict";
const http = require("http");
const path = require("path");
const WebSocket = require(require.resolve("ws", { paths: [path.resolve(__dirname, "../..")] }));

const nowNs = () => process.hrtime.bigint();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pick = (urls, i) => urls[i % urls.length];

function cpuMeter() {
  const c0 = process.cpuUsage();
  const t0 = nowNs();
  return () => {
    const c = process.cpuUsage(c0);
    const wallUs = Number(nowNs() - t0) / 1000;
    return wallUs > 0 ? (100 * (c.user + c.system)) / wallUs : 0;
  };
}

/** Opens `count` sockets (at most `concurrency` handshakes in flight); resolves with the open ones. */
// Gives up after `giveUpAfter` failures in a row (a target that refuses more sockets is not retried for
// minutes) or at the deadline; what was not attempted is reported as such.
async function openMany(urls, count, { concurrency = 100, timeoutMs = 15000, onMessage, offset = 0, giveUpAfter = Infinity, deadlineMs, headers } = {}) {
  const sockets = [];
  let failed = 0;
  let next = 0;
  let inARow = 0;
  let gaveUp = false;
  const errors = {};
  const deadline = Date.now() + (deadlineMs || Math.max(timeoutMs * 2, count * 20));
  async function lane() {
    while (next < count && Date.now() < deadline && !gaveUp) {
      const i = next++;
      const ok = await new Promise((resolve) => {
        const ws = new WebSocket(pick(urls, offset + i), { perMessageDeflate: false, handshakeTimeout: timeoutMs, headers });
        ws.on("error", (err) => {
          errors[err.code || err.message.slice(0, 60)] = (errors[err.code || err.message.slice(0, 60)] || 0) + 1;
          resolve(false);
        });
        ws.once("open", () => {
          if (onMessage) ws.on("message", (data, isBinary) => onMessage(ws, data, isBinary));
          sockets.push(ws);
          resolve(true);
        });
      });
      if (!ok) {
        failed++;
        if (++inARow >= giveUpAfter) gaveUp = true;
      } else inARow = 0;
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return { sockets, failed, errors, gaveUp, notAttempted: count - next };
}

function closeAll(sockets) {
  for (const ws of sockets) {
    try {
      ws.terminate();
    } catch {
      /* already gone */
    }
  }
}

// Echo at a fixed offered rate (open loop: sends never wait for answers). Latency = receive time minus
// the moment the message was handed to the socket.
async function echoRate({ urls, sockets: n, rate, warmupMs, durationMs, offset }) {
  const latencies = [];
  let measuring = false;
  let received = 0;
  let sentMeasured = 0;
  const onMessage = (ws, data) => {
    const text = data.toString();
    const sent = BigInt(text.slice(2));
    if (text.charCodeAt(0) === 0x6d /* m */) {
      latencies.push(Number(nowNs() - sent) / 1000);
      received++;
    }
  };
  const { sockets, failed, errors } = await openMany(urls, n, { onMessage, offset });
  if (sockets.length === 0) return { latencies, sent: 0, received: 0, connectFailed: failed, errors, cpu: 0 };
  const total = warmupMs + durationMs;
  const start = Date.now();
  let sentCount = 0;
  let cpu = null;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Date.now() - start;
      if (!measuring && elapsed >= warmupMs) {
        measuring = true;
        cpu = cpuMeter();
      }
      const due = Math.min(Math.floor((rate * Math.min(elapsed, total)) / 1000), Math.ceil((rate * total) / 1000));
      while (sentCount < due) {
        const ws = sockets[sentCount % sockets.length];
        // "m" = measured, "w" = warm-up: only measured messages count.
        if (ws.readyState === 1) {
          ws.send((measuring ? "m " : "w ") + nowNs().toString());
          if (measuring) sentMeasured++;
        }
        sentCount++;
      }
      if (elapsed >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  const cpuPct = cpu ? cpu() : 0;
  const waitUntil = Date.now() + 3000;
  while (received < sentMeasured && Date.now() < waitUntil) await sleep(20);
  const open = sockets.filter((s) => s.readyState === 1).length;
  closeAll(sockets);
  return { latencies, sent: sentMeasured, received, connectFailed: failed, errors, open, cpu: cpuPct };
}

// Echo at saturation: every socket keeps `window` messages in flight; throughput = answers per second.
async function echoSat({ urls, sockets: n, window, warmupMs, durationMs, offset }) {
  let counting = false;
  let stopped = false;
  let count = 0;
  const payload = "x".repeat(32);
  const onMessage = (ws) => {
    if (counting) count++;
    if (!stopped && ws.readyState === 1) ws.send(payload);
  };
  const { sockets, failed, errors } = await openMany(urls, n, { onMessage, offset });
  for (const ws of sockets) for (let k = 0; k < window; k++) ws.send(payload);
  await sleep(warmupMs);
  counting = true;
  const cpu = cpuMeter();
  const t0 = nowNs();
  await sleep(durationMs);
  counting = false;
  const elapsedS = Number(nowNs() - t0) / 1e9;
  const cpuPct = cpu();
  stopped = true;
  const open = sockets.filter((s) => s.readyState === 1).length;
  closeAll(sockets);
  return { count, elapsedS, connectFailed: failed, errors, open, cpu: cpuPct };
}

// WebSocket upgrades per second: `concurrency` lanes, each opening a socket, waiting for `open`, then
// closing it cleanly (close frame; the server closes the TCP connection first).
async function upgrades({ urls, concurrency, durationMs, maxCount, offset }) {
  const latencies = [];
  let failed = 0;
  let started = 0;
  const errors = {};
  const cpu = cpuMeter();
  const t0 = nowNs();
  const end = Date.now() + durationMs;
  async function lane(l) {
    while (Date.now() < end && started < maxCount) {
      const i = started++;
      await new Promise((resolve) => {
        const s = nowNs();
        const ws = new WebSocket(pick(urls, offset + i), { perMessageDeflate: false, handshakeTimeout: 10000 });
        const guard = setTimeout(() => {
          ws.terminate();
          resolve();
        }, 12000);
        ws.on("error", (err) => {
          const key = err.code || err.message.slice(0, 60);
          errors[key] = (errors[key] || 0) + 1;
          failed++;
          clearTimeout(guard);
          resolve();
        });
        ws.once("open", () => {
          latencies.push(Number(nowNs() - s) / 1000);
          ws.close(1000);
          // Next handshake as soon as this one is open; the close finishes in the background.
          clearTimeout(guard);
          resolve();
        });
      });
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, l) => lane(l)));
  const elapsedS = Number(nowNs() - t0) / 1e9;
  const cpuPct = cpu();
  await sleep(500);
  return { opened: latencies.length, failed, errors, elapsedS, latencies, cpu: cpuPct };
}

// Fan-out: sockets stay connected between commands; "broadcast" sends one chat message from the first
// socket of this generator; every generator reports when all its sockets got it.
const fan = { sockets: [], counts: new Map(), last: new Map() };
async function fanConnect({ urls, sockets: n, offset }) {
  const onMessage = (ws, data) => {
    if (data[0] !== 0x7b) return;
    const msg = JSON.parse(data.toString());
    const id = msg.text;
    const c = (fan.counts.get(id) || 0) + 1;
    fan.counts.set(id, c);
    fan.last.set(id, nowNs());
    if (c === fan.sockets.length) process.send({ type: "fanDone", id, last: fan.last.get(id).toString(), count: c });
  };
  const { sockets, failed, errors } = await openMany(urls, n, { onMessage, offset });
  fan.sockets = sockets;
  return { open: sockets.length, connectFailed: failed, errors };
}
function fanBroadcast({ id }) {
  const ws = fan.sockets.find((s) => s.readyState === 1);
  if (!ws) return { sent: null };
  const t0 = nowNs();
  ws.send(JSON.stringify({ type: "broadcast", text: id }));
  return { sent: t0.toString() };
}
function fanStatus({ id }) {
  return { count: fan.counts.get(id) || 0, last: fan.last.has(id) ? fan.last.get(id).toString() : null, open: fan.sockets.filter((s) => s.readyState === 1).length };
}
function fanClose() {
  closeAll(fan.sockets);
  fan.sockets = [];
  return {};
}

// Idle sockets: opened in steps and then left completely silent; drops are sockets that closed after
// they had opened.
const idle = { sockets: [], attempted: 0, failed: 0, drops: 0, errors: {}, closeCodes: {}, gaveUp: false };
async function idleOpen({ urls, total, concurrency, offset, timeoutMs, deadlineMs, headers }) {
  const want = idle.gaveUp ? 0 : Math.max(0, total - idle.attempted);
  const t0 = Date.now();
  const res = await openMany(urls, want, { concurrency, offset: offset + idle.attempted, timeoutMs, deadlineMs, giveUpAfter: concurrency, headers });
  idle.attempted += want - res.notAttempted;
  if (res.gaveUp) idle.gaveUp = true;
  for (const ws of res.sockets) {
    ws.on("close", (code) => {
      idle.drops++;
      idle.closeCodes[code] = (idle.closeCodes[code] || 0) + 1;
    });
    idle.sockets.push(ws);
  }
  idle.failed += res.failed;
  for (const [k, v] of Object.entries(res.errors)) idle.errors[k] = (idle.errors[k] || 0) + v;
  return { ...idleStatus(), ms: Date.now() - t0 };
}
function idleStatus() {
  return {
    attempted: idle.attempted,
    opened: idle.sockets.length,
    failed: idle.failed,
    open: idle.sockets.filter((s) => s.readyState === 1).length,
    drops: idle.drops,
    gaveUp: idle.gaveUp,
    errors: idle.errors,
    closeCodes: idle.closeCodes,
  };
}
function idleClose() {
  for (const ws of idle.sockets) ws.removeAllListeners("close");
  closeAll(idle.sockets);
  // A clean slate for the next measurement on this generator.
  Object.assign(idle, { sockets: [], attempted: 0, failed: 0, drops: 0, errors: {}, closeCodes: {}, gaveUp: false });
  return {};
}

// Plain HTTP GET on keep-alive connections: closed loop (rate null: as fast as answers come) or a fixed
// offered rate. Latency is measured per request from the moment it is issued.
async function httpLoad({ url, connections, rate, warmupMs, durationMs }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const latencies = [];
  const statuses = {};
  let errors = 0;
  let measuring = false;
  let inFlight = 0;
  let count = 0;
  const one = () =>
    new Promise((resolve) => {
      const s = nowNs();
      inFlight++;
      const req = http.get(url, { agent }, (res) => {
        res.on("data", () => {});
        res.on("end", () => {
          inFlight--;
          if (measuring) {
            latencies.push(Number(nowNs() - s) / 1000);
            statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
            count++;
          }
          resolve();
        });
      });
      req.setTimeout(10000, () => req.destroy(new Error("timeout")));
      req.on("error", () => {
        inFlight--;
        if (measuring) errors++;
        resolve();
      });
    });
  const total = warmupMs + durationMs;
  const start = Date.now();
  let cpu = null;
  let t0 = null;
  const markMeasuring = () => {
    if (!measuring && Date.now() - start >= warmupMs) {
      measuring = true;
      cpu = cpuMeter();
      t0 = nowNs();
    }
  };
  if (rate) {
    let issued = 0;
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        markMeasuring();
        const elapsed = Date.now() - start;
        const due = Math.floor((rate * Math.min(elapsed, total)) / 1000);
        // Bounded: never more than the pool plus a small queue outstanding.
        while (issued < due && inFlight < connections * 4) {
          issued++;
          one();
        }
        if (elapsed >= total) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
  } else {
    const end = start + total;
    const ticker = setInterval(markMeasuring, 5);
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (Date.now() < end) await one();
      }),
    );
    clearInterval(ticker);
  }
  measuring = false;
  const elapsedS = t0 ? Number(nowNs() - t0) / 1e9 : 0;
  const cpuPct = cpu ? cpu() : 0;
  const waitUntil = Date.now() + 3000;
  while (inFlight > 0 && Date.now() < waitUntil) await sleep(20);
  agent.destroy();
  return { count, errors, statuses, latencies, elapsedS, cpu: cpuPct };
}

const commands = { echoRate, echoSat, upgrades, fanConnect, fanBroadcast, fanStatus, fanClose, idleOpen, idleStatus, idleClose, httpLoad };

process.on("message", async (msg) => {
  const fn = commands[msg.cmd];
  try {
    if (!fn) throw new Error(`unknown command ${msg.cmd}`);
    const result = await fn(msg.args || {});
    process.send({ type: "done", seq: msg.seq, result });
  } catch (err) {
    process.send({ type: "error", seq: msg.seq, error: String((err && err.stack) || err) });
  }
});
// The orchestrator going away must never leave a generator holding sockets.
process.on("disconnect", () => process.exit(0));
process.send({ type: "ready" });
