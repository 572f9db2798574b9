import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { currentToolchainDir, readManifest } from "../../scripts/toolchain";
import { tempDir } from "./nginxBinary";

/** The Pulumi CLI `npm run toolchain` built for this checkout's pins, or null where it has not run. */
export function toolchainPulumi(): string | null {
  const { dir } = currentToolchainDir();
  return readManifest(dir)?.built.includes("pulumi") ? path.join(dir, "bin", "pulumi") : null;
}

/** A scratch project: the repo's Pulumi.yaml and stack files in a temp folder, with its own file backend. */
export function scratchProject(projectDir: string): { dir: string; pulumi: (cli: string, args: string[]) => string } {
  const dir = tempDir("wsenv-cli-");
  for (const file of fs.readdirSync(projectDir).filter((f) => /^Pulumi(\..+)?\.yaml$/.test(f))) {
    fs.copyFileSync(path.join(projectDir, file), path.join(dir, file));
  }
  fs.mkdirSync(path.join(dir, ".state"));
  const env = {
    ...process.env,
    PULUMI_HOME: path.join(dir, ".pulumi-home"),
    PULUMI_BACKEND_URL: `file://${path.join(dir, ".state")}`,
    PULUMI_CONFIG_PASSPHRASE: "wsenv-test",
    PULUMI_SKIP_UPDATE_CHECK: "true",
  };
  return { dir, pulumi: (cli, args) => execFileSync(cli, args, { cwd: dir, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
}
