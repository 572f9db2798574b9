<?php
/**
 * wsenv reference app: the chat page. Served by the node's web server (Apache/PHP);
 * the page's JavaScript opens a WebSocket on the same host, at the path the wsenv balancer
 * names in the X-Wsenv-Ws-Path request header (else WSENV_WS_PATH, else /ws/), which the
 * balancer routes to server.php on one of the nodes.
 */
declare(strict_types=1);

$envOr = static function (string $name, string $default): string {
    $v = getenv($name);
    return ($v === false || trim($v) === '') ? $default : trim($v);
};
$node = $envOr('WSENV_NODE_NAME', (string)gethostname());
// The balancer says where the socket is, so changing its websocket paths needs no redeploy.
$fromBalancer = $_SERVER['HTTP_X_WSENV_WS_PATH'] ?? '';
$wsPath = preg_match('#^/[A-Za-z0-9._~/-]*$#', $fromBalancer) ? $fromBalancer : $envOr('WSENV_WS_PATH', '/ws/');
if ($wsPath[0] !== '/') {
    $wsPath = '/' . $wsPath;
}
// A node name never needs more than this; keeps the header valid whatever the env holds.
$nodeHeader = preg_replace('/[^\x21-\x7E]/', '', $node) ?? '';
$nonce = base64_encode(random_bytes(16));
$h = static fn(string $s): string => htmlspecialchars($s, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
$wsPathJson = json_encode($wsPath, JSON_UNESCAPED_SLASHES | JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT);

header('X-Wsenv-Node: ' . $nodeHeader);
header('Content-Type: text/html; charset=utf-8');
header('Cache-Control: no-store');
header('X-Content-Type-Options: nosniff');
header("Content-Security-Policy: default-src 'none'; script-src 'nonce-$nonce'; style-src 'nonce-$nonce'; "
    . "connect-src 'self' ws: wss:; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
?><!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsenv chat</title>
<link rel="icon" href="data:,">
<style nonce="<?= $h($nonce) ?>">
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; display: flex; flex-direction: column; height: 100vh; }
  header { padding: .5em 1em; background: #223; color: #eee; display: flex; gap: 1.5em; flex-wrap: wrap; }
  header b { font-weight: 600; }
  #status.connected { color: #7d7; } #status.connecting { color: #ed7; } #status.disconnected { color: #f77; }
  #messages { flex: 1; overflow-y: auto; margin: 0; padding: .5em 1em; list-style: none; }
  #messages li { padding: .15em 0; white-space: pre-wrap; word-break: break-word; }
  #messages .meta { color: #888; font-size: 85%; margin-right: .5em; }
  #messages .who { font-weight: 600; margin-right: .4em; }
  form { display: flex; gap: .5em; padding: .5em 1em; border-top: 1px solid #ccc; }
  #name { width: 9em; } #text { flex: 1; }
</style>
</head>
<body data-ws-path="<?= $h((string)$wsPathJson) ?>">
<header>
  <span>wsenv chat</span>
  <span>page served by <b id="page-node"><?= $h($node) ?></b></span>
  <span>socket: <b id="status" class="disconnected">disconnected</b> to <b id="node"></b></span>
</header>
<ul id="messages" aria-live="polite"></ul>
<form id="form" autocomplete="off">
  <input id="name" maxlength="32" placeholder="your name" aria-label="name">
  <input id="text" maxlength="2000" placeholder="message" aria-label="message" autofocus>
  <button id="send" type="submit" disabled>Send</button>
</form>
<script nonce="<?= $h($nonce) ?>">
(function () {
  'use strict';
  var WS_PATH = JSON.parse(document.body.getAttribute('data-ws-path'));
  var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + WS_PATH;
  var $ = function (id) { return document.getElementById(id); };
  var statusEl = $('status'), nodeEl = $('node'), list = $('messages');
  var nameEl = $('name'), textEl = $('text'), sendEl = $('send');
  var ws = null, attempt = 0, timer = null;

  try { nameEl.value = localStorage.getItem('chat-name') || ''; } catch (e) { /* storage disabled */ }
  if (!nameEl.value) { nameEl.value = 'guest-' + Math.floor(1000 + Math.random() * 9000); }
  nameEl.addEventListener('change', function () {
    try { localStorage.setItem('chat-name', nameEl.value); } catch (e) { /* ignore */ }
  });

  function setStatus(s) {
    statusEl.textContent = s;
    statusEl.className = s;
    sendEl.disabled = s !== 'connected';
  }

  function addMessage(m) {
    var li = document.createElement('li');
    var meta = document.createElement('span');
    meta.className = 'meta';
    var t = typeof m.ts === 'number' ? new Date(m.ts) : new Date();
    meta.textContent = t.toLocaleTimeString() + ' @' + String(m.node || '?');
    var who = document.createElement('span');
    who.className = 'who';
    who.textContent = String(m.name || 'anonymous') + ':';
    var text = document.createElement('span');
    text.className = 'text';
    text.textContent = String(m.text);
    li.appendChild(meta); li.appendChild(document.createTextNode(' '));
    li.appendChild(who); li.appendChild(document.createTextNode(' '));
    li.appendChild(text);
    if (m.id) { li.setAttribute('data-id', String(m.id)); }
    var atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 30;
    list.appendChild(li);
    while (list.children.length > 500) { list.removeChild(list.firstChild); }
    if (atBottom) { list.scrollTop = list.scrollHeight; }
  }

  function scheduleReconnect() {
    if (timer !== null) { return; }
    // 0.5 s doubling up to 10 s, each delay with +-25% jitter so tabs do not reconnect in step.
    var base = Math.min(10000, 500 * Math.pow(2, attempt));
    attempt++;
    var delay = Math.round(base * (0.75 + Math.random() * 0.5));
    timer = setTimeout(function () { timer = null; connect(); }, delay);
  }

  function connect() {
    setStatus('connecting');
    var sock;
    try { sock = new WebSocket(url); } catch (e) { setStatus('disconnected'); scheduleReconnect(); return; }
    ws = sock;
    sock.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (!m || typeof m !== 'object') { return; }
      if (m.type === 'welcome') {
        attempt = 0;
        nodeEl.textContent = String(m.node);
        setStatus('connected');
      } else if (m.type === 'message' && typeof m.text === 'string') {
        addMessage(m);
      }
    };
    sock.onclose = function () {
      if (ws !== sock) { return; }
      ws = null;
      nodeEl.textContent = '';
      setStatus('disconnected');
      scheduleReconnect();
    };
    sock.onerror = function () { /* a close event follows */ };
  }

  $('form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var text = textEl.value;
    if (!text.trim() || !ws || ws.readyState !== WebSocket.OPEN) { return; }
    ws.send(JSON.stringify({ type: 'message', name: nameEl.value.slice(0, 32), text: text.slice(0, 2000) }));
    textEl.value = '';
    textEl.focus();
  });

  connect();
})();
</script>
</body>
</html>
