// The backend of the focused measurements: a ws echo server on 127.0.0.1:29200.
const { WebSocketServer } = require(require.resolve("ws", { paths: [require("path").resolve(__dirname, "../..")] }));
const http = require("http");
const s = http.createServer((q, r) => r.end("ok"));
new WebSocketServer({ server: s }).on("connection", (ws) => ws.on("message", (d) => ws.send(d)));
s.listen(29200, "127.0.0.1");
