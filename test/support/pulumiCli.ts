import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { currentToolchain, toolchainEnv } from "../../scripts/toolchainPlan";
import { tempDir } from "./nginxBinary";

/** The Pulumi CLI `npm run toolchain` built for this checkout's pins, or null where it has not run. */
export function toolchainPulumi(): string | null {
  const { dir, missing } = currentToolchain();
  return missing.some((part) => part.binary === "pulumi") ? null : path.join(dir, "bin", "pulumi");
}

/** A scratch project: the repo's Pulumi.yaml and stack files in a temp folder, with its own file backend. */
export function scratchProject(projectDir: string): { dir: string; pulumi: (cli: string, args: string[]) => string } {
  const dir = tempDir("wsenv-cli-");
  for (const file of fs.readdirSync(projectDir).filter((f) => /^Pulumi(\..+)?\.yaml$/.test(f))) {
    fs.copyFileSync(path.join(projectDir, file), path.join(dir, file));
  }
  fs.mkdirSync(path.join(dir, ".state"));
  // A PULUMI_HOME of its own: these commands need no plugin, and the CLI records the selected stack there.
  const env = {
    ...toolchainEnv(currentToolchain().dir),
    PULUMI_HOME: path.join(dir, ".pulumi-home"),
    PULUMI_BACKEND_URL: `file://${path.join(dir, ".state")}`,
    PULUMI_CONFIG_PASSPHRASE: "wsenv-test",
  };
  return { dir, pulumi: (cli, args) => execFileSync(cli, args, { cwd: dir, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
}
