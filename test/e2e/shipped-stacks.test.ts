import { spawnSync } from "child_process";
import { listStacks, readStackConfigFile, specFromConfigMap } from "../../lib/stackConfig";
import { LOCAL_IMAGES, PROJECT_DIR, describeWithEngine, freePort, httpGet, leftovers } from "../support/e2e";
import { EngineStack, changes, deployStack } from "../../harness/engine";

// Every stack this repository ships (Pulumi.<stack>.yaml), on the real engine: up, then a preview that
// must find nothing to change and an up that changes nothing. A value Docker reports back differently from
// how the program declares it would show here as a change, and would replace containers on every up. Each
// stack runs as shipped but for where it can run here: a free port on 127.0.0.1, the local stand-in of each
// official image it names (test/images; each says which it stands in for), and at most the connections
// per worker whose open-files limit a dockerd capped at 20000 files can give (README, Troubleshooting).
const MAX_WORKER_CONNECTIONS = 8192;
const SHIPPED = listStacks(PROJECT_DIR).filter((stack) => !stack.startsWith("e2e-"));

const standsInFor = (image: string) => spawnSync("docker", ["inspect", "-f", '{{index .Config.Labels "wsenv-test.stands-in-for"}}', image], { encoding: "utf8" }).stdout.trim();

function standIn(image: string): string {
  if (Object.values(LOCAL_IMAGES).includes(image)) return image;
  const found = Object.values(LOCAL_IMAGES).find((local) => standsInFor(local) === image);
  if (!found) throw new Error(`no local stand-in for ${image} (test/images builds ${Object.values(LOCAL_IMAGES).join(", ")})`);
  return found;
}

describeWithEngine("the shipped stacks on the real engine", () => {
  jest.setTimeout(300_000);

  test.each(SHIPPED)("stack %s: up, then no change to preview and none to apply", async (shipped) => {
    const { config } = readStackConfigFile(PROJECT_DIR, shipped);
    const spec = specFromConfigMap(config);
    const name = `e2e-shipped-${shipped}`;
    const port = await freePort();
    const { stack } = await deployStack(name, {
      ...config,
      "wsenv:balancer": {
        ...(config["wsenv:balancer"] as object),
        port, listenAddress: "127.0.0.1",
        image: standIn(spec.balancer.image),
        workerConnections: Math.min(spec.balancer.workerConnections, MAX_WORKER_CONNECTIONS),
      },
      "wsenv:app": { ...(config["wsenv:app"] as object), image: standIn(spec.app.image) },
    });
    try {
      expect((await httpGet(`http://127.0.0.1:${port}${spec.app.contextPath}`)).status).toBe(200);
      EngineStack.ok(await stack.preview({ expectNoChanges: true }));
      expect(changes(EngineStack.ok(await stack.up()))).toEqual([]);
      EngineStack.ok(await stack.destroy());
      expect(leftovers(`wsenv-${name}-`)).toEqual([]);
    } finally {
      await stack.remove();
    }
  });
});
