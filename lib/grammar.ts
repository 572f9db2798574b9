/**
 * The strict grammars for every value that ends up inside generated nginx syntax or a Docker name. They
 * admit no `;`, `{`, `}`, quotes, whitespace, `$`, `#`, backslash or newline, so a config value can never
 * close a directive or open a block: injection is impossible by construction, not by escaping.
 */

/** `/ws/`, `/chat/socket`: segments of unreserved URL characters, no empty or dot-dot segment. */
const SEGMENT = String.raw`(?!\.\.?(?:\/|$))[A-Za-z0-9._~-]+`;
// One way to match any path (no nested optional quantifiers), so a long bad value fails in linear time.
export const URL_PATH = new RegExp(String.raw`^\/(?:${SEGMENT}(?:\/${SEGMENT})*\/?)?$`);

/** nginx time: a number and a unit (`90s`, `1h`, `500ms`). */
export const NGINX_DURATION = /^[0-9]{1,7}(?:ms|s|m|h|d)$/;

/** nginx size: a number and an optional unit (`10m`, `16k`, `0`). */
export const NGINX_SIZE = /^[0-9]{1,7}[kKmMgG]?$/;

/** A DNS host name (RFC 1123) or a dotted IPv4 address. */
export const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const IPV4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/;

/** A Docker image reference: `[registry[:port]/]repo[/more]:tag[@sha256:…]`. */
export const IMAGE_REF =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

/** A context name as the platform shows it: `ROOT` or a folder name such as `chat` or `shop-v2`. */
export const CONTEXT_NAME = /^(?:ROOT|[A-Za-z0-9][A-Za-z0-9._-]{0,62})$/;

/** An environment variable name. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** A PHP extension name as `docker-php-ext-install` takes it. */
export const PHP_EXTENSION = /^[a-z][a-z0-9_]{0,31}$/;

/** A git ref: branch, tag or commit, without the characters git itself forbids. */
export const GIT_REF = /^(?!-)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9._\/-]{1,200}(?<![./])$/;

/** nginx duration in seconds (`1h` -> 3600), for cross-field checks. */
export function durationSeconds(value: string): number {
  const match = /^([0-9]+)(ms|s|m|h|d)$/.exec(value);
  if (!match) throw new Error(`not an nginx duration: ${value}`);
  const factor = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as "ms" | "s" | "m" | "h" | "d"];
  return Number(match[1]) * factor;
}
