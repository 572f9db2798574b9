import * as fs from "fs";
import * as path from "path";

/** The repository: the wsenv project the e2e suite and `npm run bench:deploy` deploy. */
export const PROJECT_DIR = path.resolve(__dirname, "..");

/**
 * A copy of an app folder of this repository (`apps/chat-php`, `test/e2e/fixtures/node-app`) inside the
 * project's ignored .wsenv/, as a folder source must be, for a test that changes it or adds to it; with
 * `withWs`, the project's `ws` copied into its node_modules (containers here cannot install from the
 * registry). The caller removes it.
 */
export function stageApp(folder: string, opts: { withWs?: boolean } = {}): string {
  fs.mkdirSync(path.join(PROJECT_DIR, ".wsenv"), { recursive: true });
  const app = fs.mkdtempSync(path.join(PROJECT_DIR, ".wsenv", `${path.basename(folder)}-`));
  fs.cpSync(path.join(PROJECT_DIR, folder), app, { recursive: true });
  if (opts.withWs) fs.cpSync(path.join(PROJECT_DIR, "node_modules/ws"), path.join(app, "node_modules/ws"), { recursive: true });
  return app;
}
