import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import WebSocket from "ws";
import { LOCAL_IMAGES, PROJECT_DIR, describeWithEngine, freePort, httpGet, leftovers, removeStackFile, runner, writeStack } from "../support/e2e";

// The node stack's preset on the real engine: the app in /app started with `npm start`, HTTP and
// WebSockets on the same port (3000), through the balancer. (apache-php is what the other files run.)
const STACK = "e2e-stack-node";

describeWithEngine("the node stack", () => {
  jest.setTimeout(180_000);
  let port: number;
  let app: string;

  beforeAll(async () => {
    port = await freePort();
    app = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-node-app-"));
    fs.cpSync(path.join(__dirname, "fixtures/node-app"), app, { recursive: true });
    fs.cpSync(path.join(PROJECT_DIR, "node_modules/ws"), path.join(app, "node_modules/ws"), { recursive: true });
    await runner("down", STACK);
    writeStack(STACK, {
      "wsenv:balancer": { port, listenAddress: "127.0.0.1", image: LOCAL_IMAGES.nginx, workerConnections: 8192 },
      "wsenv:app": { stack: "node", image: LOCAL_IMAGES.node, nodes: 2, source: app, context: "api" },
    });
  });

  afterAll(async () => {
    await runner("down", STACK);
    removeStackFile(STACK);
    fs.rmSync(app, { recursive: true, force: true });
  });

  test("deploys, serves HTTP from /app through the balancer, and proxies WebSockets to the same port", async () => {
    const up = await runner("up", STACK);
    if (up.code !== 0) throw new Error(`up failed:\n${up.stdout}\n${up.stderr}`);
    expect(up.outputs.url).toBe(`http://localhost:${port}/api/`);
    const page = await httpGet(`http://127.0.0.1:${port}/api/`);
    expect(page.status).toBe(200);
    expect(JSON.parse(page.body)).toEqual({ cwd: "/app", contextPath: "/api/", url: "/api/" });
    expect(String(page.headers["x-wsenv-node"])).toMatch(/^wsenv-e2e-stack-node-app-[0-9a-f]{8}-[01]$/);

    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws/`);
    const echoed = await new Promise<string>((resolve, reject) => {
      socket.once("open", () => socket.send("hi"));
      socket.once("message", (data) => resolve(String(data)));
      socket.once("error", reject);
    });
    expect(echoed).toBe("echo:hi");
    socket.terminate();
  });

  test("down leaves nothing of the stack", async () => {
    expect((await runner("down", STACK)).code).toBe(0);
    expect(leftovers(`wsenv-${STACK}-`)).toEqual([]);
  });
});
