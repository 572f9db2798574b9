import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_DIR, cacheDir, checkoutInputs, goModRequire, missingParts, parseSums, readManifest, readPins, toolchainParts } from "../../scripts/toolchainPlan";

const goMod = (pulumi: string) => `module x\n\nrequire (\n\tgithub.com/pulumi/pulumi/pkg/v3 v${pulumi} // indirect\n\tgithub.com/pulumi/pulumi/sdk/v3 v${pulumi}\n)\n`;
const dockerGoMod = "module github.com/pulumi/pulumi-docker/provider/v5\n\nrequire (\n\tgithub.com/pulumi/pulumi-terraform-bridge/v3 v3.127.0\n)\n";
const inputs = (overrides: { pulumi?: string; sdk?: string; cli?: string; docker?: string } = {}) => ({
  packageJson: {
    dependencies: { "@pulumi/docker": overrides.docker ?? "5.0.0", "@pulumi/command": "1.2.1" },
    devDependencies: { pulumi: overrides.pulumi ?? "3.259.0", "@pulumi/pulumi": overrides.sdk ?? "3.259.0" },
  },
  goMods: { pulumi: goMod(overrides.cli ?? "3.259.0"), "language-nodejs": goMod("3.259.0"), docker: dockerGoMod },
});

describe("npm run toolchain: what it builds", () => {
  test("one Pulumi release for the CLI, the language host and both npm packages; the providers at package.json's versions", () => {
    const pins = readPins(inputs());
    expect(pins).toEqual({ pulumi: "3.259.0", docker: "5.0.0", dockerBridge: "v3.127.0", command: "1.2.1" });
    expect(toolchainParts(pins).map((p) => [p.binary, p.version, p.archive ?? null])).toEqual([
      ["pulumi", "3.259.0", null],
      ["pulumi-language-nodejs", "3.259.0", "pulumi-language-nodejs-v3.259.0.tar.gz"],
      ["pulumi-resource-command", "1.2.1", "pulumi-command-v1.2.1.tar.gz"],
      ["pulumi-resource-docker", "5.0.0", "pulumi-docker-v5.0.0.tar.gz"],
      ["pulumi-language-yaml", "1.38.3", null],
    ]);
  });

  test("the Docker provider built on another bridge than its tag's says so in its version, as SemVer build metadata", () => {
    const docker = toolchainParts(readPins(inputs())).find((p) => p.binary === "pulumi-resource-docker")!;
    expect(docker.buildVersion).toBe("5.0.0+bridge.3.127.0");
    expect(docker.from).toContain("terraform-bridge v3.127.0");
    expect(docker.plugin).toEqual({ kind: "resource", name: "docker" });
  });

  test("pins that disagree are all reported at once, naming the file and what it should say", () => {
    expect(() => readPins(inputs({ sdk: "3.260.0", cli: "3.258.0", docker: "^5.0.0" }))).toThrow(
      [
        "the pins disagree:",
        "  package.json: pulumi 3.259.0 and @pulumi/pulumi 3.260.0 must be one Pulumi release",
        "  toolchain/pulumi/go.mod: must require github.com/pulumi/pulumi/pkg/v3 v3.259.0, the release of package.json's pulumi (got v3.258.0)",
        "  toolchain/pulumi/go.mod: must require github.com/pulumi/pulumi/sdk/v3 v3.259.0, the release of package.json's pulumi (got v3.258.0)",
        '  package.json dependencies.@pulumi/docker: must be an exact version like 1.2.3 (got "^5.0.0")',
      ].join("\n"),
    );
  });

  test("this checkout's pins agree, and the archives it builds from are pinned by digest", () => {
    const parts = toolchainParts(readPins(checkoutInputs()));
    const sums = parseSums(fs.readFileSync(path.join(PROJECT_DIR, "toolchain", "SHA256SUMS"), "utf8"));
    expect(parts.filter((p) => p.archive).map((p) => [p.archive, sums[p.archive!]])).toEqual(parts.filter((p) => p.archive).map((p) => [p.archive, expect.stringMatching(/^[0-9a-f]{64}$/)]));
  });

  test("go.mod requirements are read in and out of require blocks", () => {
    expect(goModRequire("require github.com/a/b v1.2.3\n", "github.com/a/b")).toBe("v1.2.3");
    expect(goModRequire(goMod("3.1.0"), "github.com/pulumi/pulumi/pkg/v3")).toBe("v3.1.0");
    expect(goModRequire(goMod("3.1.0"), "github.com/pulumi/pulumi/pkg")).toBeUndefined();
  });

  test("the cache folder is the same for the same inputs and new for a changed input", () => {
    const pins = readPins(inputs());
    const a = cacheDir("/c", pins, ["mod", "sum"]);
    expect(cacheDir("/c", pins, ["mod", "sum"])).toBe(a);
    expect(cacheDir("/c", pins, ["mod", "sum2"])).not.toBe(a);
    expect(cacheDir("/c", { ...pins, docker: "5.0.1" }, ["mod", "sum"])).not.toBe(a);
    expect(path.basename(a)).toMatch(/^pulumi-v3\.259\.0-[0-9a-f]{12}$/);
  });

  test("a folder without a manifest has nothing built; with one, only the parts it lists are", () => {
    const parts = toolchainParts(readPins(inputs()));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-toolchain-"));
    expect(missingParts(readManifest(dir), parts)).toEqual(parts);
    fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ built: { pulumi: "3.259.0 from ..." } }));
    expect(missingParts(readManifest(dir), parts).map((p) => p.binary)).toEqual(["pulumi-language-nodejs", "pulumi-resource-command", "pulumi-resource-docker", "pulumi-language-yaml"]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
