import { NGINX_IMAGE_LAYOUT, NginxLayout } from "./presets";

/**
 * The shell script that puts new balancer files into the running nginx container and reloads it. It runs
 * where `pulumi up` runs and reaches the container through the docker CLI, so it works as well when
 * DOCKER_HOST points at a remote engine (no bind mount of host files).
 *
 * Order matters: both files are staged beside the live ones, swapped in, and judged by `nginx -t` against
 * the whole config. If nginx rejects them the previous files go back and the script fails with nginx's own
 * message (file and line): the running nginx was never told to reload, so it keeps serving the old config,
 * and a restart would read the old files too. Only a config nginx accepts is applied, by SIGHUP to the
 * master (PID 1): a graceful reload in which old workers finish their sockets.
 *
 * Inputs (environment): WSENV_BALANCER (container), WSENV_NGINX_CONF and WSENV_SNIPPET (file contents).
 */
export function renderApplyScript(layout: NginxLayout = NGINX_IMAGE_LAYOUT): string {
  const conf = layout.confFile;
  const snippet = layout.snippetFile;
  return `set -eu
c="$WSENV_BALANCER"
printf '%s' "$WSENV_NGINX_CONF" | docker exec -i "$c" sh -c 'cat > ${conf}.wsenv-next'
printf '%s' "$WSENV_SNIPPET" | docker exec -i "$c" sh -c 'cat > ${snippet}.wsenv-next'
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
echo "wsenv: balancer config applied to $c (nginx -t passed, graceful reload sent)"
`;
}
