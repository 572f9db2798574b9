import { X509Certificate, createHash, createPrivateKey } from "crypto";
import { ConfigError, problem } from "./errors";
import { NGINX_IMAGE_LAYOUT, NginxLayout } from "./presets";
import { base64Lines } from "./stdinLines";

/**
 * The balancer's certificate and key: checked before anything is declared, delivered to the running
 * container on their own (the key is a Pulumi secret; the nginx config only names the files), and named
 * by content, so a rotation writes new files beside the live ones and a rejected pair never replaces
 * what serves.
 */

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** The key is a PEM private key and belongs to the certificate; the message never shows the key. */
export function checkTlsKey(certificate: string, key: string): void {
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new ConfigError([problem("tlsKey", "must be a PEM private key (-----BEGIN PRIVATE KEY-----) (got a secret that is not)")]);
  }
  if (!new X509Certificate(certificate).checkPrivateKey(privateKey)) {
    throw new ConfigError([problem("tlsKey", (k) => `is not the key of ${k("balancer.tls.certificate")} (got a secret that belongs to another certificate)`)]);
  }
}

/**
 * The name both files share: a hash of the certificate. A key belongs to one certificate (checkTlsKey
 * refuses any other), so a new key is a new certificate and a new name, and the plan, which never sees
 * the key, renders the same config as `up` applies.
 */
export function tlsFileName(certificate: string): string {
  return `wsenv-${sha256(certificate).slice(0, 16)}`;
}

/** The port part of an https:// origin on `port`: none for HTTPS's own 443. */
export function httpsPortSuffix(port: number): string {
  return port === 443 ? "" : `:${port}`;
}

/** When the server's certificate (the first of the chain) expires, as an ISO 8601 time. */
export function certificateExpiry(certificate: string): string {
  return new Date(new X509Certificate(certificate).validTo).toISOString();
}

/** What the TLS step reads on stdin: the file name, the chain and the key. */
export function tlsStdin(fileName: string, certificate: string, key: string): string {
  return base64Lines(fileName, certificate, key);
}

/**
 * The step that writes the certificate and key into the running balancer, in `layout.tlsDir`: the key
 * readable by root only (the nginx master reads it; workers never do), each written under a temporary
 * name and renamed, so a half-written file is never read. Files that neither this pair nor the live
 * nginx.conf names are removed: at most the serving pair and the next one are in the container. The
 * config step that follows judges the pair with `nginx -t` and reloads.
 */
export function renderTlsScript(layout: NginxLayout = NGINX_IMAGE_LAYOUT): string {
  const dir = layout.tlsDir;
  return `set -eu
c="$WSENV_BALANCER"
IFS= read -r name_b64
IFS= read -r cert_b64
IFS= read -r key_b64
name=$(printf '%s' "$name_b64" | base64 -d)
case "$name" in wsenv-[0-9a-f]*) ;; *) echo "wsenv: refusing TLS file name $name" >&2; exit 1 ;; esac
docker exec "$c" sh -c 'mkdir -p ${dir} && chmod 700 ${dir}'
printf '%s' "$cert_b64" | base64 -d | docker exec -i "$c" sh -c "cat > ${dir}/$name.crt.next && chmod 644 ${dir}/$name.crt.next && mv ${dir}/$name.crt.next ${dir}/$name.crt"
printf '%s' "$key_b64" | base64 -d | docker exec -i "$c" sh -c "umask 077 && cat > ${dir}/$name.key.next && mv ${dir}/$name.key.next ${dir}/$name.key"
docker exec "$c" sh -c "for f in ${dir}/*; do case \\"\\$f\\" in ${dir}/$name.*) ;; *) grep -qF \\"\\$f\\" ${layout.confFile} || rm -f \\"\\$f\\" ;; esac; done"
echo "wsenv: balancer $c has TLS files $name"
`;
}
