import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cacheDir, isComplete, readManifest, refusalParagraph, toolchainParts } from "../../scripts/toolchain";

const goMod = "module x\n\nrequire (\n\tgithub.com/pulumi/pulumi/pkg/v3 v3.276.0\n\tgithub.com/pulumi/pulumi/sdk/v3 v3.276.0\n)\n";
const packageJson = { dependencies: { "@pulumi/docker": "5.2.0", "@pulumi/command": "1.2.1" } };

describe("npm run toolchain", () => {
  test("pins the CLI to the module file's pkg/v3 and the providers to package.json's SDK packages", () => {
    const parts = toolchainParts(goMod, packageJson);
    expect(parts.map((p) => [p.binary, p.module, p.version])).toEqual([
      ["pulumi", "github.com/pulumi/pulumi/pkg/v3", "v3.276.0"],
      ["pulumi-language-nodejs", "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3", "commit of github.com/pulumi/pulumi/pkg/v3@v3.276.0"],
      ["pulumi-resource-docker", "github.com/pulumi/pulumi-docker/provider/v5", "v5.2.0"],
      ["pulumi-resource-command", "github.com/pulumi/pulumi-command/provider", "7f3eb6f3b77cd0fa3895ba437a695dd393f7dd25"],
    ]);
  });

  test("a module file without pkg/v3 or a package.json without a provider's SDK is an error naming it", () => {
    expect(() => toolchainParts("module x\n", packageJson)).toThrow("toolchain/pulumi/go.mod does not require github.com/pulumi/pulumi/pkg/v3");
    expect(() => toolchainParts(goMod, { dependencies: { "@pulumi/docker": "5.2.0" } })).toThrow("package.json has no dependency @pulumi/command");
  });

  test("a refused module stops it with one paragraph naming the module, the version, the pin and the proxy's answer", () => {
    const [, , docker] = toolchainParts(goMod, packageJson);
    const text = refusalParagraph(docker, "reading https://proxy/x.info: 403 Forbidden\n\tserver response: This module version is not available.\n", ["pulumi"]);
    expect(text.split("\n")).toHaveLength(1);
    expect(text).toContain("will not serve github.com/pulumi/pulumi-docker/provider/v5 at v5.2.0");
    expect(text).toContain("pinned by @pulumi/docker in package.json");
    expect(text).toContain("the proxy answered: reading https://proxy/x.info: 403 Forbidden server response: This module version is not available.");
    expect(text).toContain("Built and cached so far: pulumi.");
  });

  test("the cache folder is the same for the same inputs and new for a changed go.sum or Go release", () => {
    const a = cacheDir("/c", "v3.276.0", ["mod", "sum", "go1.26.8"]);
    expect(cacheDir("/c", "v3.276.0", ["mod", "sum", "go1.26.8"])).toBe(a);
    expect(cacheDir("/c", "v3.276.0", ["mod", "sum2", "go1.26.8"])).not.toBe(a);
    expect(cacheDir("/c", "v3.276.0", ["mod", "sum", "go1.27.3"])).not.toBe(a);
    expect(path.basename(a)).toMatch(/^pulumi-v3\.276\.0-[0-9a-f]{12}$/);
  });

  test("a folder without a manifest has nothing built; one with a manifest says what is", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wsenv-toolchain-"));
    expect(readManifest(dir)).toBeUndefined();
    fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ built: ["pulumi"] }));
    expect(readManifest(dir)).toEqual({ built: ["pulumi"] });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the toolchain is complete only when every part is built", () => {
    const parts = toolchainParts(goMod, packageJson);
    expect(isComplete(undefined, parts)).toBe(false);
    expect(isComplete({ built: ["pulumi"] }, parts)).toBe(false);
    expect(isComplete({ built: parts.map((p) => p.binary) }, parts)).toBe(true);
  });
});
