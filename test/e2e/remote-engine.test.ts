import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import { LOCAL_IMAGES, describeWithEngine, freePort, httpGet, leftovers } from "../support/e2e";
import { EngineStack, changes } from "../../harness/engine";

// A workstation deploying to an engine elsewhere: every Docker call, the balancer's config step included,
// must go through DOCKER_HOST, with no file of this machine mounted into a container. The engine here is
// reached over TCP through a relay to its socket (which this test can watch), standing in for a remote one.
const STACK = "e2e-remote";
const SOCKET = "/var/run/docker.sock";

describeWithEngine("deploying through DOCKER_HOST", () => {
  jest.setTimeout(180_000);
  let port: number;
  let relay: net.Server;
  /** Request lines (method and path) of the Docker API calls that came through the relay. */
  const requests: string[] = [];
  let dockerHost: string;
  let stack: EngineStack;

  const write = (snippet: string) =>
    stack.configure({
      "wsenv:balancer": { port, listenAddress: "127.0.0.1", image: LOCAL_IMAGES.nginx, workerConnections: 8192, snippet },
      "wsenv:app": { stack: "apache-php", image: LOCAL_IMAGES.php, nodes: 1, wsCommand: "php server.php", source: "./apps/chat-php" },
    });

  beforeAll(async () => {
    port = await freePort();
    // Half-open both ways: the docker CLI half-closes a hijacked exec stream when its input ends and
    // still reads the command's output, as through any real TCP path to an engine.
    relay = net.createServer({ allowHalfOpen: true }, (client) => {
      client.on("data", (chunk) => requests.push(...(String(chunk).match(/^(?:GET|HEAD|POST|PUT|DELETE) \S+/gm) ?? [])));
      const engine = net.connect({ path: SOCKET, allowHalfOpen: true });
      client.pipe(engine).pipe(client);
      client.on("error", () => engine.destroy());
      engine.on("error", () => client.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
    dockerHost = `tcp://127.0.0.1:${(relay.address() as net.AddressInfo).port}`;
    // The CLI, the providers and the config step's docker commands all get DOCKER_HOST from here.
    stack = await EngineStack.open(STACK, { env: { DOCKER_HOST: dockerHost } });
  });

  afterAll(async () => {
    await stack?.remove();
    await new Promise<void>((resolve) => relay.close(() => resolve()));
  });

  test("up and a config change both go through DOCKER_HOST, and no container mounts a host path", async () => {
    expect(fs.existsSync(SOCKET)).toBe(true);
    await write("add_header X-Remote one;");
    EngineStack.ok(await stack.up());
    expect((await httpGet(`http://127.0.0.1:${port}/`)).headers["x-remote"]).toBe("one");

    requests.length = 0;
    await write("add_header X-Remote two;");
    const second = EngineStack.ok(await stack.up());
    // Only the config step changed, and its docker exec and kill calls came through DOCKER_HOST.
    expect(changes(second)).toEqual(["update command:local:Command wsenv-balancer-config"]);
    expect(second.steps.find((s) => s.op === "update")?.diffs.sort()).toEqual(["environment", "stdin"]);
    expect(requests.some((r) => /^POST \S*\/containers\/wsenv-e2e-remote-balancer\/exec$/.test(r))).toBe(true);
    expect(requests.some((r) => /^POST \S*\/containers\/wsenv-e2e-remote-balancer\/kill\?signal=HUP/.test(r))).toBe(true);
    expect((await httpGet(`http://127.0.0.1:${port}/`)).headers["x-remote"]).toBe("two");

    const names = execFileSync("docker", ["ps", "-a", "--format", "{{.Names}}", "--filter", `name=wsenv-${STACK}-`], { encoding: "utf8" }).trim().split("\n");
    expect(names).toHaveLength(2);
    const mounts = names.map((n) => execFileSync("docker", ["inspect", "-f", "{{len .Mounts}}", n], { encoding: "utf8" }).trim());
    expect(mounts).toEqual(names.map(() => "0"));
  });

  test("destroy leaves nothing of the stack", async () => {
    EngineStack.ok(await stack.destroy());
    expect(leftovers(`wsenv-${STACK}-`)).toEqual([]);
  });
});
