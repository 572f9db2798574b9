<?php
/**
 * wsenv reference app: a WebSocket chat server on core PHP streams only.
 *
 *   php server.php
 *
 * RFC 6455 server (handshake, masking, 7/16/64-bit lengths, fragmentation, UTF-8
 * validation, ping/pong, close handshake, keepalive pings, size limit, partial
 * reads/writes with per-connection buffers) plus a tiny relay mesh so that users
 * connected to different nodes of the same app see each other's messages.
 *
 * Environment (see README.md):
 *   WSENV_WS_PORT       WebSocket + /healthz port (default 8000), listens on 0.0.0.0
 *   WSENV_NODE_NAME     this node's name (default gethostname())
 *   WSENV_PEERS_HOST    DNS name resolving to the IPs of all nodes of this app ('' = single node)
 *   CHAT_RELAY_PORT     relay mesh port (default 8001)
 *   CHAT_RELAY_PEERS    optional comma list of host:port relay endpoints (replaces DNS discovery)
 *   CHAT_PING_INTERVAL  seconds between keepalive pings (default 30)
 */
declare(strict_types=1);

// Never run as a web page: Apache (mod_php / php-fpm) serves this directory too.
if (PHP_SAPI !== 'cli') {
    http_response_code(404);
    header('Content-Type: text/plain; charset=utf-8');
    echo "Not Found\n";
    exit;
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_MESSAGE = 65536;          // bytes of one (reassembled) message; beyond: close 1009
const MAX_HANDSHAKE = 8192;         // bytes of the HTTP request head
const HANDSHAKE_TIMEOUT = 10.0;     // seconds to send a complete request head
const MAX_CLIENT_OUTBUF = 1048576;  // a client this far behind is dropped (never block on it)
const PAUSE_READ_OUTBUF = 262144;   // stop reading a client this far behind (TCP backpressure on floods)
const MAX_LINK_OUTBUF = 4194304;    // same for a peer link (it is re-established by discovery)
const MAX_RELAY_LINE = 65536;
const CLOSE_TIMEOUT = 2.0;          // seconds to wait for the peer's close frame after ours
const SHUTDOWN_GRACE = 2.0;         // seconds to finish close handshakes on SIGTERM
const DISCOVERY_INTERVAL = 2.0;
const LINK_CONNECT_TIMEOUT = 5.0;
const SEEN_IDS_MAX = 10000;         // LRU of relayed message ids (dedupe)
const MAX_SOCKETS = 900;            // stream_select() uses select(): stay below FD_SETSIZE (1024)
const MAX_NAME_CHARS = 32;
const MAX_TEXT_CHARS = 2000;
const JSON_FLAGS = JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE;

function env_str(string $name, string $default): string
{
    $v = getenv($name);
    return ($v === false || trim($v) === '') ? $default : trim($v);
}

function env_port(string $name, int $default): int
{
    $v = env_str($name, (string)$default);
    if (!preg_match('/^\d{1,5}$/', $v) || (int)$v < 1 || (int)$v > 65535) {
        fwrite(STDERR, "invalid $name: '$v' (expected a TCP port 1..65535)\n");
        exit(2);
    }
    return (int)$v;
}

function now(): float
{
    return microtime(true);
}

function valid_utf8(string $s): bool
{
    return $s === '' || preg_match('//u', $s) === 1;
}

function char_len(string $s): int
{
    return (int)preg_match_all('/./su', $s);
}

/** Close codes a peer may send (same rule as the `ws` library). */
function valid_close_code(int $code): bool
{
    return ($code >= 1000 && $code <= 1014 && $code !== 1004 && $code !== 1005 && $code !== 1006)
        || ($code >= 3000 && $code <= 4999);
}

function ws_frame(int $opcode, string $payload): string
{
    $n = strlen($payload);
    $head = chr(0x80 | $opcode);
    if ($n < 126) {
        $head .= chr($n);
    } elseif ($n < 65536) {
        $head .= chr(126) . pack('n', $n);
    } else {
        $head .= chr(127) . pack('J', $n);
    }
    return $head . $payload;
}

/** Value for a key=value log field. */
function log_value(string $v): string
{
    return preg_match('/^[\w.:\/\[\]@+-]+$/', $v) ? $v : (string)json_encode($v, JSON_FLAGS);
}

/** A browser connection (HTTP until upgraded, then WebSocket). */
final class Conn
{
    public string $state = 'http';   // http | ws | closing
    public string $in = '';
    public string $out = '';
    public bool $closeAfterFlush = false;
    public bool $dead = false;
    public ?int $fragOpcode = null;
    public string $fragBuf = '';
    public int $skip = 0;            // payload bytes still to discard (after a close we sent)
    public bool $discardAll = false;
    public float $deadline;          // handshake or close-handshake deadline
    public float $lastPingAt;
    public bool $awaitingPong = false;
    public float $openedAt;
    public string $client = '';      // X-Forwarded-For / X-Real-IP if a balancer set it
    public string $closeInfo = '';

    /** @param resource $sock */
    public function __construct(public $sock, public string $id, public string $remote)
    {
        $this->openedAt = now();
        $this->lastPingAt = $this->openedAt;
        $this->deadline = $this->openedAt + HANDSHAKE_TIMEOUT;
    }
}

/** A relay link between two nodes: outgoing (we write) or incoming (we read). */
final class Link
{
    public string $in = '';
    public string $out = '';
    public bool $dead = false;
    public bool $connecting;
    public float $since;
    public string $remoteNode = '';

    /** @param resource $sock */
    public function __construct(public $sock, public bool $outgoing, public string $target)
    {
        $this->connecting = $outgoing;
        $this->since = now();
    }
}

final class ChatServer
{
    /** @var resource */
    private $listen;
    /** @var resource|null */
    private $relayListen;
    /** @var array<int, Conn> */
    private array $conns = [];
    /** @var array<string, Link> outgoing links by target "host:port" */
    private array $outLinks = [];
    /** @var array<int, Link> incoming links by socket id */
    private array $inLinks = [];
    /** @var array<string, true> targets found to be this very process */
    private array $selfTargets = [];
    /** @var array<string, string> last logged state of each target (up/down) */
    private array $linkState = [];
    /** @var array<string, true> */
    private array $seen = [];
    /** @var array<string, true> */
    private array $ownIps = ['127.0.0.1' => true];
    private string $instance;
    private float $nextDiscovery = 0.0;
    private float $nextTick = 0.0;
    private bool $stopRequested = false;
    private string $stopSignal = '';
    private ?float $stopDeadline = null;

    public function __construct(
        private string $node,
        private int $wsPort,
        private int $relayPort,
        private string $peersHost,
        private ?array $staticPeers,
        private float $pingInterval,
    ) {
        $this->instance = bin2hex(random_bytes(8));
    }

    public function log(string $event, array $kv = []): void
    {
        $line = gmdate('Y-m-d\TH:i:s') . sprintf('.%03dZ', (int)(fmod(now(), 1) * 1000))
            . ' node=' . log_value($this->node) . ' event=' . $event;
        foreach ($kv as $k => $v) {
            $line .= ' ' . $k . '=' . log_value((string)$v);
        }
        @fwrite(STDOUT, $line . "\n");
    }

    public function run(): void
    {
        $ctx = stream_context_create(['socket' => ['backlog' => 511, 'so_reuseaddr' => true, 'tcp_nodelay' => true]]);
        $s = @stream_socket_server("tcp://0.0.0.0:{$this->wsPort}", $errno, $errstr,
            STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, $ctx);
        if ($s === false) {
            fwrite(STDERR, "cannot listen on 0.0.0.0:{$this->wsPort}: $errstr\n");
            exit(1);
        }
        stream_set_blocking($s, false);
        $this->listen = $s;

        $relayMode = $this->staticPeers !== null || $this->peersHost !== '';
        $r = @stream_socket_server("tcp://0.0.0.0:{$this->relayPort}", $errno, $errstr,
            STREAM_SERVER_BIND | STREAM_SERVER_LISTEN, $ctx);
        if ($r === false) {
            if ($relayMode) {
                fwrite(STDERR, "cannot listen on relay port 0.0.0.0:{$this->relayPort}: $errstr\n");
                exit(1);
            }
            $this->log('relay-disabled', ['port' => $this->relayPort, 'error' => $errstr]);
        } else {
            stream_set_blocking($r, false);
            $this->relayListen = $r;
        }

        if ($this->staticPeers === null && $this->peersHost !== '') {
            $this->resolveOwnIps();
        }
        $this->installSignals();
        $this->log('listening', [
            'ws' => "0.0.0.0:{$this->wsPort}",
            'relay' => $this->relayListen ? "0.0.0.0:{$this->relayPort}" : 'off',
            'peers' => $this->staticPeers !== null ? 'static:' . implode(',', $this->staticPeers)
                : ($this->peersHost !== '' ? 'dns:' . $this->peersHost : 'none'),
            'pid' => getmypid(),
        ]);

        while (true) {
            $now = now();
            if ($this->stopRequested && $this->stopDeadline === null) {
                $this->beginShutdown();
            }
            if ($this->stopDeadline !== null) {
                $this->flushLinksBestEffort();
                if (!$this->conns || $now >= $this->stopDeadline) {
                    $this->finishShutdown();
                }
            } else {
                if ($now >= $this->nextDiscovery) {
                    $this->nextDiscovery = $now + DISCOVERY_INTERVAL;
                    $this->discover();
                }
            }
            if ($now >= $this->nextTick) {
                $this->nextTick = $now + 0.25;
                $this->timers($now);
            }
            $this->poll(0.25);
        }
    }

    // ---------------------------------------------------------------- event loop

    private function poll(float $timeout): void
    {
        $read = [];
        $write = [];
        $readables = [];
        if ($this->stopDeadline === null) {
            $read[] = $this->listen;
            if ($this->relayListen) {
                $read[] = $this->relayListen;
            }
        }
        foreach ($this->conns as $c) {
            // A client that sends faster than it reads is throttled by TCP: we stop reading it
            // until it has caught up. (One that stops reading altogether is dropped in queue().)
            if (strlen($c->out) < PAUSE_READ_OUTBUF) {
                $read[] = $c->sock;
            }
            if ($c->out !== '') {
                $write[] = $c->sock;
            }
        }
        foreach ($this->outLinks as $l) {
            $read[] = $l->sock;
            if ($l->connecting || $l->out !== '') {
                $write[] = $l->sock;
            }
        }
        foreach ($this->inLinks as $l) {
            $read[] = $l->sock;
        }
        $except = null;
        $sec = (int)$timeout;
        $usec = (int)(($timeout - $sec) * 1e6);
        if (!$read && !$write) {
            usleep((int)($timeout * 1e6));
            return;
        }
        $n = @stream_select($read, $write, $except, $sec, $usec);
        if ($n === false || $n === 0) {
            return; // timeout, or interrupted by a signal (EINTR)
        }
        foreach ($write as $sock) {
            $id = (int)$sock;
            if (isset($this->conns[$id])) {
                $this->flush($this->conns[$id]);
                continue;
            }
            foreach ($this->outLinks as $l) {
                if ($l->sock === $sock) {
                    $this->linkWritable($l);
                    break;
                }
            }
        }
        foreach ($read as $sock) {
            if ($sock === $this->listen) {
                $this->acceptClients();
            } elseif ($this->relayListen && $sock === $this->relayListen) {
                $this->acceptLinks();
            } elseif (isset($this->conns[(int)$sock])) {
                $this->readConn($this->conns[(int)$sock]);
            } elseif (isset($this->inLinks[(int)$sock])) {
                $this->readInLink($this->inLinks[(int)$sock]);
            } else {
                foreach ($this->outLinks as $l) {
                    if ($l->sock === $sock) {
                        $this->readOutLink($l);
                        break;
                    }
                }
            }
        }
    }

    private function socketCount(): int
    {
        return count($this->conns) + count($this->inLinks) + count($this->outLinks);
    }

    private function acceptClients(): void
    {
        for ($i = 0; $i < 64; $i++) {
            $s = @stream_socket_accept($this->listen, 0, $peer);
            if ($s === false) {
                return;
            }
            stream_set_blocking($s, false);
            stream_set_read_buffer($s, 0);
            stream_set_write_buffer($s, 0);
            $c = new Conn($s, bin2hex(random_bytes(6)), (string)$peer);
            $this->conns[(int)$s] = $c;
            if ($this->socketCount() > MAX_SOCKETS) {
                $this->httpReply($c, 503, 'Service Unavailable', "too many connections\n");
            }
        }
    }

    private function readConn(Conn $c): void
    {
        $data = @fread($c->sock, 65536);
        if ($data === false || ($data === '' && feof($c->sock))) {
            $this->drop($c, $c->state === 'closing' ? 'closed' : 'connection lost');
            return;
        }
        if ($data === '') {
            return;
        }
        if ($c->discardAll || $c->closeAfterFlush) {
            return;
        }
        $c->in .= $data;
        if ($c->state === 'http') {
            $this->handleHttp($c);
        } else {
            $this->handleFrames($c);
        }
    }

    private function queue(Conn $c, string $bytes): void
    {
        if ($c->dead) {
            return;
        }
        $c->out .= $bytes;
        if (strlen($c->out) > MAX_CLIENT_OUTBUF) {
            $this->drop($c, 'slow client (output buffer full)');
            return;
        }
        $this->flush($c);
    }

    private function flush(Conn $c): void
    {
        while (!$c->dead && $c->out !== '') {
            $n = @fwrite($c->sock, $c->out);
            if ($n === false) {
                $this->drop($c, 'write error');
                return;
            }
            if ($n === 0) {
                return; // kernel buffer full: wait until writable
            }
            $c->out = (string)substr($c->out, $n);
        }
        if (!$c->dead && $c->out === '' && $c->closeAfterFlush) {
            $this->drop($c, $c->closeInfo !== '' ? $c->closeInfo : 'closed');
        }
    }

    /** Close the TCP connection now. Idempotent. */
    private function drop(Conn $c, string $why): void
    {
        if ($c->dead) {
            return;
        }
        $c->dead = true;
        unset($this->conns[(int)$c->sock]);
        // Read what is still queued so that close() sends FIN rather than RST (an RST can
        // destroy our close frame before the client has read it).
        for ($i = 0; $i < 16; $i++) {
            $d = @fread($c->sock, 65536);
            if ($d === false || $d === '') {
                break;
            }
        }
        @fclose($c->sock);
        if ($c->state !== 'http') {
            $this->log('disconnect', [
                'conn' => $c->id, 'reason' => $why,
                'duration' => sprintf('%.1fs', now() - $c->openedAt), 'clients' => $this->clientCount(),
            ]);
        }
    }

    private function clientCount(): int
    {
        $n = 0;
        foreach ($this->conns as $c) {
            if ($c->state === 'ws') {
                $n++;
            }
        }
        return $n;
    }

    private function timers(float $now): void
    {
        foreach ($this->conns as $c) {
            if ($c->dead) {
                continue;
            }
            if ($c->state === 'http' || $c->state === 'closing') {
                if ($now >= $c->deadline) {
                    $this->drop($c, $c->state === 'http' ? 'handshake timeout' : 'close timeout');
                }
                continue;
            }
            if ($now - $c->lastPingAt >= $this->pingInterval) {
                if ($c->awaitingPong) {
                    $this->drop($c, 'ping timeout');
                    continue;
                }
                $c->awaitingPong = true;
                $c->lastPingAt = $now;
                $this->queue($c, ws_frame(0x9, (string)(int)($now * 1000)));
            }
        }
        foreach ($this->outLinks as $l) {
            if ($l->connecting && $now - $l->since > LINK_CONNECT_TIMEOUT) {
                $this->dropLink($l, 'connect timeout');
            }
        }
    }

    // ---------------------------------------------------------------- HTTP / handshake

    private function handleHttp(Conn $c): void
    {
        $end = strpos($c->in, "\r\n\r\n");
        if ($end === false) {
            if (strlen($c->in) > MAX_HANDSHAKE) {
                $this->httpReply($c, 431, 'Request Header Fields Too Large', "request head too large\n");
            }
            return;
        }
        if ($end > MAX_HANDSHAKE) {
            $this->httpReply($c, 431, 'Request Header Fields Too Large', "request head too large\n");
            return;
        }
        $head = substr($c->in, 0, $end);
        $rest = (string)substr($c->in, $end + 4);
        $c->in = '';
        $lines = explode("\r\n", $head);
        $requestLine = (string)array_shift($lines);
        if (!preg_match('#^([A-Z]+) (\S+) HTTP/(\d)\.(\d)$#', $requestLine, $m)) {
            $this->httpReply($c, 400, 'Bad Request', "malformed request line\n");
            return;
        }
        [, $method, $target, $major, $minor] = $m;
        $headers = [];
        foreach ($lines as $line) {
            if (!preg_match('/^([!#$%&\'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/', $line, $hm)) {
                $this->httpReply($c, 400, 'Bad Request', "malformed header\n");
                return;
            }
            $k = strtolower($hm[1]);
            $headers[$k] = isset($headers[$k]) ? $headers[$k] . ', ' . $hm[2] : $hm[2];
        }
        $path = explode('?', $target, 2)[0];
        $tokens = static fn(string $h): array =>
            array_map(static fn($t) => strtolower(trim($t)), explode(',', $headers[$h] ?? ''));

        if (!isset($headers['upgrade']) && $path === '/healthz' && ($method === 'GET' || $method === 'HEAD')) {
            $this->httpReply($c, 200, 'OK', "ok\n", [], $method === 'HEAD');
            return;
        }
        $why = null;
        if ($method !== 'GET') {
            $why = 'method must be GET';
        } elseif ((int)$major < 1 || ((int)$major === 1 && (int)$minor < 1)) {
            $why = 'HTTP/1.1 required';
        } elseif (!isset($headers['host'])) {
            $why = 'missing Host';
        } elseif (!in_array('websocket', $tokens('upgrade'), true)) {
            $why = 'not a WebSocket request (Upgrade: websocket missing)';
        } elseif (!in_array('upgrade', $tokens('connection'), true)) {
            $why = 'Connection: Upgrade missing';
        } elseif (trim($headers['sec-websocket-version'] ?? '') !== '13') {
            $this->httpReply($c, 400, 'Bad Request', "unsupported WebSocket version (13 only)\n",
                ['Sec-WebSocket-Version: 13']);
            $this->log('reject', ['remote' => $c->remote, 'status' => 400, 'reason' => 'version']);
            return;
        } else {
            $key = trim($headers['sec-websocket-key'] ?? '');
            $raw = base64_decode($key, true);
            if ($raw === false || strlen($raw) !== 16) {
                $why = 'invalid Sec-WebSocket-Key';
            }
        }
        if ($why !== null) {
            $this->httpReply($c, 400, 'Bad Request', "Bad Request: $why\nThis port serves the chat WebSocket and GET /healthz.\n");
            $this->log('reject', ['remote' => $c->remote, 'status' => 400, 'reason' => $why]);
            return;
        }

        $accept = base64_encode(sha1($key . WS_GUID, true));
        $c->state = 'ws';
        $c->lastPingAt = now();
        $xff = $headers['x-forwarded-for'] ?? ($headers['x-real-ip'] ?? '');
        $c->client = substr(preg_replace('/[^0-9A-Fa-f.:, \[\]]/', '', $xff) ?? '', 0, 100);
        $this->queue($c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            . "Sec-WebSocket-Accept: $accept\r\n\r\n");
        $this->log('connect', array_filter([
            'conn' => $c->id, 'remote' => $c->remote, 'client' => $c->client, 'path' => $path,
            'clients' => $this->clientCount(),
        ], static fn($v) => $v !== ''));
        $this->sendJson($c, ['type' => 'welcome', 'node' => $this->node, 'id' => $c->id]);
        if ($rest !== '' && !$c->dead) {
            $c->in = $rest;
            $this->handleFrames($c);
        }
    }

    private function httpReply(Conn $c, int $status, string $text, string $body, array $extra = [], bool $head = false): void
    {
        $c->in = '';
        $c->discardAll = true;
        $c->closeAfterFlush = true;
        $h = "HTTP/1.1 $status $text\r\nContent-Type: text/plain; charset=utf-8\r\n"
            . 'Content-Length: ' . strlen($body) . "\r\nConnection: close\r\nCache-Control: no-store\r\n";
        foreach ($extra as $line) {
            $h .= $line . "\r\n";
        }
        $this->queue($c, $h . "\r\n" . ($head ? '' : $body));
    }

    // ---------------------------------------------------------------- WebSocket frames

    private function handleFrames(Conn $c): void
    {
        while (!$c->dead) {
            if ($c->discardAll || $c->closeAfterFlush) {
                $c->in = '';
                return;
            }
            if ($c->skip > 0) {
                $n = min($c->skip, strlen($c->in));
                $c->in = (string)substr($c->in, $n);
                $c->skip -= $n;
                if ($c->skip > 0) {
                    return;
                }
            }
            $len = strlen($c->in);
            if ($len < 2) {
                return;
            }
            $b0 = ord($c->in[0]);
            $b1 = ord($c->in[1]);
            $fin = ($b0 & 0x80) !== 0;
            $rsv = $b0 & 0x70;
            $op = $b0 & 0x0F;
            $masked = ($b1 & 0x80) !== 0;
            $plen = $b1 & 0x7F;
            $hlen = 2;
            if ($plen === 126) {
                if ($len < 4) {
                    return;
                }
                $plen = unpack('n', $c->in, 2)[1];
                $hlen = 4;
            } elseif ($plen === 127) {
                if ($len < 10) {
                    return;
                }
                $plen = unpack('J', $c->in, 2)[1];
                $hlen = 10;
                if ($plen < 0) { // most significant bit set: invalid (and unskippable)
                    $this->failConn($c, 1002, 'invalid frame length');
                    $c->discardAll = true;
                    return;
                }
            }
            if ($masked) {
                $hlen += 4;
            }
            if ($len < $hlen) {
                return;
            }

            if ($c->state === 'closing') {
                // We sent a close frame: discard everything until the peer's close frame.
                $c->in = (string)substr($c->in, $hlen);
                if ($op === 0x8) {
                    $c->closeAfterFlush = true;
                    $this->flush($c);
                    return;
                }
                $c->skip = $plen;
                continue;
            }

            $error = null;
            $code = 1002;
            if ($rsv !== 0) {
                $error = 'reserved bits set';
            } elseif (!$masked) {
                $error = 'client frames must be masked';
            } elseif ($op >= 0x8) {
                if ($op > 0xA) {
                    $error = 'unknown opcode';
                } elseif (!$fin || $plen > 125) {
                    $error = 'invalid control frame';
                }
            } elseif ($op > 0x2) {
                $error = 'unknown opcode';
            } elseif ($op === 0x0 && $c->fragOpcode === null) {
                $error = 'unexpected continuation frame';
            } elseif ($op !== 0x0 && $c->fragOpcode !== null) {
                $error = 'expected continuation frame';
            } elseif ($plen + strlen($c->fragBuf) > MAX_MESSAGE) {
                $error = 'message too big';
                $code = 1009;
            }
            if ($error !== null) {
                $c->in = (string)substr($c->in, $hlen);
                $c->skip = $plen;
                $this->failConn($c, $code, $error);
                continue;
            }
            if ($len < $hlen + $plen) {
                return; // wait for the rest of the frame
            }
            $mask = substr($c->in, $hlen - 4, 4);
            $payload = (string)substr($c->in, $hlen, $plen);
            $c->in = (string)substr($c->in, $hlen + $plen);
            if ($plen > 0) {
                $payload = $payload ^ str_repeat($mask, intdiv($plen + 3, 4));
            }
            $c->awaitingPong = false; // any frame proves the peer is alive

            switch ($op) {
                case 0x9: // ping
                    $this->queue($c, ws_frame(0xA, $payload));
                    break;
                case 0xA: // pong
                    break;
                case 0x8: // close
                    $this->onClose($c, $payload);
                    return;
                case 0x0: // continuation
                    $c->fragBuf .= $payload;
                    if ($fin) {
                        $opcode = (int)$c->fragOpcode;
                        $msg = $c->fragBuf;
                        $c->fragOpcode = null;
                        $c->fragBuf = '';
                        $this->onMessage($c, $opcode, $msg);
                    }
                    break;
                default: // 0x1 text, 0x2 binary
                    if ($fin) {
                        $this->onMessage($c, $op, $payload);
                    } else {
                        $c->fragOpcode = $op;
                        $c->fragBuf = $payload;
                    }
            }
        }
    }

    /** Send our close frame and wait (bounded) for the peer's. */
    private function startClose(Conn $c, int $code, string $reason): void
    {
        if ($c->state !== 'ws') {
            return;
        }
        $this->queue($c, ws_frame(0x8, pack('n', $code) . $reason));
        $c->state = 'closing';
        $c->deadline = now() + CLOSE_TIMEOUT;
        $c->fragOpcode = null;
        $c->fragBuf = '';
        $c->closeInfo = "closed by server ($code $reason)";
    }

    private function failConn(Conn $c, int $code, string $reason): void
    {
        $this->log('protocol-error', ['conn' => $c->id, 'code' => $code, 'reason' => $reason]);
        $this->startClose($c, $code, $reason);
    }

    private function onClose(Conn $c, string $payload): void
    {
        $n = strlen($payload);
        if ($n === 1) {
            $this->failConn($c, 1002, 'invalid close payload');
            return;
        }
        if ($n >= 2) {
            $code = unpack('n', $payload)[1];
            $reason = substr($payload, 2);
            if (!valid_close_code($code)) {
                $this->failConn($c, 1002, 'invalid close code');
                return;
            }
            if (!valid_utf8($reason)) {
                $this->failConn($c, 1007, 'invalid UTF-8 in close reason');
                return;
            }
            $echo = pack('n', $code);
            $c->closeInfo = "closed by client ($code)";
        } else {
            $echo = '';
            $c->closeInfo = 'closed by client (no code)';
        }
        $this->queue($c, ws_frame(0x8, $echo));
        $c->state = 'closing';
        $c->deadline = now() + CLOSE_TIMEOUT;
        $c->closeAfterFlush = true;
        $c->in = '';
        $this->flush($c);
    }

    private function onMessage(Conn $c, int $opcode, string $data): void
    {
        if ($opcode !== 0x1) {
            return; // binary messages are not part of the chat protocol: ignored
        }
        if (!valid_utf8($data)) {
            $this->failConn($c, 1007, 'invalid UTF-8');
            return;
        }
        $m = json_decode($data, true, 4);
        if (!is_array($m) || ($m['type'] ?? null) !== 'message'
            || !is_string($m['name'] ?? null) || !is_string($m['text'] ?? null)) {
            return;
        }
        $name = trim((string)preg_replace('/[\x00-\x1F\x7F]/u', '', $m['name']));
        $text = trim((string)preg_replace('/[\x00-\x08\x0B-\x1F\x7F]/u', '', $m['text']));
        if ($name === '') {
            $name = 'anonymous';
        }
        if ($text === '' || char_len($name) > MAX_NAME_CHARS || char_len($text) > MAX_TEXT_CHARS) {
            return;
        }
        $msg = [
            'type' => 'message',
            'id' => bin2hex(random_bytes(12)),
            'name' => $name,
            'text' => $text,
            'node' => $this->node,
            'ts' => (int)floor(now() * 1000),
        ];
        $this->remember($msg['id']);
        $json = (string)json_encode($msg, JSON_FLAGS);
        $this->broadcastLocal($json);
        foreach ($this->outLinks as $l) {
            $this->linkSend($l, $json . "\n");
        }
    }

    private function sendJson(Conn $c, array $msg): void
    {
        if ($c->state === 'ws') {
            $this->queue($c, ws_frame(0x1, (string)json_encode($msg, JSON_FLAGS)));
        }
    }

    private function broadcastLocal(string $json): void
    {
        $frame = ws_frame(0x1, $json);
        foreach ($this->conns as $c) {
            if (!$c->dead && $c->state === 'ws') {
                $this->queue($c, $frame);
            }
        }
    }

    /** @return bool true if the id was new */
    private function remember(string $id): bool
    {
        if (isset($this->seen[$id])) {
            return false;
        }
        $this->seen[$id] = true;
        if (count($this->seen) > SEEN_IDS_MAX) {
            unset($this->seen[array_key_first($this->seen)]);
        }
        return true;
    }

    // ---------------------------------------------------------------- relay mesh

    private function resolveOwnIps(): void
    {
        foreach ([gethostname(), $this->node] as $name) {
            if (is_string($name) && $name !== '') {
                foreach (@gethostbynamel($name) ?: [] as $ip) {
                    $this->ownIps[$ip] = true;
                }
            }
        }
        $this->log('own-addresses', ['ips' => implode(',', array_keys($this->ownIps))]);
    }

    /** @return array<string, true>|null targets "host:port", or null if discovery failed (keep links) */
    private function desiredTargets(): ?array
    {
        $out = [];
        if ($this->staticPeers !== null) {
            $self = [];
            foreach (array_merge(array_keys($this->ownIps), ['localhost', '0.0.0.0', '[::1]']) as $h) {
                $self["$h:{$this->relayPort}"] = true;
            }
            foreach ($this->staticPeers as $p) {
                if (!isset($self[$p])) {
                    $out[$p] = true;
                }
            }
            return $out;
        }
        if ($this->peersHost === '') {
            return [];
        }
        $ips = @gethostbynamel($this->peersHost);
        if ($ips === false) {
            return null;
        }
        foreach ($ips as $ip) {
            if (!isset($this->ownIps[$ip])) {
                $out["$ip:{$this->relayPort}"] = true;
            }
        }
        return $out;
    }

    private function discover(): void
    {
        if (!$this->relayListen || ($this->staticPeers === null && $this->peersHost === '')) {
            return; // single node
        }
        $targets = $this->desiredTargets();
        if ($targets === null) {
            return;
        }
        foreach ($this->outLinks as $t => $l) {
            if (!isset($targets[$t])) {
                $this->dropLink($l, 'no longer listed');
                unset($this->linkState[$t]);
            }
        }
        foreach ($targets as $t => $_) {
            if (!isset($this->outLinks[$t]) && !isset($this->selfTargets[$t]) && $this->socketCount() < MAX_SOCKETS) {
                $this->connectLink($t);
            }
        }
    }

    private function connectLink(string $target): void
    {
        $ctx = stream_context_create(['socket' => ['tcp_nodelay' => true]]);
        $s = @stream_socket_client("tcp://$target", $errno, $errstr, 0,
            STREAM_CLIENT_CONNECT | STREAM_CLIENT_ASYNC_CONNECT, $ctx);
        if ($s === false) {
            $this->linkDown($target, $errstr !== '' ? $errstr : 'connect failed');
            return;
        }
        stream_set_blocking($s, false);
        stream_set_read_buffer($s, 0);
        stream_set_write_buffer($s, 0);
        $this->outLinks[$target] = new Link($s, true, $target);
    }

    private function linkDown(string $target, string $why): void
    {
        if (($this->linkState[$target] ?? '') !== 'down') {
            $this->linkState[$target] = 'down';
            $this->log('peer-link-down', ['target' => $target, 'reason' => $why]);
        }
    }

    private function linkWritable(Link $l): void
    {
        if ($l->connecting) {
            if (@stream_socket_get_name($l->sock, true) === false) {
                $this->dropLink($l, 'connect failed');
                return;
            }
            $l->connecting = false;
            $l->since = now();
            $this->linkState[$l->target] = 'up';
            $this->log('peer-link-up', ['target' => $l->target]);
            $hello = json_encode(['type' => 'hello', 'node' => $this->node, 'instance' => $this->instance,
                'target' => $l->target], JSON_FLAGS);
            $l->out = $hello . "\n" . $l->out;
        }
        $this->linkFlush($l);
    }

    private function linkSend(Link $l, string $line): void
    {
        if ($l->dead) {
            return;
        }
        $l->out .= $line;
        if (strlen($l->out) > MAX_LINK_OUTBUF) {
            $this->dropLink($l, 'peer too slow (output buffer full)');
            return;
        }
        if (!$l->connecting) {
            $this->linkFlush($l);
        }
    }

    private function linkFlush(Link $l): void
    {
        while (!$l->dead && !$l->connecting && $l->out !== '') {
            $n = @fwrite($l->sock, $l->out);
            if ($n === false) {
                $this->dropLink($l, 'write error');
                return;
            }
            if ($n === 0) {
                return;
            }
            $l->out = (string)substr($l->out, $n);
        }
    }

    private function dropLink(Link $l, string $why): void
    {
        if ($l->dead) {
            return;
        }
        $l->dead = true;
        @fclose($l->sock);
        if ($l->outgoing) {
            unset($this->outLinks[$l->target]);
            if (($this->linkState[$l->target] ?? '') === 'up') {
                $this->linkState[$l->target] = 'down';
                $this->log('peer-link-down', ['target' => $l->target, 'reason' => $why]);
            } else {
                $this->linkDown($l->target, $why);
            }
        } else {
            unset($this->inLinks[(int)$l->sock]);
            $this->log('peer-in-disconnect', array_filter(
                ['from' => $l->target, 'peer' => $l->remoteNode, 'reason' => $why], static fn($v) => $v !== ''));
        }
    }

    private function readOutLink(Link $l): void
    {
        if ($l->connecting) {
            $this->linkWritable($l); // a failed async connect shows up as readable
            if ($l->dead || $l->connecting) {
                return;
            }
        }
        $d = @fread($l->sock, 65536);
        if ($d === false || ($d === '' && feof($l->sock))) {
            $this->dropLink($l, 'closed by peer');
        }
        // Peers never write on our outgoing links: anything else is ignored.
    }

    private function acceptLinks(): void
    {
        for ($i = 0; $i < 16; $i++) {
            $s = @stream_socket_accept($this->relayListen, 0, $peer);
            if ($s === false) {
                return;
            }
            stream_set_blocking($s, false);
            stream_set_read_buffer($s, 0);
            $l = new Link($s, false, (string)$peer);
            $this->inLinks[(int)$s] = $l;
            if ($this->socketCount() > MAX_SOCKETS) {
                $this->dropLink($l, 'too many connections');
                continue;
            }
            $this->log('peer-in-connect', ['from' => (string)$peer]);
        }
    }

    private function readInLink(Link $l): void
    {
        $d = @fread($l->sock, 65536);
        if ($d === false || ($d === '' && feof($l->sock))) {
            $this->dropLink($l, 'closed by peer');
            return;
        }
        $l->in .= $d;
        while (!$l->dead && ($nl = strpos($l->in, "\n")) !== false) {
            $line = substr($l->in, 0, $nl);
            $l->in = (string)substr($l->in, $nl + 1);
            $this->onRelayLine($l, $line);
        }
        if (!$l->dead && strlen($l->in) > MAX_RELAY_LINE) {
            $this->dropLink($l, 'line too long');
        }
    }

    private function onRelayLine(Link $l, string $line): void
    {
        $m = json_decode($line, true, 4);
        if (!is_array($m)) {
            return;
        }
        if (($m['type'] ?? null) === 'hello') {
            $l->remoteNode = is_string($m['node'] ?? null) ? substr($m['node'], 0, 128) : '';
            if (($m['instance'] ?? null) === $this->instance && is_string($m['target'] ?? null)) {
                // We dialled ourselves (an address of ours we did not know): never again.
                $target = $m['target'];
                $this->selfTargets[$target] = true;
                $this->log('peer-link-self', ['target' => $target]);
                if (isset($this->outLinks[$target])) {
                    $this->dropLink($this->outLinks[$target], 'this is us');
                }
                unset($this->linkState[$target]);
                $this->dropLink($l, 'this is us');
                return;
            }
            $this->log('peer-in-hello', ['from' => $l->target, 'peer' => $l->remoteNode]);
            return;
        }
        if (($m['type'] ?? null) !== 'message') {
            return;
        }
        $id = $m['id'] ?? null;
        $name = $m['name'] ?? null;
        $text = $m['text'] ?? null;
        $node = $m['node'] ?? null;
        $ts = $m['ts'] ?? null;
        if (!is_string($id) || !preg_match('/^[A-Za-z0-9._:-]{1,64}$/', $id)
            || !is_string($name) || char_len($name) > MAX_NAME_CHARS
            || !is_string($text) || $text === '' || char_len($text) > MAX_TEXT_CHARS
            || !is_string($node) || strlen($node) > 128 || !is_int($ts)) {
            return;
        }
        if (!$this->remember($id)) {
            return; // duplicate
        }
        // Local clients only: never forwarded to other peers (full mesh, no loops).
        $this->broadcastLocal((string)json_encode(
            ['type' => 'message', 'id' => $id, 'name' => $name, 'text' => $text, 'node' => $node, 'ts' => $ts],
            JSON_FLAGS));
    }

    // ---------------------------------------------------------------- signals / shutdown

    private function installSignals(): void
    {
        if (!function_exists('pcntl_signal')) {
            $this->log('warning', ['reason' => 'pcntl missing: SIGTERM will not close clients gracefully']);
            return;
        }
        pcntl_async_signals(true);
        pcntl_signal(SIGPIPE, SIG_IGN);
        $handler = function (int $sig): void {
            if ($this->stopRequested) {
                exit(1); // second signal: give up at once
            }
            $this->stopRequested = true;
            $this->stopSignal = $sig === SIGTERM ? 'SIGTERM' : ($sig === SIGINT ? 'SIGINT' : (string)$sig);
        };
        pcntl_signal(SIGTERM, $handler);
        pcntl_signal(SIGINT, $handler);
    }

    private function beginShutdown(): void
    {
        $this->stopDeadline = now() + SHUTDOWN_GRACE;
        $this->log('shutdown', ['signal' => $this->stopSignal, 'clients' => $this->clientCount()]);
        @fclose($this->listen);
        if ($this->relayListen) {
            @fclose($this->relayListen);
        }
        foreach ($this->inLinks as $l) {
            $this->dropLink($l, 'shutting down');
        }
        foreach ($this->conns as $c) {
            if ($c->state === 'ws') {
                $this->startClose($c, 1001, 'going away');
            } elseif ($c->state === 'http' && !$c->closeAfterFlush) {
                $this->drop($c, 'shutting down');
            }
        }
    }

    private function flushLinksBestEffort(): void
    {
        foreach ($this->outLinks as $l) {
            if ($l->out === '' || $l->connecting) {
                $this->dropLink($l, 'shutting down');
            }
        }
    }

    private function finishShutdown(): never
    {
        foreach ($this->conns as $c) {
            $this->drop($c, 'shutting down');
        }
        foreach ($this->outLinks as $l) {
            $this->dropLink($l, 'shutting down');
        }
        $this->log('exit');
        exit(0);
    }
}

$staticPeers = null;
$peersEnv = getenv('CHAT_RELAY_PEERS');
if ($peersEnv !== false && trim($peersEnv) !== '') {
    $staticPeers = array_values(array_filter(array_map('trim', explode(',', $peersEnv)), 'strlen'));
}
$pingInterval = (float)env_str('CHAT_PING_INTERVAL', '30');
(new ChatServer(
    node: env_str('WSENV_NODE_NAME', (string)gethostname()),
    wsPort: env_port('WSENV_WS_PORT', 8000),
    relayPort: env_port('CHAT_RELAY_PORT', 8001),
    peersHost: env_str('WSENV_PEERS_HOST', ''),
    staticPeers: $staticPeers,
    pingInterval: $pingInterval > 0 ? $pingInterval : 30.0,
))->run();
