import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EngineStack, changes } from "../../harness/engine";
import { LOCAL_IMAGES, PROJECT_DIR, describeWithEngine, freePort, httpGet, leftovers } from "../support/e2e";

// A stack deployed by the last release before the children were renamed (nodes were named by their Docker
// name, `<name>-<stack>-app-<rev>-<i>`, and declared inside an apply), then updated by this code: the
// aliases keep every resource where it is, so the upgrade changes nothing in Docker.
const RELEASED = "18056f2"; // "Real engine (#19)", the commit before the component was reshaped (#20)
const STACK = "e2e-upgrade";
const pem = (name: string) => fs.readFileSync(path.join(PROJECT_DIR, "test/fixtures/tls", name), "utf8");

/** The project's files at `commit`, or as they are now (tracked and new, not ignored), written to `dir`. */
function checkOut(dir: string, commit?: string): void {
  for (const entry of fs.readdirSync(dir)) {
    // The stack file (config and the passphrase's salt) and the node_modules link stay, as in a real upgrade.
    if (entry !== `Pulumi.${STACK}.yaml` && entry !== "node_modules") fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
  }
  if (commit) {
    const archive = execFileSync("git", ["archive", "--format=tar", commit], { cwd: PROJECT_DIR, maxBuffer: 1 << 28 });
    // With this process's umask, as a clone has (git's archives are 0664; the build digest sees modes).
    execFileSync("tar", ["-x", "--no-same-permissions", "-C", dir], { input: archive });
    return;
  }
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: PROJECT_DIR, encoding: "utf8" }).split("\0");
  for (const file of files.filter((f) => f && fs.existsSync(path.join(PROJECT_DIR, f)) && f !== `Pulumi.${STACK}.yaml`)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(PROJECT_DIR, file), path.join(dir, file));
  }
}

describeWithEngine("upgrading a stack deployed by the previous release", () => {
  jest.setTimeout(600_000);
  let project: string;
  let stack: EngineStack;
  let port: number;

  beforeAll(async () => {
    project = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-upgrade-"));
    fs.symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(project, "node_modules"));
    checkOut(project, RELEASED);
    port = await freePort();
    stack = await EngineStack.open(STACK, { projectDir: project });
    // Everything the names and aliases touch: several nodes, a secret environment and TLS.
    await stack.configure(
      {
        "wsenv:balancer": { port, listenAddress: "127.0.0.1", image: LOCAL_IMAGES.nginx, workerConnections: 8192, websocketPaths: ["/ws/"], tls: { port: await freePort(), certificate: pem("a.crt") } },
        "wsenv:app": { stack: "apache-php", image: LOCAL_IMAGES.php, nodes: 3, wsCommand: "php server.php", source: "./apps/chat-php" },
      },
      { "wsenv:tlsKey": pem("a.key"), "wsenv:secretEnv.API_TOKEN": "upgrade-token" },
    );
  });

  afterAll(async () => {
    await stack?.remove();
    if (project) fs.rmSync(project, { recursive: true, force: true });
  });

  test("the up after the upgrade replaces nothing and changes nothing", async () => {
    const released = EngineStack.ok(await stack.up());
    const containers = (released.outputs.nodes as { name: string }[]).map((n) => n.name);
    expect(containers).toHaveLength(3);
    const ids = () => containers.map((c) => execFileSync("docker", ["inspect", "-f", "{{.Id}}", c], { encoding: "utf8" }).trim());
    const before = ids();

    checkOut(project);
    const preview = EngineStack.ok(await stack.preview());
    expect(changes(preview)).toEqual([]);
    const upgraded = EngineStack.ok(await stack.up());
    expect(changes(upgraded)).toEqual([]);
    expect(upgraded.outputs.nodes).toEqual(released.outputs.nodes);
    expect(ids()).toEqual(before);
    expect((await httpGet(`http://127.0.0.1:${port}/`)).status).toBe(308); // to https, as before

    // The URNs are the new ones: the aliases moved the old ones, they did not keep them.
    const urns = ((await stack.exportState()).resources ?? []).map((r) => r.urn.split("::").pop()!);
    expect(urns).toEqual(expect.arrayContaining(["wsenv-node-0", "wsenv-node-2-container", "wsenv-balancer", "wsenv-network"]));
    expect(urns.filter((u) => u.includes(`${STACK}-app-`))).toEqual([]);
  });

  test("destroy leaves nothing of it", async () => {
    EngineStack.ok(await stack.destroy());
    expect(leftovers(`wsenv-${STACK}-`)).toEqual([]);
  });
});
