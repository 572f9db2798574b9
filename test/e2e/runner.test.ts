// The e2e runner (test/runner) against the real Docker engine, with the fixture program in
// test/runner/fixtures/basic. Each step spawns `tsx test/runner/cli.ts` like `npm run e2e:up` does.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { ensureBusyboxImage } from "../runner/fixtures/busybox";

const ROOT = path.resolve(__dirname, "../..");
const FIXTURE = path.join(ROOT, "test/runner/fixtures/basic");
const CLI = path.join(ROOT, "test/runner/cli.ts");
const TSX = path.join(ROOT, "node_modules/.bin/tsx");
const RULES = path.join(ROOT, "test/runner/replace-rules.json");

const STACK = `e2e-rt${process.pid}`; // Pulumi.e2e-*.yaml is gitignored
const PREFIX = `wsenv-rt${process.pid}`;
const LOG = path.join(os.tmpdir(), `wsenv-runner-${process.pid}.log`);
const STATE = path.join(FIXTURE, ".wsenv/e2e-state", `${STACK}.json`);
const CONTAINER = "docker:index/container:Container";
const COMMAND = "command:local:Command";

function engineAnswers(): boolean {
  return spawnSync("docker", ["version", "--format", "{{.Server.Version}}"], { encoding: "utf8", timeout: 15000 }).status === 0;
}

const hasEngine = engineAnswers();
if (!hasEngine && process.env.CI !== "true") {
  console.warn("\n\n*** SKIPPING test/e2e/runner.test.ts: no Docker engine answers (docker version failed). Start dockerd to run it. ***\n\n");
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout lines */
  lines: string[];
  /** the step lines (everything but the final JSON) */
  steps: string[];
}

function cli(cmd: "up" | "down", stack = STACK, env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(TSX, [CLI, cmd, "--stack", stack], { cwd: FIXTURE, encoding: "utf8", env: { ...process.env, ...env }, timeout: 120000 });
  const stdout = r.stdout ?? "";
  const lines = stdout.split("\n").filter((l) => l !== "");
  const steps = lines.filter((l) => !l.startsWith("{"));
  return { code: r.status ?? 1, stdout, stderr: r.stderr ?? "", lines, steps };
}

function expectOk(r: CliResult): void {
  if (r.code !== 0) throw new Error(`runner exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

let port = 0;
let config: Record<string, unknown> = {};

function writeStack(changes: Record<string, unknown>, stack = STACK): void {
  config = { ...config, ...changes };
  for (const [k, v] of Object.entries(config)) if (v === undefined) delete config[k];
  const doc = { config: Object.fromEntries(Object.entries(config).map(([k, v]) => [`fixture:${k}`, v])) };
  fs.writeFileSync(path.join(FIXTURE, `Pulumi.${stack}.yaml`), YAML.stringify(doc));
}

function docker(...args: string[]): string {
  const r = spawnSync("docker", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`docker ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

function containerId(name: string): string | undefined {
  const r = spawnSync("docker", ["inspect", "--format", "{{.Id}}", name], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on("error", reject);
  });
}

function readState(): { resources: Record<string, { type: string; name: string; id?: string; seq: number }>; pendingDeletes: { type: string; name: string; id?: string }[] } {
  return JSON.parse(fs.readFileSync(STATE, "utf8"));
}

/** container create/destroy events for one name between two instants (the engine's own record). */
function containerEvents(name: string, since: number, until: number): string[] {
  const out = docker("events", "--since", String(since / 1000), "--until", String(until / 1000), "--filter", "type=container", "--filter", `container=${name}`, "--filter", "event=create", "--filter", "event=destroy", "--format", "{{.Action}} {{.Actor.ID}}");
  return out.split("\n").filter((l) => l !== "");
}

function cleanupEverything(): void {
  if (fs.existsSync(STATE)) cli("down");
  const q = (args: string[]) => spawnSync("docker", args, { encoding: "utf8" }).stdout.trim().split("\n").filter((x) => x);
  const ids = q(["ps", "-aq", "--filter", `label=wsenv.fixture=${PREFIX}`]);
  if (ids.length) spawnSync("docker", ["rm", "-f", ...ids]);
  for (const n of q(["network", "ls", "-q", "--filter", `label=wsenv.fixture=${PREFIX}`])) spawnSync("docker", ["network", "rm", n]);
  for (const v of q(["volume", "ls", "-q", "--filter", `label=wsenv.fixture=${PREFIX}`])) spawnSync("docker", ["volume", "rm", "-f", v]);
  spawnSync("docker", ["rmi", `${PREFIX}-app:latest`]);
  for (const f of [`Pulumi.${STACK}.yaml`, `Pulumi.${STACK}s.yaml`]) fs.rmSync(path.join(FIXTURE, f), { force: true });
  fs.rmSync(STATE, { force: true });
  fs.rmSync(LOG, { force: true });
  for (const dir of [path.dirname(STATE), path.join(FIXTURE, ".wsenv")]) {
    if (fs.existsSync(dir) && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
  }
}

if (!hasEngine && process.env.CI === "true") {
  test("a Docker engine is required on CI", () => {
    throw new Error("CI=true but no Docker engine answers `docker version`; the e2e runner test cannot run");
  });
}

(hasEngine ? describe : describe.skip)("e2e runner on the local Docker engine", () => {
  jest.setTimeout(120000);
  let webId = "";

  beforeAll(async () => {
    ensureBusyboxImage();
    port = await freePort();
    config = { prefix: PREFIX, port: String(port), logFile: LOG, extraLabels: { "wsenv.test": "runner" } };
    writeStack({});
  });

  afterAll(() => cleanupEverything());

  test("a secure config value is refused with its key named", () => {
    fs.writeFileSync(path.join(FIXTURE, `Pulumi.${STACK}s.yaml`), YAML.stringify({ config: { "fixture:prefix": { secure: "v1:abc" } } }));
    const r = cli("up", `${STACK}s`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("config fixture:prefix");
    expect(r.stderr).toContain("cannot decrypt");
  });

  test("first up creates everything and the url answers through 127.0.0.1", async () => {
    const r = cli("up");
    expectOk(r);
    expect(r.steps.sort()).toEqual(
      [
        `create ${COMMAND} stamp`,
        `create ${CONTAINER} backend`,
        `create ${CONTAINER} extra`,
        `create ${CONTAINER} web`,
        "create docker:index/image:Image app",
        "create docker:index/network:Network net",
        "create docker:index/remoteImage:RemoteImage base",
        "create docker:index/volume:Volume data",
      ].sort(),
    );
    const outputs = JSON.parse(r.lines[r.lines.length - 1]);
    expect(outputs.url).toBe(`http://127.0.0.1:${port}/`);
    expect(outputs.nodes).toEqual([`${PREFIX}-web`, `${PREFIX}-backend`]);
    expect(outputs.image).toMatch(/^sha256:[0-9a-f]{64}$/); // docker.Image repoDigest of a local build = image id
    // a secret input goes to docker in plain, stays secret in the program, and is shown unwrapped here
    expect(outputs.backendEnvs).toEqual([`TOKEN=${PREFIX}`]);
    expect(outputs.backendEnvsIsSecret).toBe(true);
    expect(docker("inspect", "--format", "{{json .Config.Env}}", `${PREFIX}-backend`)).toContain(`TOKEN=${PREFIX}`);
    const res = await get(outputs.url);
    expect(res.status).toBe(200);
    expect(res.body).toBe("fixture app\n");
    expect((await get(`${outputs.url}stamp.txt`)).body).toBe("m1");
    expect((await get(`${outputs.url}uploaded.txt`)).body).toBe("uploaded\n");
    webId = containerId(`${PREFIX}-web`)!;
    expect(docker("inspect", "--format", "{{.State.Health.Status}} {{json .Config.Labels}}", webId)).toBe(`healthy {"wsenv.fixture":"${PREFIX}","wsenv.test":"runner"}`);
  });

  test("a second up changes nothing: only same lines and the same outputs", () => {
    const before = JSON.parse(fs.readFileSync(STATE, "utf8")).outputs;
    const r = cli("up");
    expectOk(r);
    expect(r.steps.length).toBe(8);
    for (const l of r.steps) expect(l).toMatch(/^same /);
    expect(JSON.parse(r.lines[r.lines.length - 1])).toEqual(before);
    expect(containerId(`${PREFIX}-web`)).toBe(webId);
  });

  test("inputs the runner cannot honour fail loudly, before any work for them", () => {
    writeStack({ unsupported: "input" });
    let r = cli("up");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/docker:index\/container:Container web: input gpus is set but the e2e runner does not implement it/);
    writeStack({ unsupported: "type" });
    r = cli("up");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("unsupported resource type docker:index/service:Service (resource svc)");
    writeStack({ unsupported: undefined });
    expect(containerId(`${PREFIX}-web`)).toBe(webId);
  });

  test("a changed input without a replace rule fails loudly and touches nothing", () => {
    const doc = JSON.parse(fs.readFileSync(RULES, "utf8"));
    doc.rules = doc.rules.filter((r: { type: string; key: string }) => !(r.type === CONTAINER && r.key === "envs"));
    const tmpRules = path.join(os.tmpdir(), `wsenv-rules-${process.pid}.json`);
    fs.writeFileSync(tmpRules, JSON.stringify(doc));
    writeStack({ greeting: "bonjour" });
    const r = cli("up", STACK, { WSENV_RUNNER_RULES: tmpRules });
    fs.rmSync(tmpRules, { force: true });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`no replace rule for ${CONTAINER}.envs`);
    expect(containerId(`${PREFIX}-web`)).toBe(webId);
  });

  test("a changed container env replaces the container, deleting the old one before creating the new one", async () => {
    // greeting is already "bonjour" in the stack file
    const since = Date.now() - 1000;
    const r = cli("up");
    const until = Date.now() + 1000;
    expectOk(r);
    expect(r.steps).toContain(`replace ${CONTAINER} web (changed: envs)`);
    // the command's triggers include the container id, so it follows the container
    expect(r.steps).toContain(`replace ${COMMAND} stamp (changed: triggers)`);
    expect(r.steps.filter((l) => !l.startsWith("same ")).length).toBe(2);
    const newId = containerId(`${PREFIX}-web`)!;
    expect(newId).not.toBe(webId);
    expect(spawnSync("docker", ["inspect", webId]).status).not.toBe(0); // old container gone
    expect(containerEvents(`${PREFIX}-web`, since, until)).toEqual([`destroy ${webId}`, `create ${newId}`]);
    expect(docker("inspect", "--format", "{{json .Config.Env}}", newId)).toContain("GREETING=bonjour");
    expect((await get(`http://127.0.0.1:${port}/stamp.txt`)).body).toBe("m1");
    webId = newId;
  });

  test("a changed restart policy updates the container in place (same id)", () => {
    writeStack({ restart: "unless-stopped" });
    const r = cli("up");
    expectOk(r);
    expect(r.steps.filter((l) => !l.startsWith("same "))).toEqual([`update ${CONTAINER} web (changed: restart)`]);
    expect(containerId(`${PREFIX}-web`)).toBe(webId);
    expect(docker("inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", webId)).toBe("unless-stopped");
  });

  test("a changed command trigger replaces only the command (create new, then delete old)", async () => {
    writeStack({ marker: "m2" });
    const r = cli("up");
    expectOk(r);
    const changed = r.steps.filter((l) => !l.startsWith("same "));
    expect(changed).toEqual([`replace ${COMMAND} stamp (changed: delete,stdin,triggers)`]);
    expect(containerId(`${PREFIX}-web`)).toBe(webId);
    expect((await get(`http://127.0.0.1:${port}/stamp.txt`)).body).toBe("m2");
    // the old command's delete ran (with its own inputs) after the new one was created
    expect(fs.readFileSync(LOG, "utf8").trim().split("\n").pop()).toBe("deleted stamped m1");
    expect(r.stderr).toMatch(/stamp: deleted replaced original/);
  });

  test("a resource the program no longer declares is deleted, last", () => {
    writeStack({ withExtra: "false" });
    const r = cli("up");
    expectOk(r);
    expect(r.steps[r.steps.length - 1]).toBe(`delete ${CONTAINER} extra`);
    expect(r.steps.slice(0, -1).every((l) => l.startsWith("same "))).toBe(true);
    expect(containerId(`${PREFIX}-extra`)).toBeUndefined();
  });

  test("a failing command fails up with its output; the state lists what exists and the next up continues", () => {
    writeStack({ failCommand: "true", marker: "m3" });
    const r = cli("up");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('command:local:Command broken: exit status 3: running "echo boom-out; echo boom-err >&2; exit 3"');
    expect(r.stderr).toContain("boom-err");
    expect(r.stdout).not.toMatch(/^\{/m); // no outputs line on failure
    const st = readState();
    const names = Object.values(st.resources).map((x) => `${x.type} ${x.name}`).sort();
    expect(names).toEqual(
      [
        `${COMMAND} stamp`,
        `${CONTAINER} backend`,
        `${CONTAINER} web`,
        "docker:index/image:Image app",
        "docker:index/network:Network net",
        "docker:index/remoteImage:RemoteImage base",
        "docker:index/volume:Volume data",
      ].sort(),
    );
    // the new stamp (m3) was created before the failure; the old one still awaits its delete
    expect(st.pendingDeletes.map((x) => `${x.type} ${x.name}`)).toEqual([`${COMMAND} stamp`]);
    for (const x of Object.values(st.resources).filter((x) => x.type === CONTAINER)) expect(containerId(x.id!)).toBe(x.id);

    writeStack({ failCommand: undefined });
    const again = cli("up");
    expectOk(again);
    expect(again.steps.every((l) => l.startsWith("same "))).toBe(true);
    expect(readState().pendingDeletes).toEqual([]);
    expect(fs.readFileSync(LOG, "utf8").trim().split("\n").pop()).toBe("deleted stamped m2");
  });

  test("down removes every container, network, volume and built image of the stack", () => {
    const r = cli("down");
    expectOk(r);
    expect(r.steps).toEqual([
      `delete ${COMMAND} stamp`,
      `delete ${CONTAINER} web`,
      `delete ${CONTAINER} backend`,
      "delete docker:index/image:Image app",
      "delete docker:index/network:Network net",
      "delete docker:index/remoteImage:RemoteImage base",
      "delete docker:index/volume:Volume data",
    ]);
    expect(docker("ps", "-a", "-q", "--filter", `label=wsenv.fixture=${PREFIX}`)).toBe("");
    expect(docker("ps", "-a", "-q", "--filter", `name=${PREFIX}`)).toBe("");
    expect(docker("network", "ls", "-q", "--filter", `name=${PREFIX}`)).toBe("");
    expect(docker("volume", "ls", "-q", "--filter", `label=wsenv.fixture=${PREFIX}`)).toBe("");
    expect(docker("images", "-q", `${PREFIX}-app`)).toBe("");
    expect(fs.existsSync(STATE)).toBe(false);
    // keepLocally: the base image stays
    expect(spawnSync("docker", ["image", "inspect", "wsenv-test/busybox:fixture"]).status).toBe(0);
  });
});
