import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { LOCAL_IMAGES, PROJECT_DIR, RunnerResult, describeWithEngine, eventually, freePort, httpGet, leftovers, removeStackFile, runner, writeStack } from "../support/e2e";
import { LiveTraffic, TrafficReport } from "../support/load";

// Every kind of change `pulumi up` reconciles, each applied while 200 WebSockets are open and an HTTP loop
// runs: what was dropped, what failed, how long the up took. The measurements go to test-output/.
const STACK = "e2e-reconcile";
const SOCKETS = 200;
const REBUILT_NGINX = "wsenv-test/nginx:bookworm-rebuilt";

interface Phase {
  up: RunnerResult;
  traffic: TrafficReport;
  upMs: number;
}

const inspect = (name: string, format: string) => spawnSync("docker", ["inspect", "-f", format, name], { encoding: "utf8" }).stdout.trim();

describeWithEngine("reconciling on every up, under live traffic", () => {
  jest.setTimeout(300_000);
  let port: number;
  const results: Record<string, unknown> = {};
  let balancer: Record<string, unknown> = { image: LOCAL_IMAGES.nginx, websocketTimeout: "1h", snippet: "add_header X-Wsenv-Test v1;" };
  let app: Record<string, unknown> = { nodes: 2, env: { CHAT_PING_INTERVAL: "600" } };

  const write = () =>
    writeStack(STACK, {
      "wsenv:balancer": { port, listenAddress: "127.0.0.1", workerConnections: 8192, ...balancer },
      "wsenv:app": { stack: "apache-php", image: LOCAL_IMAGES.php, wsCommand: "php server.php", source: "./apps/chat-php", ...app },
    });
  const url = () => `http://127.0.0.1:${port}/`;
  const changed = (up: RunnerResult) => up.lines.filter((l) => !l.startsWith("same ")).map((l) => l.split(" ").slice(0, 3).join(" "));
  const appNodes = () => spawnSync("docker", ["ps", "--format", "{{.Names}}", "--filter", `name=wsenv-${STACK}-app-`], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean).sort();

  const phaseTraffic = new Map<string, LiveTraffic>();
  async function underLoad(name: string, change: () => void): Promise<Phase> {
    const traffic = new LiveTraffic(url(), `ws://127.0.0.1:${port}/ws/`);
    await traffic.start(SOCKETS);
    change();
    write();
    const started = Date.now();
    const up = await runner("up", STACK);
    const upMs = Date.now() - started;
    await new Promise((r) => setTimeout(r, 1500)); // closes and reconnects still in flight
    const report = await traffic.stop();
    results[name] = { upExit: up.code, upMs, changed: changed(up), ...report };
    phaseTraffic.set(name, traffic);
    return { up, traffic: report, upMs };
  }

  beforeAll(async () => {
    port = await freePort();
    await runner("down", STACK);
    // A second, different nginx image for the one change that must replace the balancer.
    execFileSync("sh", ["-c", `printf 'FROM ${LOCAL_IMAGES.nginx}\\nLABEL wsenv.test=rebuilt\\n' | DOCKER_BUILDKIT=0 docker build -q -t ${REBUILT_NGINX} -`]);
    write();
    const up = await runner("up", STACK);
    if (up.code !== 0) throw new Error(`up failed:\n${up.stdout}\n${up.stderr}`);
  });

  afterAll(async () => {
    await runner("down", STACK);
    removeStackFile(STACK);
    spawnSync("docker", ["rmi", REBUILT_NGINX], { stdio: "ignore" });
    fs.mkdirSync(path.join(PROJECT_DIR, "test-output"), { recursive: true });
    fs.writeFileSync(path.join(PROJECT_DIR, "test-output", "reconcile.json"), JSON.stringify(results, null, 2));
  });

  test("nothing changed: nothing happens, nothing dropped", async () => {
    const { up, traffic } = await underLoad("no change", () => undefined);
    expect(changed(up)).toEqual([]);
    expect([traffic.closes, traffic.httpFailed]).toEqual([{}, 0]);
  });

  test("balancer config changed: a checked graceful reload in the same container, nothing dropped", async () => {
    const before = inspect(`wsenv-${STACK}-balancer`, "{{.Id}}");
    const { up, traffic } = await underLoad("balancer config", () => {
      balancer = { ...balancer, websocketTimeout: "2h", snippet: "add_header X-Wsenv-Test v2;" };
    });
    expect(changed(up)).toEqual(["update command:local:Command wsenv-balancer-config"]);
    expect(inspect(`wsenv-${STACK}-balancer`, "{{.Id}}")).toBe(before);
    expect([traffic.closes, traffic.httpFailed]).toEqual([{}, 0]);
    expect((await httpGet(url())).headers["x-wsenv-test"]).toBe("v2");
  });

  test("worker count and CPU weight: a reload and a docker update of the same container, nothing dropped", async () => {
    const name = `wsenv-${STACK}-balancer`;
    const before = inspect(name, "{{.Id}}");
    const { up, traffic } = await underLoad("balancer workers and cpu weight", () => {
      balancer = { ...balancer, workerProcesses: 3, cpuShares: 2048 };
    });
    expect(changed(up)).toEqual(["update docker:index/container:Container wsenv-balancer-container", "update command:local:Command wsenv-balancer-config"]);
    expect(inspect(name, "{{.Id}}")).toBe(before);
    expect(inspect(name, "{{.HostConfig.CpuShares}}")).toBe("2048");
    // Old workers keep their sockets until they close (worker_shutdown_timeout); count the new ones.
    const workers = execFileSync("docker", ["top", name], { encoding: "utf8" }).split("\n").filter((l) => /nginx: worker process$/.test(l.trim()));
    expect(workers).toHaveLength(3);
    expect([traffic.closes, traffic.httpFailed]).toEqual([{}, 0]);
  });

  test("an invalid snippet never reaches nginx: up fails with nginx's message, the old config keeps serving", async () => {
    const health = (await httpGet(`${url()}_wsenv/health`)).body;
    const { up, traffic } = await underLoad("invalid snippet", () => {
      balancer = { ...balancer, snippet: "add_header X-Wsenv-Test v3;\nno_such_directive on;" };
    });
    expect(up.code).not.toBe(0);
    expect(up.stderr).toMatch(/unknown directive "no_such_directive" in \/etc\/nginx\/wsenv-snippet\.conf:3/);
    expect([traffic.closes, traffic.httpFailed]).toEqual([{}, 0]);
    expect((await httpGet(`${url()}_wsenv/health`)).body).toBe(health);
    expect((await httpGet(url())).headers["x-wsenv-test"]).toBe("v2");
    // The next up with a fixed snippet goes through.
    balancer = { ...balancer, snippet: "add_header X-Wsenv-Test v4;" };
    write();
    expect((await runner("up", STACK)).code).toBe(0);
    expect((await httpGet(url())).headers["x-wsenv-test"]).toBe("v4");
  });

  test("scale up: the new node is created (healthy) before the reload adds it, nothing dropped", async () => {
    const before = appNodes();
    const { up, traffic } = await underLoad("scale up", () => {
      app = { ...app, nodes: 3 };
    });
    const added = appNodes().filter((n) => !before.includes(n));
    expect(added).toHaveLength(1);
    // In this order: the node (created only once healthy), then the reload that adds it.
    expect(changed(up)).toEqual([`create docker:index/container:Container ${added[0]}-container`, "update command:local:Command wsenv-balancer-config"]);
    expect([traffic.closes, traffic.httpFailed]).toEqual([{}, 0]);
    await eventually(async () => (await httpGet(url())).headers["x-wsenv-node"] === added[0], 20_000, 50);
  });

  test("scale down: the node leaves the upstream before it is deleted; sockets elsewhere stay, its own say 1001 and reconnect", async () => {
    const before = appNodes();
    const { up, traffic } = await underLoad("scale down", () => {
      app = { ...app, nodes: 2 };
    });
    const removed = before.filter((n) => !appNodes().includes(n));
    expect(removed).toHaveLength(1);
    // In this order: the reload without the node, then its deletion.
    expect(changed(up)).toEqual(["update command:local:Command wsenv-balancer-config", `delete docker:index/container:Container ${removed[0]}-container`]);
    const live = phaseTraffic.get("scale down")!;
    expect(live.tracked.filter((t) => t.node !== removed[0] && t.closedWith !== null).map((t) => t.node)).toEqual([]);
    // 200 sockets over three nodes: the removed one carried some, and each of those closed with 1001.
    const onRemoved = live.tracked.slice(0, SOCKETS).filter((t) => t.node === removed[0]);
    expect(onRemoved.length).toBeGreaterThan(0);
    expect(onRemoved.map((t) => t.closedWith)).toEqual(onRemoved.map(() => 1001));
    expect(traffic.closes).toEqual({ "1001": onRemoved.length });
    expect(traffic.reconnected).toBe(onRemoved.length);
    expect(traffic.httpFailed).toBe(0);
  });

  test("app changed: rolling replacement, new nodes first; no HTTP request fails, every dropped socket says 1001 and reconnects", async () => {
    const before = appNodes();
    const { up, traffic } = await underLoad("rolling deploy", () => {
      app = { ...app, env: { ...(app.env as object), FEATURE: "on" } };
    });
    expect(up.code).toBe(0);
    const after = appNodes();
    expect(after.filter((n) => before.includes(n))).toEqual([]);
    expect(after).toHaveLength(2);
    expect(traffic.httpFailed).toBe(0);
    expect(Object.keys(traffic.closes)).toEqual(["1001"]);
    expect(traffic.reconnected).toBe(traffic.closes["1001"]);
    const reconnectedTo = phaseTraffic.get("rolling deploy")!.tracked.slice(SOCKETS).map((t) => t.node);
    expect(reconnectedTo.every((n) => after.includes(n))).toBe(true);
  });

  test("a node dies: requests go around it, the restart policy brings it back, and an up recreates one that is gone", async () => {
    const traffic = new LiveTraffic(url(), `ws://127.0.0.1:${port}/ws/`);
    await traffic.start(50);
    const [victim, other] = appNodes();
    const started = Date.now();
    // SIGKILL to the node's main process from outside Docker's API, like a crash or the OOM killer
    // (`docker kill` counts as a manual stop, which no restart policy undoes).
    execFileSync("kill", ["-9", inspect(victim, "{{.State.Pid}}")]);
    await eventually(async () => inspect(victim, "{{.RestartCount}}") !== "0" && inspect(victim, "{{.State.Health.Status}}") === "healthy", 90_000, 250);
    const backMs = Date.now() - started;
    const report = await traffic.stop();
    results["node dies"] = { backMs, ...report };
    expect(report.httpFailed).toBe(0);
    expect(report.longestHttpGapMs).toBeLessThan(2000);

    spawnSync("docker", ["rm", "-f", other], { stdio: "ignore" });
    const up = await runner("up", STACK);
    expect(up.code).toBe(0);
    expect(changed(up)).toContain(`create docker:index/container:Container ${other}-container`);
    expect(appNodes()).toContain(other);
    await eventually(async () => (await httpGet(url())).headers["x-wsenv-node"] === other, 20_000, 50);
  });

  test("balancer image changed: a real replacement; the outage is the container's restart", async () => {
    const { up, traffic } = await underLoad("balancer image", () => {
      balancer = { ...balancer, image: REBUILT_NGINX };
    });
    expect(up.code).toBe(0);
    expect(changed(up)).toEqual(
      expect.arrayContaining(["replace docker:index/container:Container wsenv-balancer-container", "replace docker:index/remoteImage:RemoteImage wsenv-balancer-image"]),
    );
    // Every socket goes with the old container; what is measured here is how long HTTP was down.
    expect(traffic.reconnected).toBe(SOCKETS);
    expect(traffic.longestHttpGapMs).toBeLessThan(15_000);
  });

  test("down leaves nothing of the stack", async () => {
    expect((await runner("down", STACK)).code).toBe(0);
    expect(leftovers(`wsenv-${STACK}-`)).toEqual([]);
  });
});
