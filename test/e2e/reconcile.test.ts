import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { LOCAL_IMAGES, PROJECT_DIR, describeWithEngine, eventually, freePort, httpGet, leftovers, stageApp } from "../support/e2e";
import { EngineStack, Run, changes } from "../../harness/engine";
import { LiveTraffic, TrafficReport } from "../support/load";

// Every kind of change `pulumi up` reconciles, on the real engine, each applied while WebSockets are open
// and an HTTP loop runs: what the engine did, what was dropped, what failed, how long the up took. The
// measurements go to test-output/reconcile.json.
const STACK = "e2e-reconcile";
const PREFIX = `wsenv-${STACK}-`;
const SOCKETS = 200;
/** A config change must keep every socket: shown with this many. */
const RELOAD_SOCKETS = 1000;
const REBUILT_NGINX = "wsenv-test/nginx:bookworm-rebuilt";

interface Phase {
  up: Run;
  traffic: TrafficReport;
}

const inspect = (name: string, format: string) => spawnSync("docker", ["inspect", "-f", format, name], { encoding: "utf8" }).stdout.trim();

describeWithEngine("reconciling on every up, under live traffic", () => {
  jest.setTimeout(420_000);
  let stack: EngineStack;
  let port: number;
  /** The chat app, copied so that a test can change it. */
  let chat: string;
  const results: Record<string, unknown> = {};
  let balancer: Record<string, unknown> = { image: LOCAL_IMAGES.nginx, websocketTimeout: "1h", snippet: "add_header X-Wsenv-Test v1;" };
  let app: Record<string, unknown> = { nodes: 2, env: { CHAT_PING_INTERVAL: "600" } };

  const write = () =>
    stack.configure({
      "wsenv:balancer": { port, listenAddress: "127.0.0.1", workerConnections: 8192, ...balancer },
      "wsenv:app": { stack: "apache-php", image: LOCAL_IMAGES.php, wsCommand: "php server.php", source: path.relative(PROJECT_DIR, chat), ...app },
    });
  const url = () => `http://127.0.0.1:${port}/`;
  /** A node container's resource name: its index, not its Docker name (which carries the revision). */
  const containerOf = (dockerName: string) => `wsenv-node-${dockerName.split("-").pop()}-container`;
  const appImages = () => spawnSync("docker", ["images", "--format", "{{.Repository}}:{{.Tag}}", `${PREFIX}app`], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);
  const appNodes = () => spawnSync("docker", ["ps", "--format", "{{.Names}}", "--filter", `name=${PREFIX}app-`], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean).sort();

  const phaseTraffic = new Map<string, LiveTraffic>();
  async function underLoad(name: string, change: () => void, sockets = SOCKETS): Promise<Phase> {
    const traffic = new LiveTraffic(url(), `ws://127.0.0.1:${port}/ws/`);
    await traffic.start(sockets);
    change();
    await write();
    const up = await stack.up();
    await new Promise((r) => setTimeout(r, 1500)); // closes and reconnects still in flight
    const report = await traffic.stop();
    results[name] = { upOk: up.ok, upMs: up.ms, changed: changes(up), ...report, httpErrors: report.httpErrors };
    phaseTraffic.set(name, traffic);
    return { up, traffic: report };
  }

  beforeAll(async () => {
    port = await freePort();
    chat = stageApp("apps/chat-php");
    // A second, different nginx image for the one change that must replace the balancer.
    execFileSync("sh", ["-c", `printf 'FROM ${LOCAL_IMAGES.nginx}\\nLABEL wsenv.test=rebuilt\\n' | DOCKER_BUILDKIT=0 docker build -q -t ${REBUILT_NGINX} -`]);
    stack = await EngineStack.open(STACK);
    await write();
    EngineStack.ok(await stack.up());
  });

  afterAll(async () => {
    await stack?.remove();
    spawnSync("docker", ["rmi", REBUILT_NGINX], { stdio: "ignore" });
    if (chat) fs.rmSync(chat, { recursive: true, force: true });
    fs.mkdirSync(path.join(PROJECT_DIR, "test-output"), { recursive: true });
    fs.writeFileSync(path.join(PROJECT_DIR, "test-output", "reconcile.json"), JSON.stringify(results, null, 2));
  });

  test("nothing changed: a preview expects no change, and an up does nothing and drops nothing", async () => {
    EngineStack.ok(await stack.preview({ expectNoChanges: true }));
    const { up, traffic } = await underLoad("no change", () => undefined);
    expect(changes(EngineStack.ok(up))).toEqual([]);
    expect([traffic.closes, traffic.httpFailed]).toEqual([{}, 0]);
  });

  test(`a snippet change is a Command update only: the same balancer container, none of ${RELOAD_SOCKETS} live sockets dropped`, async () => {
    const before = inspect(`${PREFIX}balancer`, "{{.Id}}");
    const { up, traffic } = await underLoad(
      "balancer config",
      () => {
        balancer = { ...balancer, websocketTimeout: "2h", snippet: "add_header X-Wsenv-Test v2;" };
      },
      RELOAD_SOCKETS,
    );
    expect(changes(EngineStack.ok(up))).toEqual(["update command:local:Command wsenv-balancer-config"]);
    expect(inspect(`${PREFIX}balancer`, "{{.Id}}")).toBe(before);
    expect(traffic.sockets).toBe(RELOAD_SOCKETS);
    expect([traffic.closes, traffic.httpFailed]).toEqual([{}, 0]);
    expect((await httpGet(url())).headers["x-wsenv-test"]).toBe("v2");
  });

  test("worker count and CPU weight: a reload and a docker update of the same container, nothing dropped", async () => {
    const name = `${PREFIX}balancer`;
    const before = inspect(name, "{{.Id}}");
    const { up, traffic } = await underLoad("balancer workers and cpu weight", () => {
      balancer = { ...balancer, workerProcesses: 3, cpuShares: 2048 };
    });
    expect(changes(EngineStack.ok(up))).toEqual(["update docker:index/container:Container wsenv-balancer-container", "update command:local:Command wsenv-balancer-config"]);
    expect(inspect(name, "{{.Id}}")).toBe(before);
    expect(inspect(name, "{{.HostConfig.CpuShares}}")).toBe("2048");
    // Old workers keep their sockets until they close (worker_shutdown_timeout); count the new ones.
    const workers = execFileSync("docker", ["top", name], { encoding: "utf8" }).split("\n").filter((l) => /nginx: worker process$/.test(l.trim()));
    expect(workers).toHaveLength(3);
    expect([traffic.closes, traffic.httpFailed]).toEqual([{}, 0]);
  });

  test("node memory and restart policy: a docker update of the same node containers, nothing dropped", async () => {
    const nodes = appNodes();
    const ids = nodes.map((n) => inspect(n, "{{.Id}}"));
    const { up, traffic } = await underLoad("node memory and restart policy", () => {
      app = { ...app, memoryMb: 384, restart: "always" };
    });
    expect(changes(EngineStack.ok(up)).sort()).toEqual(nodes.map((n) => `update docker:index/container:Container ${containerOf(n)}`).sort());
    expect(appNodes().map((n) => inspect(n, "{{.Id}}"))).toEqual(ids);
    for (const node of nodes) {
      expect(inspect(node, "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.RestartPolicy.Name}}")).toBe(`${384 * 1024 * 1024} ${384 * 1024 * 1024} always`);
    }
    expect([traffic.closes, traffic.httpFailed]).toEqual([{}, 0]);
  });

  test("an invalid snippet fails the up with nginx's message; the old config keeps serving, nothing dropped", async () => {
    const health = (await httpGet(`${url()}_wsenv/health`)).body;
    const { up, traffic } = await underLoad("invalid snippet", () => {
      balancer = { ...balancer, snippet: "add_header X-Wsenv-Test v3;\nno_such_directive on;" };
    });
    expect(up.ok).toBe(false);
    expect(up.messages).toMatch(/unknown directive "no_such_directive" in \/etc\/nginx\/wsenv-snippet\.conf:3/);
    expect([traffic.closes, traffic.httpFailed]).toEqual([{}, 0]);
    expect((await httpGet(`${url()}_wsenv/health`)).body).toBe(health);
    expect((await httpGet(url())).headers["x-wsenv-test"]).toBe("v2");
    // The next up with a fixed snippet goes through.
    balancer = { ...balancer, snippet: "add_header X-Wsenv-Test v4;" };
    await write();
    EngineStack.ok(await stack.up());
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
    expect(changes(EngineStack.ok(up))).toEqual([`create docker:index/container:Container ${containerOf(added[0])}`, "update command:local:Command wsenv-balancer-config"]);
    expect([traffic.closes, traffic.httpFailed]).toEqual([{}, 0]);
    await eventually(async () => (await httpGet(url())).headers["x-wsenv-node"] === added[0], 20_000, 50);
  });

  test("scale down: the node leaves the upstream before it is deleted; only its own sockets close (1001) and reconnect", async () => {
    const before = appNodes();
    const { up, traffic } = await underLoad("scale down", () => {
      app = { ...app, nodes: 2 };
    });
    const removed = before.filter((n) => !appNodes().includes(n));
    expect(removed).toHaveLength(1);
    // In this order: the reload without the node, then its deletion.
    expect(changes(EngineStack.ok(up))).toEqual(["update command:local:Command wsenv-balancer-config", `delete docker:index/container:Container ${containerOf(removed[0])}`]);
    const live = phaseTraffic.get("scale down")!;
    expect(live.tracked.filter((t) => t.node !== removed[0] && t.closedWith !== null).map((t) => t.node)).toEqual([]);
    const onRemoved = live.tracked.slice(0, SOCKETS).filter((t) => t.node === removed[0]);
    expect(onRemoved.length).toBeGreaterThan(0);
    expect(onRemoved.map((t) => t.closedWith)).toEqual(onRemoved.map(() => 1001));
    expect(traffic.closes).toEqual({ "1001": onRemoved.length });
    expect(traffic.reconnected).toBe(onRemoved.length);
    expect(traffic.httpFailed).toBe(0);
  });

  test("app changed: the nodes roll, new ones first; no HTTP request fails, every dropped socket says 1001 and reconnects", async () => {
    const before = appNodes();
    const [imageBefore] = appImages();
    const { up, traffic } = await underLoad("rolling deploy", () => {
      fs.appendFileSync(path.join(chat, "index.php"), "\n<!-- version 2 -->\n");
    });
    // Each node is replaced beside itself: the new containers first, then the reload onto them, then the
    // old ones deleted, last.
    const steps = changes(EngineStack.ok(up));
    const at = (step: string) => steps.indexOf(step);
    const reload = at("update command:local:Command wsenv-balancer-config");
    for (const node of before.map(containerOf)) {
      expect(at(`create-replacement docker:index/container:Container ${node}`)).toBeGreaterThanOrEqual(0);
      expect(at(`create-replacement docker:index/container:Container ${node}`)).toBeLessThan(reload);
      expect(at(`delete-replaced docker:index/container:Container ${node}`)).toBeGreaterThan(reload);
    }
    // A new image for the new content; the old one goes with the last node that ran it.
    expect(appImages()).toEqual([expect.stringMatching(new RegExp(`^${PREFIX}app:`))]);
    expect(appImages()).not.toContain(imageBefore);
    expect((await httpGet(url())).body).toContain("<!-- version 2 -->");
    const after = appNodes();
    expect(after.filter((n) => before.includes(n))).toEqual([]);
    expect(after).toHaveLength(2);
    expect(traffic.httpFailed).toBe(0);
    expect(Object.keys(traffic.closes)).toEqual(["1001"]);
    expect(traffic.reconnected).toBe(traffic.closes["1001"]);
    const reconnectedTo = phaseTraffic.get("rolling deploy")!.tracked.slice(SOCKETS).map((t) => t.node);
    expect(reconnectedTo.every((n) => after.includes(n))).toBe(true);
  });

  test("an up interrupted with SIGINT mid-rollout leaves the old nodes serving; the next up converges with no pending operation", async () => {
    const before = appNodes();
    app = { ...app, env: { ...(app.env as object), FEATURE: "interrupted" } };
    await write();
    const interrupt = new AbortController();
    // Ctrl-C as soon as the engine starts creating the first node of the new revision (the replacement of
    // a node: created beside the old one, which is deleted last).
    const interrupted = await stack.up({
      signal: interrupt.signal,
      onStep: (step) => step.op === "create-replacement" && step.type === "docker:index/container:Container" && interrupt.abort(),
    });
    expect(interrupt.signal.aborted).toBe(true);
    expect(interrupted.ok).toBe(false);
    expect((await httpGet(url())).status).toBe(200);
    expect(appNodes()).toEqual(expect.arrayContaining(before));

    const resumed = EngineStack.ok(await stack.up());
    results["interrupted rollout"] = { interruptedMs: interrupted.ms, interruptedSteps: changes(interrupted), resumedMs: resumed.ms, resumedSteps: changes(resumed) };
    EngineStack.ok(await stack.preview({ expectNoChanges: true }));
    expect((await stack.exportState()).pending_operations ?? []).toEqual([]);
    const after = appNodes();
    expect(after).toHaveLength(2);
    expect(after.filter((n) => before.includes(n))).toEqual([]);
    const page = await httpGet(url());
    expect(page.status).toBe(200);
    expect(after).toContain(page.headers["x-wsenv-node"]);
  });

  test("a node dies: requests go around it, the restart policy brings it back, and an up recreates one removed behind Pulumi's back", async () => {
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

    const address = inspect(other, "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}");
    spawnSync("docker", ["rm", "-f", other], { stdio: "ignore" });
    const up = EngineStack.ok(await stack.up());
    // The refresh finds it gone and the program's registration creates it again. nginx resolved its name
    // when it loaded its config, so the balancer reloads when the node came back under another address
    // (Docker often hands out the freed one again: then there is nothing to reload).
    const moved = inspect(other, "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}") !== address;
    expect(changes(up)).toEqual([`create docker:index/container:Container ${containerOf(other)}`, ...(moved ? ["update command:local:Command wsenv-balancer-config"] : [])]);
    expect(appNodes()).toContain(other);
    await eventually(async () => (await httpGet(url())).headers["x-wsenv-node"] === other, 20_000, 50);
  });

  test("balancer image changed: a real replacement; the outage is the container's restart", async () => {
    const { up, traffic } = await underLoad("balancer image", () => {
      balancer = { ...balancer, image: REBUILT_NGINX };
    });
    expect(changes(EngineStack.ok(up))).toEqual(
      expect.arrayContaining(["replace docker:index/container:Container wsenv-balancer-container", "replace docker:index/remoteImage:RemoteImage wsenv-balancer-image"]),
    );
    // Every socket goes with the old container; what is measured here is how long HTTP was down.
    expect(traffic.reconnected).toBe(SOCKETS);
    expect(traffic.longestHttpGapMs).toBeLessThan(15_000);
  });

  test("destroy leaves no container, network or image of the stack", async () => {
    EngineStack.ok(await stack.destroy());
    expect(leftovers(PREFIX)).toEqual([]);
  });
});
