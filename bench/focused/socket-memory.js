// Focused measurement behind balancer.websocketBufferSize (see ../README.md "Focused measurements").
// Usage: node echo-backend.js & node socket-memory.js NAME "<ws location directives>" "<http directives>"
// Host nginx (Debian nginx-light), one worker; 3,000 idle proxied sockets per handshake kind; prints the
// worker's RSS growth per socket in KiB for a minimal handshake, a browser's and a browser's with a 1.5 KB cookie
// (COOKIE_BYTES=N for another size).
const { spawnSync } = require("child_process");
const fs = require("fs");
const net = require("net");
const [, , name, wsExtra, httpExtra] = process.argv;
const dir = `${require("os").tmpdir()}/wsenv-focused-${name}`;
fs.rmSync(dir, { recursive: true, force: true }); fs.mkdirSync(dir);
const conf = `worker_processes 1; worker_rlimit_nofile 20000; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 19000; }
http { access_log off; ${httpExtra.includes("large_client") ? "" : "large_client_header_buffers 4 16k;"} ${httpExtra}
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream ws { server 127.0.0.1:29200; }
  server { listen 29201;
    location /ws/ { proxy_pass http://ws; proxy_http_version 1.1;
      proxy_set_header Host $host; proxy_set_header X-Real-IP $remote_addr; proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Forwarded-Host $host;
      proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 1h; proxy_send_timeout 1h; proxy_buffering off; ${wsExtra} } } }`;
fs.writeFileSync(`${dir}/nginx.conf`, conf);
spawnSync("nginx", ["-c", `${dir}/nginx.conf`, "-p", dir], { stdio: "inherit" });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const key = "dGhlIHNhbXBsZSBub25jZQ==";
const browser = "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\nOrigin: http://localhost:29201\r\nCache-Control: no-cache\r\nPragma: no-cache\r\nAccept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
// COOKIE_BYTES=N: the cookie's size (default 1500, the bench's).
const cookie = `Cookie: session=${"a".repeat(Number(process.env.COOKIE_BYTES || 1500))}\r\n`;
const handshakes = {
  minimal: `GET /ws/ HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  browser: `GET /ws/ HTTP/1.1\r\nHost: localhost:29201\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${browser}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`,
  cookie: `GET /ws/ HTTP/1.1\r\nHost: localhost:29201\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${browser}${cookie}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`,
};
function workerPid() {
  const master = fs.readFileSync(`${dir}/nginx.pid`, "utf8").trim();
  return spawnSync("pgrep", ["-P", master], { encoding: "utf8" }).stdout.trim().split("\n")[0];
}
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))[1]);
async function open(n, hs) {
  const socks = [];
  for (let i = 0; i < n; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => new Promise((res, rej) => {
      const s = net.connect(29201, "127.0.0.1", () => s.write(hs));
      let got = "";
      s.on("data", (d) => { got += d; if (got.includes("\r\n\r\n")) { if (!got.startsWith("HTTP/1.1 101")) rej(new Error(got.slice(0, 80))); socks.push(s); res(); } });
      s.on("error", rej);
    })));
  }
  return socks;
}
(async () => {
  await sleep(300);
  const pid = workerPid();
  const out = [];
  for (const [hname, hs] of Object.entries(handshakes)) {
    const a = await open(300, hs); await sleep(300);
    const before = rss(pid);
    const b = await open(3000, hs); await sleep(500);
    const after = rss(pid);
    out.push(`${hname} ${((after - before) / 3000).toFixed(1)}`);
    for (const s of [...a, ...b]) s.destroy(); await sleep(800);
  }
  console.log(name.padEnd(12), out.join("  "), "KiB/socket");
  spawnSync("nginx", ["-c", `${dir}/nginx.conf`, "-p", dir, "-s", "quit"]);
  process.exit(0);
})().catch((e) => { console.error(e); spawnSync("nginx", ["-c", `${dir}/nginx.conf`, "-p", dir, "-s", "quit"]); process.exit(1); });
