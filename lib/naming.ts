import { createHash, scryptSync } from "crypto";
import type { AppSpec } from "./schema";

/**
 * Names of everything wsenv creates, derived from the environment's name, the stack name and content only
 * (never from time or randomness), so running the program twice gives identical names.
 */

function shortHash(text: string, length: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/** Environment names: what a component name must look like, because every Docker object name starts with it. */
export const ENVIRONMENT_NAME = /^[a-z][a-z0-9-]{0,14}[a-z0-9]$|^[a-z]$/;

/** Why a component name cannot name Docker objects, or undefined when it can. */
export function environmentNameProblem(name: string): string | undefined {
  return ENVIRONMENT_NAME.test(name) && !name.includes("--")
    ? undefined
    : `must be 1 to 16 lowercase letters, digits and single hyphens, starting with a letter (it starts every Docker object name) (got ${JSON.stringify(name)})`;
}

/**
 * `<environment>-<stack>`, the start of every Docker object name of one Environment: the program's
 * environment `wsenv` on stack `dev` is `wsenv-dev`, and `chat` beside `admin` in one stack never share a
 * name. Lowercase DNS-label characters only and at most 36 characters, so every name built on it stays a
 * valid container name and a hostname of at most 63. A stack name that had to be changed gets a hash of
 * the original, so stacks `Dev` and `dev` never share containers.
 */
export function environmentPrefix(environment: string, stack: string): string {
  const problem = environmentNameProblem(environment);
  if (problem) throw new Error(`environment name: ${problem}`);
  const cleaned = stack.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").replace(/-{2,}/g, "-");
  const fits = cleaned.slice(0, 29 - environment.length).replace(/-+$/, "") || "stack";
  return fits === stack ? `${environment}-${fits}` : `${environment}-${fits}-${shortHash(stack, 5)}`;
}

/** The Docker object names of one Environment, all from its {@link environmentPrefix}. */
export const networkName = (prefix: string) => `${prefix}-net`;
export const balancerContainerName = (prefix: string) => `${prefix}-balancer`;
/** A network alias every app node carries: Docker's DNS answers it with the addresses of all of them. */
export const peersAlias = (prefix: string) => `${prefix}-app-peers`;
/** Local tag of the app image: one tag per content, so a changed app is a new image, not a moved tag. */
export const appImageName = (prefix: string, contentHash: string) => `${prefix}-app:${contentHash.slice(0, 16)}`;
/** Where the app's build context is staged, relative to the project folder. */
export const buildContextDir = (prefix: string) => `.wsenv/build/${prefix}`;

/**
 * What the secret values contribute to a node's revision. A changed secret must roll the nodes like any
 * other app change (the same names would mean every node deleted before its replacement starts), but a
 * plain hash of a weak secret, shown in a container name, would let anyone check guesses at hash speed.
 * scrypt makes each guess cost ~0.1 s and 32 MiB, and only 32 bits of the combined revision are shown.
 */
export function secretEnvDigest(stack: string, secretEnv: Record<string, string>): string {
  const entries = JSON.stringify(Object.entries(secretEnv).sort(([a], [b]) => (a < b ? -1 : 1)));
  return scryptSync(entries, `wsenv-node-revision:${stack}`, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }).toString("hex");
}

/**
 * A node's revision: a hash of every node input that Docker can only change by replacing the container
 * (image, environment, ports, command, secrets through {@link secretEnvDigest}), and of the health check,
 * which the Docker provider records but never applies to a running container. Nodes of a new revision get
 * new names, so they start beside the old ones instead of colliding with them. Memory and restart policy
 * update in place and stay out.
 */
export function nodeRevision(app: AppSpec, imageName: string, secretDigest: string, healthCheck: string[]): string {
  const replacing = {
    imageName,
    stack: app.stack,
    context: app.context,
    httpPort: app.httpPort,
    wsPort: app.wsPort,
    wsCommand: app.wsCommand,
    env: Object.entries(app.env).sort(([a], [b]) => (a < b ? -1 : 1)),
    // Docker replaces a container for a new read-only setting, and never applies a new tmpfs to one. Only
    // when on, so the revisions of existing nodes stay what they were.
    ...(app.readOnly ? { readOnly: true } : {}),
    secretDigest,
    healthCheck,
  };
  return shortHash(JSON.stringify(replacing), 8);
}

export const appNodeName = (prefix: string, revision: string, index: number) => `${prefix}-app-${revision}-${index}`;
