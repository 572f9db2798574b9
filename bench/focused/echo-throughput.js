// Focused measurement behind balancer.websocketBufferSize: echo round trips per second through host nginx
// (one worker), 50 sockets, 1 KiB and 8 KiB messages, 5 s each. Usage: node echo-backend.js & node
// echo-throughput.js NAME "<ws location directives>" "<http directives>"
// node tput.js name "<ws directives>" "<http directives>" : echo round trips/s with 50 sockets, 1 KiB and 8 KiB messages
const { spawnSync } = require("child_process");
const fs = require("fs");
const WebSocket = require(require.resolve("ws", { paths: [require("path").resolve(__dirname, "../..")] }));
const [, , name, wsExtra, httpExtra] = process.argv;
const dir = `${require("os").tmpdir()}/wsenv-focused-t-${name}`;
fs.rmSync(dir, { recursive: true, force: true }); fs.mkdirSync(dir);
fs.writeFileSync(`${dir}/nginx.conf`, `worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 4000; }
http { access_log off; large_client_header_buffers 4 16k; ${httpExtra}
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream ws { server 127.0.0.1:29200; }
  server { listen 29202; location /ws/ { proxy_pass http://ws; proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade; proxy_buffering off; ${wsExtra} } } }`);
spawnSync("nginx", ["-c", `${dir}/nginx.conf`, "-p", dir]);
const run = (size) => new Promise((resolve) => {
  let count = 0; const socks = []; const msg = Buffer.alloc(size, 120);
  let open = 0;
  for (let i = 0; i < 50; i++) {
    const s = new WebSocket("ws://127.0.0.1:29202/ws/", { perMessageDeflate: false });
    s.on("open", () => { if (++open === 50) { const t0 = Date.now(); for (const x of socks) x.send(msg); setTimeout(() => { for (const x of socks) x.terminate(); resolve(count / ((Date.now() - t0) / 1000)); }, 5000); } });
    s.on("message", () => { count++; s.send(msg); });
    s.on("error", () => {});
    socks.push(s);
  }
});
(async () => { const out = []; for (const size of [1024, 8192]) out.push(`${size}B ${(await run(size)).toFixed(0)}/s`); fs.writeSync(1, name.padEnd(10) + " " + out.join("  ") + "\n"); spawnSync("nginx", ["-c", `${dir}/nginx.conf`, "-p", dir, "-s", "quit"]); process.exit(0); })();
