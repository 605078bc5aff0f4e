// An independent second opinion on the suite's WebSocket echo figure (python -m harness.agreement).
// Written on Node.js and the `ws` package, so it shares no code, language or event loop with the
// suite's picows generator or with any server under test.
//
//   node ws_echo_client.js URL CONNECTIONS SECONDS SIZE WARMUP_SECONDS [CA_FILE]
//
// A wss:// URL takes CA_FILE, the run's certificate (harness/tls.py): the server is verified
// against it alone, its name included, as the suite's generator verifies it.
//
// Closed loop, like the suite: each connection sends one text message and waits for its echo
// before sending the next. Every message carries its own sequence number and every echo is
// compared with what was sent; only echoes received inside the measured window count. Prints
// "window" when the measured window opens, then one JSON line {"ops", "seconds", "connections"};
// any error exits 1 with the cause on stderr.
"use strict";
const WebSocket = require("ws");

const [url, connections, seconds, size, warmup, caFile] = [
  process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6]),
  process.argv[7],
];
if (!url || !(connections > 0) || !(seconds > 0) || !(size >= 16) || !(warmup >= 0)) {
  fail("usage: node ws_echo_client.js URL CONNECTIONS SECONDS SIZE(>=16) WARMUP_SECONDS [CA_FILE]");
}
if (url.startsWith("wss:") !== Boolean(caFile)) fail("a wss:// URL takes the run's certificate (CA_FILE), ws:// none");
const tlsOptions = caFile ? { ca: require("fs").readFileSync(caFile) } : {};
const SETUP_LIMIT_MS = 10000; // to open every connection
const REPLY_LIMIT_MS = 10000; // for the last echoes after the window closes

function fail(message) {
  process.stderr.write(`ws_echo_client: ${message}\n`);
  process.exit(1);
}

function payload(sequence) {
  return String(sequence).padStart(size, "0");
}

let opened = 0;
let finished = 0;
let windowStart = 0;
let windowEnd = Infinity;
let counted = 0;
const sockets = [];
const starters = [];

const setupTimer = setTimeout(() => fail(`only ${opened} of ${connections} connections opened within 10 s`), SETUP_LIMIT_MS);

for (let i = 0; i < connections; i++) {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 20, ...tlsOptions });
  let sequence = 0;
  let expected = "";
  let done = false;
  const send = () => {
    expected = payload(sequence++);
    ws.send(expected);
  };
  ws.on("open", () => {
    if (++opened === connections) begin();
  });
  ws.on("message", (data, isBinary) => {
    const now = performance.now();
    if (isBinary) fail(`connection ${i}: a binary reply to a text message`);
    const text = data.toString();
    if (text !== expected) fail(`connection ${i}: wrong echo: sent ${JSON.stringify(expected)}, got ${JSON.stringify(text.slice(0, 64))}`);
    if (now >= windowStart && now <= windowEnd) {
      if (counted++ === 0) process.stdout.write("window\n"); // lets the caller sample the server's CPU
    }
    if (now < windowEnd) return send();
    done = true;
    if (++finished === connections) report();
  });
  ws.on("close", (code, reason) => {
    if (!done) fail(`connection ${i} closed by the server (code ${code} ${reason}) after ${sequence} messages`);
  });
  ws.on("error", (error) => fail(`connection ${i}: ${error.message}`));
  sockets.push(ws);
  starters.push(send);
}

function begin() {
  clearTimeout(setupTimer);
  windowStart = performance.now() + warmup * 1000;
  windowEnd = windowStart + seconds * 1000;
  setTimeout(() => fail(`echoes still missing ${REPLY_LIMIT_MS / 1000} s after the window closed`), windowEnd - performance.now() + REPLY_LIMIT_MS);
  for (const start of starters) start();
}

function report() {
  // Echoes completed inside a fixed window: the rate is counted / seconds.
  process.stdout.write(JSON.stringify({ ops: counted, seconds, connections }) + "\n");
  for (const ws of sockets) ws.terminate();
  process.exit(0);
}
