import { renderDockerfile } from "../../lib/appImage";
import { planEnvironment } from "../../lib/plan";
import { parseWsenvConfig } from "../../lib/schema";

const spec = (stack: string) => parseWsenvConfig({ app: { stack, source: "./app", wsCommand: "run-sockets" } });
const names = { prefix: "wsenv-t", stack: "t" };
const build = { contextDir: ".wsenv/build/wsenv-t", contentHash: "ab".repeat(32), deployed: "./app" };

describe("least privilege of the app's processes", () => {
  test("the node stack's image runs every process as its `node` user, after installing as root", () => {
    const lines = renderDockerfile(spec("node").app).trim().split("\n");
    expect(lines.slice(-2)).toEqual(["USER node", 'CMD ["wsenv-supervise","npm","start"]']);
    expect(lines.findIndex((l) => l.includes("npm ci"))).toBeLessThan(lines.indexOf("USER node"));
  });

  test("apache-php starts as root (Apache drops to www-data itself) and the socket server is switched to www-data", () => {
    expect(renderDockerfile(spec("apache-php").app)).not.toContain("USER ");
    const plan = planEnvironment(names, spec("apache-php"), build, "");
    expect(plan.app.nodes[0].envs.WSENV_WS_USER).toBe("www-data");
    expect(planEnvironment(names, spec("node"), build, "").app.nodes[0].envs.WSENV_WS_USER).toBeUndefined();
  });
});
