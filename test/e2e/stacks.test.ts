import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import WebSocket from "ws";
import { LOCAL_IMAGES, containerProcesses, describeWithEngine, freePort, httpGet, leftovers, stageApp } from "../support/e2e";
import { EngineStack, Run, deployStack } from "../../harness/engine";

// The node and tomcat presets on the real engine, each through the balancer: the app in its preset's
// directory, started by the preset's command, HTTP and WebSockets on the same port. (apache-php is what
// the other files run.)
const STACK = "e2e-stack-node";
const TOMCAT_STACK = "e2e-stack-tomcat";

function echoOnce(url: string): Promise<string> {
  const socket = new WebSocket(url);
  return new Promise<string>((resolve, reject) => {
    socket.once("open", () => socket.send("hi"));
    socket.once("message", (data) => resolve(String(data)));
    socket.once("error", reject);
  }).finally(() => socket.terminate());
}

describeWithEngine("the node stack", () => {
  jest.setTimeout(180_000);
  let port: number;
  let app: string;
  let stack: EngineStack;
  let up: Run;

  beforeAll(async () => {
    port = await freePort();
    app = stageApp("test/e2e/fixtures/node-app", { withWs: true });
    ({ stack, first: up } = await deployStack(STACK, {
      "wsenv:balancer": { port, listenAddress: "127.0.0.1", image: LOCAL_IMAGES.nginx, workerConnections: 8192 },
      // Read-only: the node stack runs with only its run-time paths writable (see readonly.test.ts for Apache+PHP).
      "wsenv:app": { stack: "node", image: LOCAL_IMAGES.node, nodes: 2, source: app, context: "api", readOnly: true },
    }));
  });

  afterAll(async () => {
    await stack?.remove();
    if (app) fs.rmSync(app, { recursive: true, force: true });
  });

  test("deploys, serves HTTP from /app through the balancer, and proxies WebSockets to the same port", async () => {
    expect(up.outputs.url).toBe(`http://localhost:${port}/api/`);
    const page = await httpGet(`http://127.0.0.1:${port}/api/`);
    expect(page.status).toBe(200);
    expect(JSON.parse(page.body)).toEqual({ cwd: "/app", contextPath: "/api/", url: "/api/" });
    expect(String(page.headers["x-wsenv-node"])).toMatch(/^wsenv-e2e-stack-node-app-[0-9a-f]{8}-[01]$/);

    expect(await echoOnce(`ws://127.0.0.1:${port}/ws/`)).toBe("echo:hi");
    // Every process of the node, the supervisor and npm's server included, runs as the image's `node`.
    const processes = containerProcesses(String(page.headers["x-wsenv-node"]));
    expect(processes.length).toBeGreaterThan(1);
    expect(processes.filter((p) => p.uid !== 1000)).toEqual([]);
    expect(spawnSync("docker", ["inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", String(page.headers["x-wsenv-node"])], { encoding: "utf8" }).stdout.trim()).toBe("true");
  });

  test("a preview expects no change, and destroy leaves nothing of the stack", async () => {
    EngineStack.ok(await stack.preview({ expectNoChanges: true }));
    EngineStack.ok(await stack.destroy());
    expect(leftovers(`wsenv-${STACK}-`)).toEqual([]);
  });
});

describeWithEngine("the tomcat stack", () => {
  jest.setTimeout(240_000);
  let port: number;
  let stack: EngineStack;
  let up: Run;

  beforeAll(async () => {
    port = await freePort();
    ({ stack, first: up } = await deployStack(TOMCAT_STACK, {
      "wsenv:balancer": { port, listenAddress: "127.0.0.1", image: LOCAL_IMAGES.nginx, workerConnections: 8192 },
      "wsenv:app": { stack: "tomcat", image: LOCAL_IMAGES.tomcat, nodes: 2, source: path.join(__dirname, "fixtures/tomcat-app") },
    }));
  });

  afterAll(async () => {
    await stack?.remove();
  });

  test("deploys into webapps/ROOT, runs catalina.sh, serves a JSP and a WebSocket endpoint through the balancer", async () => {
    expect(up.outputs.url).toBe(`http://localhost:${port}/`);
    const page = await httpGet(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    expect(JSON.parse(page.body)).toEqual({ context: "", wsPath: "/ws/", forwardedFor: "true" });
    // Two sockets at once: least_conn puts them on different nodes.
    expect(await Promise.all([echoOnce(`ws://127.0.0.1:${port}/ws/`), echoOnce(`ws://127.0.0.1:${port}/ws/`)])).toEqual(["echo:hi", "echo:hi"]);
    // Every process of the node, the supervisor and Catalina's JVM included, runs as the made `tomcat` user.
    const node = (up.outputs.nodes as { name: string }[])[0].name;
    const processes = containerProcesses(node);
    expect(processes.length).toBeGreaterThan(1);
    expect(processes.filter((p) => p.uid !== 10001)).toEqual([]);
  });

  test("destroy leaves nothing of the stack", async () => {
    EngineStack.ok(await stack.destroy());
    expect(leftovers(`wsenv-${TOMCAT_STACK}-`)).toEqual([]);
  });
});
