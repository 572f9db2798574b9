import { createHash } from "crypto";
import { Registration, fakeAddress, runProgram } from "../support/programUnderMocks";

const devConfig = {
  "wsenv:balancer": { port: 8080, websocketPaths: ["/ws/"] },
  "wsenv:app": { stack: "apache-php", nodes: 2, wsCommand: "php server.php", source: "./apps/chat-php" },
};

const CONTAINER = "docker:index/container:Container";
const COMMAND = "command:local:Command";
const byType = (regs: Registration[], type: string) => regs.filter((r) => r.type === type);
/** The balancer files the config step pipes to its script: nginx.conf and the snippet, base64 lines. */
const appliedFiles = (regs: Registration[]) => {
  const [nginxConf, snippet] = String(byType(regs, COMMAND)[0].inputs.stdin).trimEnd().split("\n").map((line) => Buffer.from(line, "base64").toString("utf8"));
  return { nginxConf, snippet };
};

describe("the program under mocks", () => {
  jest.setTimeout(60_000);

  test("a good config runs without error", async () => {
    expect((await runProgram(devConfig)).error).toBeUndefined();
  });

  test("declares the environment: network, image, nodes, balancer and its config, each under its component", async () => {
    const { registrations } = await runProgram(devConfig);
    const summary = registrations.map((r) => `${r.type} ${r.name} <- ${r.parent}`).sort();
    expect(summary).toEqual(
      [
        "wsenv:index:Environment wsenv <- ",
        "docker:index/network:Network wsenv-network <- wsenv",
        "wsenv:index:AppImage wsenv-app <- wsenv",
        "docker:index/image:Image wsenv-app-image <- wsenv-app",
        "docker:index/remoteImage:RemoteImage wsenv-app-local <- wsenv-app",
        "wsenv:index:AppServerNode wsenv-node-0 <- wsenv",
        "wsenv:index:AppServerNode wsenv-node-1 <- wsenv",
        `${CONTAINER} wsenv-node-0-container <- wsenv-node-0`,
        `${CONTAINER} wsenv-node-1-container <- wsenv-node-1`,
        "wsenv:index:BalancerNode wsenv-balancer <- wsenv",
        "docker:index/remoteImage:RemoteImage wsenv-balancer-image <- wsenv-balancer",
        `${CONTAINER} wsenv-balancer-container <- wsenv-balancer`,
        `${COMMAND} wsenv-balancer-config <- wsenv-balancer`,
      ].sort(),
    );
  });

  test("only the balancer publishes a port; app nodes are on the private network only", async () => {
    const { registrations } = await runProgram(devConfig);
    const containers = byType(registrations, CONTAINER);
    const published = containers.filter((c) => Array.isArray(c.inputs.ports) && (c.inputs.ports as unknown[]).length > 0);
    expect(published.map((c) => c.name)).toEqual(["wsenv-balancer-container"]);
    expect(published[0].inputs.ports).toEqual([{ internal: 80, external: 8080, ip: "0.0.0.0" }]);
    for (const node of containers.filter((c) => c.name !== "wsenv-balancer-container")) {
      expect(node.inputs.networksAdvanced).toEqual([{ name: "wsenv-dev-net", aliases: [node.inputs.name, "wsenv-dev-app-peers"] }]);
      expect(node.inputs.hostname).toBe(node.inputs.name);
      expect(node.inputs).toMatchObject({ restart: "unless-stopped", memory: 512, capabilities: { drops: ["ALL"] } });
    }
  });

  test("every container declares what Docker reports back (CAP_ names, swap equal to memory), so a refresh finds no difference", async () => {
    const { registrations } = await runProgram(devConfig);
    for (const container of byType(registrations, CONTAINER)) {
      const caps = container.inputs.capabilities as { drops: string[]; adds: string[] };
      expect(caps.drops).toEqual(["ALL"]);
      expect(caps.adds.length).toBeGreaterThan(0);
      expect(caps.adds.filter((cap) => !/^CAP_[A-Z_]+$/.test(cap))).toEqual([]);
      expect(container.inputs.memorySwap).toBe(container.inputs.memory);
    }
  });

  test("the balancer container's limits follow the config: nofile = worker_rlimit_nofile, CPU weight, memory", async () => {
    const { registrations } = await runProgram({ ...devConfig, "wsenv:balancer": { ...devConfig["wsenv:balancer"], workerConnections: 8192, cpuShares: 2048, memoryMb: 768 } });
    const balancer = byType(registrations, CONTAINER).find((c) => c.name === "wsenv-balancer-container")!;
    expect(appliedFiles(registrations).nginxConf).toContain("worker_rlimit_nofile 9216;");
    expect(balancer.inputs.ulimits).toEqual([{ name: "nofile", soft: 9216, hard: 9216 }]);
    expect(balancer.inputs.cpuShares).toBe(2048);
    expect(balancer.inputs.memory).toBe(768);
    for (const node of byType(registrations, CONTAINER).filter((c) => c !== balancer)) expect(node.inputs.cpuShares).toBeUndefined();
  });

  test("the balancer container carries no config: its files go to the config resource, on stdin", async () => {
    const { registrations } = await runProgram({ ...devConfig, "wsenv:balancer": { ...devConfig["wsenv:balancer"], snippet: "add_header X-Snippet yes;" } });
    const balancer = byType(registrations, CONTAINER).find((c) => c.name === "wsenv-balancer-container")!;
    expect(JSON.stringify(balancer.inputs)).not.toContain("proxy_pass");
    expect(balancer.inputs.uploads ?? []).toEqual([]);
    const config = byType(registrations, COMMAND)[0];
    // Only short values in the environment: the kernel caps each one, and the files can be large.
    expect(Object.keys(config.inputs.environment as Record<string, string>).sort()).toEqual(["WSENV_BALANCER", "WSENV_HEALTH_PATH", "WSENV_REVISION", "WSENV_UPSTREAM_ADDRESSES"]);
    expect((config.inputs.environment as Record<string, string>).WSENV_BALANCER).toBe("wsenv-dev-balancer");
    expect(appliedFiles(registrations).nginxConf).toContain("upstream wsenv_ws");
    expect(appliedFiles(registrations).snippet).toContain("add_header X-Snippet yes;");
    expect(config.inputs.triggers).toEqual(["wsenv-balancer-container-id"]);
  });

  test("changing only the rendered config leaves every container's inputs unchanged", async () => {
    const before = await runProgram(devConfig);
    const after = await runProgram({
      ...devConfig,
      "wsenv:balancer": { ...devConfig["wsenv:balancer"], websocketPaths: ["/ws/", "/socket/"], websocketTimeout: "2h", sticky: true, snippet: "location /x/ { return 204; }" },
    });
    const containers = (run: typeof before) => byType(run.registrations, CONTAINER).map((c) => [c.name, c.inputs]);
    expect(containers(after)).toEqual(containers(before));
    expect(appliedFiles(after.registrations).nginxConf).not.toEqual(appliedFiles(before.registrations).nginxConf);
  });

  test("two runs give identical inputs and outputs", async () => {
    const first = await runProgram(devConfig);
    const second = await runProgram(devConfig);
    expect(JSON.stringify(second.registrations)).toBe(JSON.stringify(first.registrations));
    expect(second.outputs).toEqual(first.outputs);
  });

  test("exports url, wsUrl, nodes and balancer", async () => {
    const { outputs } = await runProgram(devConfig);
    expect(outputs).toMatchObject({
      url: "http://localhost:8080/",
      wsUrl: "ws://localhost:8080/ws/",
      balancer: { containerName: "wsenv-dev-balancer", port: 8080 },
      deployed: "./apps/chat-php",
    });
    expect((outputs.nodes as { name: string; address: string }[]).map((n) => Object.keys(n))).toEqual([
      ["name", "address"],
      ["name", "address"],
    ]);
  });

  test("a new app version gets new node names; more nodes keep the existing ones", async () => {
    const names = (run: Awaited<ReturnType<typeof runProgram>>) => byType(run.registrations, CONTAINER).map((c) => c.inputs.name as string).filter((n) => n.includes("-app-"));
    const two = names(await runProgram(devConfig));
    const three = names(await runProgram({ ...devConfig, "wsenv:app": { ...devConfig["wsenv:app"], nodes: 3 } }));
    expect(three.slice(0, 2)).toEqual(two);
    expect(three).toHaveLength(3);
    const changed = names(await runProgram({ ...devConfig, "wsenv:app": { ...devConfig["wsenv:app"], env: { FEATURE: "on" } } }));
    expect(changed.filter((n) => two.includes(n))).toEqual([]);
    // Memory and restart policy update in place: same nodes.
    const tuned = names(await runProgram({ ...devConfig, "wsenv:app": { ...devConfig["wsenv:app"], memoryMb: 1024, restart: "always" } }));
    expect(tuned).toEqual(two);
  });

  test("a rotated secret rolls the nodes under new names, and no name holds a plain hash of the value", async () => {
    const names = (run: Awaited<ReturnType<typeof runProgram>>) => byType(run.registrations, CONTAINER).map((c) => c.inputs.name as string).filter((n) => n.includes("-app-"));
    const withSecret = (value: string) => runProgram({ ...devConfig, "wsenv:secretEnv": { DB_PASSWORD: value } }, "dev", ["wsenv:secretEnv"]);
    const first = names(await withSecret("old-password"));
    expect(names(await withSecret("old-password"))).toEqual(first);
    const rotated = names(await withSecret("new-password"));
    expect(rotated.filter((n) => first.includes(n))).toEqual([]);
    const plainHashes = ["old-password", "new-password"].map((v) => createHash("sha256").update(v).digest("hex"));
    for (const name of [...first, ...rotated]) expect(plainHashes.some((h) => h.includes(name.split("-app-")[1].split("-")[0]))).toBe(false);
  });

  test("an empty secretEnv leaves the nodes' environment in the clear, so diffs show it", async () => {
    const { registrations } = await runProgram(devConfig);
    for (const node of byType(registrations, CONTAINER).filter((c) => String(c.inputs.name).includes("-app-"))) expect(node.secretInputs ?? []).toEqual([]);
  });

  test("the config step runs after the nodes and again when a node's address changes", async () => {
    const { registrations } = await runProgram(devConfig);
    const addresses = byType(registrations, CONTAINER)
      .filter((c) => String(c.inputs.name).includes("-app-"))
      .map((c) => fakeAddress(c.name));
    expect(new Set(addresses).size).toBe(2);
    expect((byType(registrations, COMMAND)[0].inputs.environment as Record<string, string>).WSENV_UPSTREAM_ADDRESSES).toBe(addresses.join(" "));
  });

  test("a secret anywhere in wsenv:app stops the program before any resource, naming the key", async () => {
    const run = await runProgram({ ...devConfig, "wsenv:secretEnv": { DB_PASSWORD: "x" } }, "dev", ["wsenv:app", "wsenv:secretEnv"]);
    expect(run.error?.message).toContain("wsenv:app: must be plain text, not a secret (secure:)");
    expect(run.error?.message).not.toContain("wsenv:secretEnv:");
    expect(run.registrations.filter((r) => r.custom)).toEqual([]);
  });

  test("secrets reach the nodes as Pulumi secrets, never in plain inputs", async () => {
    const { registrations } = await runProgram({ ...devConfig, "wsenv:secretEnv": { DB_PASSWORD: "s3cret-value" } });
    const node = byType(registrations, CONTAINER).find((c) => String(c.inputs.name).includes("-app-"))!;
    expect(JSON.stringify(node.inputs.envs)).toContain("DB_PASSWORD=s3cret-value");
    expect(node.secretInputs).toEqual(["envs"]);
    const names = byType(registrations, CONTAINER).map((c) => String(c.inputs.name)).join(" ");
    expect(names).not.toContain("s3cret");
  });

  test("bad config fails before any resource registers, with every problem named", async () => {
    const run = await runProgram({
      "wsenv:balancer": { websocketPaths: ["/ws/; return 200 x;"], port: "80" },
      "wsenv:app": { nodes: 0, source: "./apps/chat-php" },
    });
    expect(run.registrations).toEqual([]);
    expect(run.error?.message).toContain('wsenv:balancer.websocketPaths[0]: must be a path like /ws/ (got "/ws/; return 200 x;")');
    expect(run.error?.message).toContain("wsenv:balancer.port");
    expect(run.error?.message).toContain("wsenv:app.nodes");
  });

  test("a source folder that does not exist fails before any resource registers", async () => {
    const run = await runProgram({ ...devConfig, "wsenv:app": { ...devConfig["wsenv:app"], source: "./apps/nope" } });
    expect(run.registrations).toEqual([]);
    expect(run.error?.message).toMatch(/wsenv:app\.source: folder \.\/apps\/nope does not exist/);
  });
});
