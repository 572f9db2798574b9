import * as dns from "dns";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as net from "net";
import { Transform } from "stream";
import { pipeline } from "stream/promises";
import { withoutCredentials } from "./credentials";
import { ConfigError, sourceError } from "./errors";

/**
 * Downloading an archive source: streamed to disk within a size limit and a time limit, redirects followed
 * under the same rules, and no host on a loopback, private or link-local address unless the stack allows
 * it (`app.allowPrivateNetwork`).
 */

const ARCHIVE_LIMIT_BYTES = 512 * 1024 * 1024;
const DOWNLOAD_TIMEOUT_MS = 120_000;
const REDIRECT_LIMIT = 5;

// Loopback, "this network", private (RFC 1918, CGNAT, unique local) and link-local ranges, where cloud
// metadata services live. BlockList matches IPv4-mapped IPv6 addresses against the IPv4 ranges too.
const PRIVATE_NETWORKS = new net.BlockList();
for (const [network, prefix] of [["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12], ["192.168.0.0", 16]] as const) {
  PRIVATE_NETWORKS.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10]] as const) PRIVATE_NETWORKS.addSubnet(network, prefix, "ipv6");

function refusePrivate(shown: string, address: string): void {
  if (PRIVATE_NETWORKS.check(address, net.isIPv6(address) ? "ipv6" : "ipv4")) {
    throw sourceError((key) => `${shown} is on a loopback, link-local or private address (${address}); set ${key("app.allowPrivateNetwork")}: true to download from one`);
  }
}

/**
 * dns.lookup that fails when any address of the host is private. The check is the lookup the connection
 * uses, so a name cannot resolve to a public address for a check and to a private one for the download.
 */
function publicLookup(shown: string): net.LookupFunction {
  return (hostname, options, callback) =>
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "");
      try {
        addresses.forEach((a) => refusePrivate(shown, a.address));
      } catch (refusal) {
        return callback(refusal as NodeJS.ErrnoException, "");
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    });
}

function get(url: URL, options: https.RequestOptions): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => (url.protocol === "https:" ? https : http).get(url, options, resolve).on("error", reject));
}

/** Passes bytes through until more than `limit` have gone by, then fails, which ends the download there. */
function atMost(limit: number, tooLarge: () => Error): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > limit ? tooLarge() : null, chunk);
    },
  });
}

/** Streams `location` to `into` within the time and size limits; every failure is a ConfigError naming app.source. */
export async function download(location: string, into: string, allowPrivateNetwork: boolean): Promise<void> {
  const deadline = AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS);
  try {
    await follow(location, into, allowPrivateNetwork, deadline);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const reason = deadline.aborted ? `no answer within ${DOWNLOAD_TIMEOUT_MS / 1000} s` : withoutCredentials((err as Error).message);
    throw sourceError(`downloading ${withoutCredentials(location)} failed: ${reason}`);
  }
}

/** Fetches `location`, following redirects, each hop held to the same rules as the first. */
async function follow(location: string, into: string, allowPrivateNetwork: boolean, deadline: AbortSignal): Promise<void> {
  const tooLarge = () => sourceError(`archive ${withoutCredentials(location)} is larger than 512 MiB`);
  let url = new URL(location);
  for (let hop = 0; hop <= REDIRECT_LIMIT; hop++) {
    const shown = withoutCredentials(url.href);
    if (!/^https?:$/.test(url.protocol)) throw new Error(`it redirects to ${shown}, which is not http(s)`);
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (!allowPrivateNetwork && net.isIP(host)) refusePrivate(shown, host);
    const response = await get(url, { signal: deadline, lookup: allowPrivateNetwork ? undefined : publicLookup(shown) });
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400 && response.headers.location) {
      response.resume();
      url = new URL(response.headers.location, url);
      continue;
    }
    if (status !== 200) {
      response.resume();
      throw new Error(`HTTP ${status}`);
    }
    if (Number(response.headers["content-length"]) > ARCHIVE_LIMIT_BYTES) {
      response.destroy();
      throw tooLarge();
    }
    await pipeline(response, atMost(ARCHIVE_LIMIT_BYTES, tooLarge), fs.createWriteStream(into));
    return;
  }
  throw new Error(`more than ${REDIRECT_LIMIT} redirects`);
}
