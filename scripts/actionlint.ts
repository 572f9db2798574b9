// `npm run lint:workflows`: actionlint on .github/workflows, built from its Go module at a pinned version
// with `go install` on first use, into the toolchain's cache (WSENV_TOOLCHAIN_DIR, default
// ~/.cache/wsenv/toolchain); later runs and other clones reuse the binary.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { toolchainRoot } from "./toolchainPlan";

export const ACTIONLINT_MODULE = "github.com/rhysd/actionlint/cmd/actionlint";
export const ACTIONLINT_VERSION = "v1.7.12";

export function actionlintPath(): string {
  return path.join(toolchainRoot(), `actionlint-${ACTIONLINT_VERSION}`, "actionlint");
}

function build(binary: string): void {
  const started = Date.now();
  console.log(`actionlint ${ACTIONLINT_VERSION}: go install ${ACTIONLINT_MODULE}@${ACTIONLINT_VERSION}`);
  const result = spawnSync("go", ["install", `${ACTIONLINT_MODULE}@${ACTIONLINT_VERSION}`], { env: { ...process.env, GOBIN: path.dirname(binary) }, stdio: "inherit" });
  if (result.status !== 0) throw new Error(`go install of ${ACTIONLINT_MODULE}@${ACTIONLINT_VERSION} failed (exit ${result.status ?? result.error?.message})`);
  console.log(`actionlint ${ACTIONLINT_VERSION}: built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (require.main === module) {
  const binary = actionlintPath();
  if (fs.existsSync(binary)) console.log(`actionlint ${ACTIONLINT_VERSION}: cached at ${binary}`);
  else build(binary);
  const lint = spawnSync(binary, [], { cwd: path.resolve(__dirname, ".."), stdio: "inherit" });
  if (lint.status === 0) console.log("actionlint: the workflows pass");
  process.exit(lint.status ?? 1);
}
