import * as fs from "fs";
import * as net from "net";
import { LOCAL_IMAGES, describeWithEngine, freePort, httpGet, leftovers, removeStackFile, runner, writeStack } from "../support/e2e";

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

  const write = (snippet: string) =>
    writeStack(STACK, {
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
    await runner("down", STACK);
  });

  afterAll(async () => {
    await runner("down", STACK);
    removeStackFile(STACK);
    await new Promise<void>((resolve) => relay.close(() => resolve()));
  });

  test("up and a config change both go through DOCKER_HOST, and no container mounts a host path", async () => {
    expect(fs.existsSync(SOCKET)).toBe(true);
    write("add_header X-Remote one;");
    const first = await runner("up", STACK, 240_000, { DOCKER_HOST: dockerHost });
    if (first.code !== 0) throw new Error(`up failed:\n${first.stdout}\n${first.stderr}`);
    expect((await httpGet(`http://127.0.0.1:${port}/`)).headers["x-remote"]).toBe("one");

    requests.length = 0;
    write("add_header X-Remote two;");
    const second = await runner("up", STACK, 240_000, { DOCKER_HOST: dockerHost });
    expect(second.code).toBe(0);
    // Only the config step changed, and its docker exec and kill calls came through DOCKER_HOST.
    expect(second.lines.filter((l) => !l.startsWith("same "))).toEqual(["update command:local:Command wsenv-balancer-config (changed: environment,stdin)"]);
    expect(requests.some((r) => /^POST \S*\/containers\/wsenv-e2e-remote-balancer\/exec$/.test(r))).toBe(true);
    expect(requests.some((r) => /^POST \S*\/containers\/wsenv-e2e-remote-balancer\/kill\?signal=HUP/.test(r))).toBe(true);
    expect((await httpGet(`http://127.0.0.1:${port}/`)).headers["x-remote"]).toBe("two");

    const { execFileSync } = await import("child_process");
    const names = leftovers(`wsenv-${STACK}-`).filter((n) => !n.endsWith("-net"));
    const mounts = names.map((n) => execFileSync("docker", ["inspect", "-f", "{{len .Mounts}}", n], { encoding: "utf8" }).trim());
    expect(mounts).toEqual(names.map(() => "0"));
  });

  test("down leaves nothing of the stack", async () => {
    expect((await runner("down", STACK, 240_000, { DOCKER_HOST: dockerHost })).code).toBe(0);
    expect(leftovers(`wsenv-${STACK}-`)).toEqual([]);
  });
});
