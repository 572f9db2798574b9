import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { currentToolchain, toolchainEnv } from "../../scripts/toolchainPlan";
import { requireOrSkip, tempDir } from "../support/nginxBinary";

/**
 * The toolchain's CLI and its YAML language host on a provider-free YAML program, with a file backend:
 * what any `up` costs before a program or provider runs (the engine's own floor), and secrets kept.
 */
const { dir, missing } = currentToolchain();
const ready = !missing.some((part) => ["pulumi", "pulumi-language-yaml"].includes(part.binary));
const run = requireOrSkip("the Pulumi CLI and YAML language host from `npm run toolchain`", ready) ? describe : describe.skip;

run("the real Pulumi engine on a YAML program", () => {
  jest.setTimeout(120_000);
  const project = tempDir("wsenv-engine-");
  const env = {
    ...toolchainEnv(dir),
    PULUMI_HOME: path.join(project, ".pulumi-home"),
    PULUMI_BACKEND_URL: `file://${path.join(project, ".state")}`,
    PULUMI_CONFIG_PASSPHRASE: "wsenv-test",
  };
  const pulumi = (...args: string[]) => execFileSync(path.join(dir, "bin", "pulumi"), [...args, "--non-interactive"], { cwd: project, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const timed = (...args: string[]) => {
    const started = Date.now();
    const out = pulumi(...args);
    return { out, ms: Date.now() - started };
  };

  beforeAll(() => {
    fs.mkdirSync(path.join(project, ".state"));
    fs.writeFileSync(
      path.join(project, "Pulumi.yaml"),
      ["name: floor", "runtime: yaml", "config:", "  who:", "    type: string", "  token:", "    type: string", "outputs:", "  greeting: hello ${who}", "  token: ${token}", ""].join("\n"),
    );
    pulumi("stack", "init", "dev");
    pulumi("config", "set", "who", "wsenv");
    pulumi("config", "set", "--secret", "token", "s3cret-token-value");
  });

  afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

  test("up, then a no-op up, a preview and a refresh that report no changes; destroy", () => {
    const first = timed("up", "--yes");
    expect(first.out).toContain("+ 1 created");
    const noop = timed("up", "--yes", "--expect-no-changes");
    expect(noop.out).toContain("1 unchanged");
    expect(pulumi("preview", "--expect-no-changes")).toContain("1 unchanged");
    expect(pulumi("refresh", "--yes", "--expect-no-changes")).toMatch(/1 unchanged/);
    // What the engine's floor is on this machine (the bench's reference for `pulumi up` itself).
    console.log(`real engine floor (YAML, no provider): first up ${first.ms} ms, no-op up ${noop.ms} ms`);
    expect(JSON.parse(pulumi("stack", "output", "--json", "--show-secrets"))).toEqual({ greeting: "hello wsenv", token: "s3cret-token-value" });
    expect(pulumi("destroy", "--yes")).toContain("- 1 deleted");
  });

  test("a secret config value stays ciphertext in the stack file and the state, and [secret] in outputs", () => {
    pulumi("up", "--yes");
    expect(fs.readFileSync(path.join(project, "Pulumi.dev.yaml"), "utf8")).not.toContain("s3cret-token-value");
    const state = fs.readdirSync(path.join(project, ".state"), { recursive: true }).map(String).filter((f) => f.endsWith(".json"));
    expect(state.length).toBeGreaterThan(0);
    for (const file of state) expect(fs.readFileSync(path.join(project, ".state", file), "utf8")).not.toContain("s3cret-token-value");
    expect(JSON.parse(pulumi("stack", "output", "--json"))).toEqual({ greeting: "hello wsenv", token: "[secret]" });
  });
});
