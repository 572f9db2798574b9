/**
 * Why this exists: the Pulumi Node.js SDK records `new Error().stack` on every promise it creates for a
 * resource, four per output property (value, known, secret, dependencies). A docker Container has ~79
 * properties, so each app node costs ~316 stack captures, source-mapped under the language host's
 * ts-node. Measured on the real engine (the toolchain's CLI and Node.js language host), `pulumi preview`
 * of a 100-node environment took 10.9 s with them and 6.5 s without (median of 4 runs each). The SDK
 * only ever prints those stacks when PULUMI_DEBUG_PROMISE_LEAKS is set; resource source positions are
 * read by the SDK with its own, unlimited, stack depth and are unaffected.
 */

/** The environment variable with which the Pulumi SDK prints the stacks of promises left pending. */
export const PROMISE_LEAK_DEBUG_ENV = "PULUMI_DEBUG_PROMISE_LEAKS";

/**
 * Runs `declare` (synchronous resource declarations) with stack capture off, then restores the previous
 * limit: only errors made inside that synchronous call lose their stack, and none is expected there.
 * Leaves stacks on when the user debugs promise leaks, the one time the SDK shows them.
 */
export function withoutPromiseStacks<T>(declare: () => T, env: NodeJS.ProcessEnv = process.env): T {
  if (env[PROMISE_LEAK_DEBUG_ENV]) return declare();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return declare();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
