import type { BalancerFiles } from "./nginx";
import { NGINX_IMAGE_LAYOUT, NginxLayout } from "./presets";
import { base64Lines } from "./stdinLines";

/** What the apply script reads on stdin: nginx.conf, then the snippet. */
export function applyStdin(files: Pick<BalancerFiles, "nginxConf" | "snippet">): string {
  return base64Lines(files.nginxConf, files.snippet);
}

/**
 * The shell script that puts new balancer files into the running nginx container and reloads it. It runs
 * where `pulumi up` runs and reaches the container through the docker CLI, so it works as well when
 * DOCKER_HOST points at a remote engine (no bind mount of host files).
 *
 * Order matters: both files are staged beside the live ones, swapped in, and judged by `nginx -t` against
 * the whole config. If nginx rejects them the previous files go back and the script fails with nginx's own
 * message (file and line): the running nginx was never told to reload, so it keeps serving the old config,
 * and a restart would read the old files too. Only a config nginx accepts is applied, by SIGHUP to the
 * master (PID 1): a graceful reload in which old workers finish their sockets. A reload is asynchronous,
 * so the script then asks the health endpoint (from inside the container, through bash's /dev/tcp) until
 * three answers in a row name the new files' revision: when `up` moves on, the new config is what serves.
 * If nginx could not load it after all (it keeps the old config then), the step fails with its error log.
 *
 * Inputs: the two files on stdin ({@link applyStdin}), never in environment values, whose size the kernel
 * caps (an over-long one fails the exec with "Argument list too long"); the environment holds only short
 * values: WSENV_BALANCER (container), WSENV_REVISION (the files' revision), WSENV_HEALTH_PATH and
 * WSENV_UPSTREAM_ADDRESSES (the nodes' current addresses, reported when the config is live).
 */
export function renderApplyScript(layout: NginxLayout = NGINX_IMAGE_LAYOUT): string {
  const probe = `exec 3<>/dev/tcp/127.0.0.1/${layout.listenPort} && printf "GET $1 HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n" >&3 && cat <&3`;
  const conf = layout.confFile;
  const snippet = layout.snippetFile;
  return `set -eu
c="$WSENV_BALANCER"
IFS= read -r conf_b64
IFS= read -r snippet_b64
printf '%s' "$conf_b64" | base64 -d | docker exec -i "$c" sh -c 'cat > ${conf}.wsenv-next'
printf '%s' "$snippet_b64" | base64 -d | docker exec -i "$c" sh -c 'cat > ${snippet}.wsenv-next'
docker exec "$c" sh -c '
for f in ${conf} ${snippet}; do
    if [ -e "$f" ]; then cp -p "$f" "$f.wsenv-prev"; else : > "$f.wsenv-prev"; fi
    mv "$f.wsenv-next" "$f"
done
if ! out=$(nginx -t 2>&1); then
    for f in ${conf} ${snippet}; do mv "$f.wsenv-prev" "$f"; done
    printf "%s\\n" "$out" >&2
    echo "wsenv: nginx rejected the new balancer config; the balancer keeps serving the previous one" >&2
    exit 1
fi
rm -f ${conf}.wsenv-prev ${snippet}.wsenv-prev
'
docker kill --signal HUP "$c" > /dev/null
seen=0
for _ in $(seq 1 100); do
    if docker exec "$c" bash -c '${probe}' _ "$WSENV_HEALTH_PATH" 2>/dev/null | grep -q "wsenv-config=$WSENV_REVISION"; then
        seen=$((seen + 1))
        if [ "$seen" -ge 3 ]; then
            echo "wsenv: balancer $c serves config $WSENV_REVISION for the nodes at $WSENV_UPSTREAM_ADDRESSES (nginx -t passed, graceful reload done)"
            exit 0
        fi
    else
        seen=0
    fi
    sleep 0.1
done
echo "wsenv: nginx on $c did not start serving config $WSENV_REVISION within 10 s; its error log:" >&2
docker logs --tail 20 "$c" 2>&1 | grep -v '"GET ' >&2 || true
exit 1
`;
}
