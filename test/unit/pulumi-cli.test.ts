import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Cli, findCli, runPulumi } from "../../scripts/pulumi";

describe("npm run pulumi / up / preview / destroy", () => {
  let stderr: string;
  let spy: jest.SpyInstance;
  beforeEach(() => {
    stderr = "";
    spy = jest.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      stderr += String(chunk);
      return true;
    });
  });
  afterEach(() => spy.mockRestore());

  const noToolchain = (): Cli => {
    throw new Error("the toolchain in /cache lacks pulumi-language-nodejs");
  };

  test("the toolchain's CLI comes first; the npm package's is asked only without it", async () => {
    const fromNpm = jest.fn(() => Promise.resolve({ path: "/npm/pulumi", env: {} }));
    expect(await findCli(() => ({ path: "/toolchain/pulumi", env: {} }), fromNpm)).toEqual({ path: "/toolchain/pulumi", env: {} });
    expect(fromNpm).not.toHaveBeenCalled();
    expect(await findCli(noToolchain, fromNpm)).toEqual({ path: "/npm/pulumi", env: {} });
  });

  test("without either CLI it stops with one paragraph naming both ways and why each failed, not a stack trace", async () => {
    const code = await runPulumi(["up"], () => findCli(noToolchain, () => Promise.reject(new Error("fetch failed"))));
    expect(code).toBe(1);
    expect(stderr).toContain("no Pulumi CLI is available, so nothing was run");
    expect(stderr).toContain("`npm run toolchain` builds the CLI");
    expect(stderr).toContain("here the toolchain in /cache lacks pulumi-language-nodejs");
    expect(stderr).toContain("`pulumi` npm package (3.259.0, pinned in package.json)");
    expect(stderr).toContain("(fetch failed)");
    expect(stderr).toContain("npm run render -- --stack dev");
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  /** A stand-in CLI that logs its environment and arguments; returns it and the log's lines. */
  function fakeCli(env: NodeJS.ProcessEnv = {}): { cli: Cli; calls: () => string[]; cleanup: () => void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-fake-pulumi-"));
    const log = path.join(dir, "calls.log");
    const file = path.join(dir, "pulumi");
    const line = "$PULUMI_BACKEND_URL|$PULUMI_CONFIG_PASSPHRASE|$PULUMI_HOME|$*";
    fs.writeFileSync(file, `#!/bin/sh\necho "${line}" >> ${log}\n`, { mode: 0o755 });
    return { cli: { path: file, env }, calls: () => fs.readFileSync(log, "utf8").trim().split("\n"), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
  }

  async function withoutPulumiEnv<T>(body: () => Promise<T>): Promise<T> {
    const saved = { ...process.env };
    for (const name of ["PULUMI_CONFIG_PASSPHRASE", "PULUMI_BACKEND_URL", "PULUMI_HOME"]) delete process.env[name];
    try {
      return await body();
    } finally {
      Object.assign(process.env, saved);
    }
  }

  const backend = `file://${path.resolve(__dirname, "../../.pulumi-state")}`;
  const confirm = process.stdout.isTTY ? "" : " --yes";

  test("up selects or creates the stack on the local file backend, then runs with the CLI's own environment", async () => {
    const fake = fakeCli({ PULUMI_HOME: "/toolchain/home" });
    const code = await withoutPulumiEnv(() => runPulumi(["up", "--stack", "e2e", "--skip-preview"], () => Promise.resolve(fake.cli)));
    expect(code).toBe(0);
    expect(fake.calls()).toEqual([`${backend}||/toolchain/home|stack select e2e --create --non-interactive`, `${backend}||/toolchain/home|up --stack e2e${confirm} --skip-preview`]);
    expect(stderr).toContain("empty passphrase");
    fake.cleanup();
  });

  test("preview defaults to the dev stack and never asks for confirmation; another backend is kept", async () => {
    const fake = fakeCli();
    const code = await withoutPulumiEnv(async () => {
      process.env.PULUMI_BACKEND_URL = "s3://bucket";
      process.env.PULUMI_CONFIG_PASSPHRASE = "pw";
      return runPulumi(["preview"], () => Promise.resolve(fake.cli));
    });
    expect(code).toBe(0);
    expect(fake.calls()).toEqual(["s3://bucket|pw||stack select dev --create --non-interactive", "s3://bucket|pw||preview --stack dev"]);
    expect(stderr).toBe("");
    fake.cleanup();
  });

  test("any other command goes to the CLI as it is, without selecting a stack", async () => {
    const fake = fakeCli();
    const code = await withoutPulumiEnv(() => runPulumi(["stack", "export", "--stack", "e2e"], () => Promise.resolve(fake.cli)));
    expect(code).toBe(0);
    expect(fake.calls()).toEqual([`${backend}|||stack export --stack e2e`]);
    fake.cleanup();
  });

  test("--stack without a name is a usage error", async () => {
    const fake = fakeCli();
    expect(await runPulumi(["up", "--stack"], () => Promise.resolve(fake.cli))).toBe(2);
    fake.cleanup();
  });
});
