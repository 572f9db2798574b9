import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { listStacks, readStackConfigFile, specFromConfigMap } from "../../lib/stackConfig";
import { requireOrSkip } from "../support/nginxBinary";
import { scratchProject, toolchainPulumi } from "../support/pulumiCli";

// The real Pulumi CLI (npm run toolchain) reading this project's Pulumi.yaml and stack files: what the
// engine hands the program is what the offline render (`npm run render`) reads.
const projectDir = path.resolve(__dirname, "../..");
const cli = toolchainPulumi();
const run = requireOrSkip("the Pulumi CLI from `npm run toolchain`", cli !== null) ? describe : describe.skip;

/** `pulumi config --json` as the program sees it: full key -> the value, objects parsed. */
function configFromCli(json: string): Record<string, unknown> {
  const entries = Object.entries(JSON.parse(json) as Record<string, { value?: string; objectValue?: unknown; secret: boolean }>);
  return Object.fromEntries(entries.map(([key, v]) => [key, v.objectValue ?? v.value]));
}

run("stack config on the real Pulumi CLI", () => {
  test.each(listStacks(projectDir).filter((s) => !s.startsWith("e2e-")))("stack %s: the CLI's config gives the same spec as the offline reader", (stack) => {
    const project = scratchProject(projectDir);
    project.pulumi(cli!, ["stack", "init", stack, "--non-interactive"]);
    const fromCli = specFromConfigMap(configFromCli(project.pulumi(cli!, ["config", "--stack", stack, "--json"])));
    expect(fromCli).toEqual(specFromConfigMap(readStackConfigFile(projectDir, stack).config));
    fs.rmSync(project.dir, { recursive: true, force: true });
  });

  test("a secret set with the CLI is ciphertext in the stack file and stays out of what render reads", () => {
    const project = scratchProject(projectDir);
    project.pulumi(cli!, ["stack", "init", "e2e", "--non-interactive"]);
    project.pulumi(cli!, ["config", "set", "--stack", "e2e", "--secret", "--path", "wsenv:secretEnv.DB_PASSWORD", "hunter2-wsenv"]);
    const file = fs.readFileSync(path.join(project.dir, "Pulumi.e2e.yaml"), "utf8");
    expect(file).not.toContain("hunter2-wsenv");
    expect((parseYaml(file) as { config: Record<string, { DB_PASSWORD: { secure: string } }> }).config["wsenv:secretEnv"].DB_PASSWORD.secure).toMatch(/^v1:/);
    expect(readStackConfigFile(project.dir, "e2e")).toMatchObject({ config: { "wsenv:secretEnv": { DB_PASSWORD: "[secret]" } }, secretPaths: ["wsenv:secretEnv.DB_PASSWORD"] });
    const shown = JSON.parse(project.pulumi(cli!, ["config", "--stack", "e2e", "--json", "--show-secrets"]));
    expect(shown["wsenv:secretEnv"]).toMatchObject({ secret: true, objectValue: { DB_PASSWORD: "hunter2-wsenv" } });
    fs.rmSync(project.dir, { recursive: true, force: true });
  });
});
