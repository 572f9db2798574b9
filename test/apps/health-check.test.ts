import { spawn } from "child_process";
import * as http from "http";
import * as net from "net";
import { healthCheckCommand } from "../../lib/healthCheck";

// The node's health check, run by bash on this host as Docker runs it in the container, against a socket
// server that counts its connections (as a single-threaded chat server announces each one to its users).
const listen = (server: net.Server): Promise<number> =>
  new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)));
// Asynchronous: the servers live in this process, and a blocking spawn would stop them from answering.
const check = (command: string[]): Promise<number | null> =>
  new Promise((resolve) => spawn(command[1], command.slice(2), { stdio: "ignore", timeout: 10_000 }).on("exit", (code) => resolve(code)));

describe("the app node's health check", () => {
  let sockets: net.Server;
  let site: http.Server;
  let socketConnections = 0;
  let httpRequests: string[] = [];
  let socketPort: number;
  let httpPort: number;

  beforeEach(async () => {
    socketConnections = 0;
    httpRequests = [];
    sockets = net.createServer((c) => {
      socketConnections++;
      c.destroy();
    });
    site = http.createServer((req, res) => {
      httpRequests.push(`${req.method} ${req.url} ${req.headers["user-agent"]}`);
      res.writeHead(404).end();
    });
    socketPort = await listen(sockets);
    httpPort = await listen(site);
  });
  afterEach(() => {
    sockets.close();
    site.close();
  });

  test("a minute of checks (12 at Docker's 5 s interval) never connects to the socket server", async () => {
    const command = healthCheckCommand(httpPort, socketPort);
    for (let i = 0; i < 12; i++) expect(await check(command)).toBe(0);
    expect(socketConnections).toBe(0);
    expect(httpRequests).toEqual(Array(12).fill("GET / wsenv-health"));
  });

  test("fails when the socket server stops listening, or when the HTTP port does not answer HTTP", async () => {
    await new Promise<void>((resolve) => sockets.close(() => resolve()));
    expect(await check(healthCheckCommand(httpPort, socketPort))).not.toBe(0);
    expect(await check(healthCheckCommand(httpPort, null))).toBe(0);
    const silent = net.createServer((c) => c.end());
    const silentPort = await listen(silent);
    expect(await check(healthCheckCommand(silentPort, null))).not.toBe(0);
    silent.close();
  });
});
