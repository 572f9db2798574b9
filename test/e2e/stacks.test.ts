import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import WebSocket from "ws";
import { LOCAL_IMAGES, TOMCAT_IMAGE, containerProcesses, describeWithEngine, describeWithEngineAndImage, freePort, httpGet, leftovers, removeStackFile, runner, stageFixtureApp, writeStack } from "../support/e2e";

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

  beforeAll(async () => {
    port = await freePort();
    app = stageFixtureApp("node-app", { withWs: true });
    await runner("down", STACK);
    writeStack(STACK, {
      "wsenv:balancer": { port, listenAddress: "127.0.0.1", image: LOCAL_IMAGES.nginx, workerConnections: 8192 },
      // Read-only: the node stack runs with only its run-time paths writable (see readonly.test.ts for Apache+PHP).
      "wsenv:app": { stack: "node", image: LOCAL_IMAGES.node, nodes: 2, source: app, context: "api", readOnly: true },
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

    expect(await echoOnce(`ws://127.0.0.1:${port}/ws/`)).toBe("echo:hi");
    // Every process of the node, the supervisor and npm's server included, runs as the image's `node`.
    const processes = containerProcesses(String(page.headers["x-wsenv-node"]));
    expect(processes.length).toBeGreaterThan(1);
    expect(processes.filter((p) => p.uid !== 1000)).toEqual([]);
    expect(spawnSync("docker", ["inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", String(page.headers["x-wsenv-node"])], { encoding: "utf8" }).stdout.trim()).toBe("true");
  });

  test("down leaves nothing of the stack", async () => {
    expect((await runner("down", STACK)).code).toBe(0);
    expect(leftovers(`wsenv-${STACK}-`)).toEqual([]);
  });
});

describeWithEngineAndImage("the tomcat stack", TOMCAT_IMAGE, () => {
  jest.setTimeout(240_000);
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    await runner("down", TOMCAT_STACK);
    writeStack(TOMCAT_STACK, {
      "wsenv:balancer": { port, listenAddress: "127.0.0.1", image: LOCAL_IMAGES.nginx, workerConnections: 8192 },
      "wsenv:app": { stack: "tomcat", image: TOMCAT_IMAGE, nodes: 2, source: path.join(__dirname, "fixtures/tomcat-app") },
    });
  });

  afterAll(async () => {
    await runner("down", TOMCAT_STACK);
    removeStackFile(TOMCAT_STACK);
  });

  test("deploys into webapps/ROOT, runs catalina.sh, serves a JSP and a WebSocket endpoint through the balancer", async () => {
    const up = await runner("up", TOMCAT_STACK);
    if (up.code !== 0) throw new Error(`up failed:\n${up.stdout}\n${up.stderr}`);
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

  test("down leaves nothing of the stack", async () => {
    expect((await runner("down", TOMCAT_STACK)).code).toBe(0);
    expect(leftovers(`wsenv-${TOMCAT_STACK}-`)).toEqual([]);
  });
});
