/**
 * The app node's Docker health check, as the command Docker runs in the container every few seconds.
 *
 * It never opens a connection to the app's socket server: a real single-threaded chat server counts every
 * connection as a user, announces "<address> connected" / "disconnected" to everyone, and logs a warning
 * for the missing handshake, every 5 s, forever. Whether that server is up is read from the kernel's table
 * of listening sockets instead (`/proc/net/tcp` and `tcp6`, state 0A = LISTEN). The HTTP server gets a real
 * HTTP request, as any client would send: any status line counts, since the app decides what `/` answers.
 * bash and grep: every official stack image has both, not all have curl.
 */
export function healthCheckCommand(httpPort: number, socketPort: number | null): string[] {
  const http = [
    `exec 3<>/dev/tcp/127.0.0.1/${httpPort}`,
    `printf 'GET / HTTP/1.0\\r\\nHost: localhost\\r\\nUser-Agent: wsenv-health\\r\\n\\r\\n' >&3`,
    `IFS= read -r -t 3 status <&3`,
    `[[ $status == HTTP/* ]]`,
  ];
  const listening = socketPort === null ? [] : [listeningCheck(socketPort)];
  return ["CMD", "bash", "-c", [...http, ...listening].join(" && ")];
}

/** True when some socket of the container listens on `port` (any address, IPv4 or IPv6). */
function listeningCheck(port: number): string {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  return `grep -qE '^ *[0-9]+: [0-9A-F]+:${hex} [0-9A-F]+:[0-9A-F]+ 0A ' /proc/net/tcp /proc/net/tcp6`;
}
