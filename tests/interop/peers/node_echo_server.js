// Peer server for the client tests: Node `ws` on 127.0.0.1, a free port.
//
// Prints "listening on ws://127.0.0.1:PORT/" once ready. Paths as in py_echo_server.py:
//   /           echo every message with its type; ws answers a close with the same code/reason
//   /drive      send messages (text, binary, large, fragmented with fin:false) and a ping, check
//               every echo, then close with 4000 "done" (4001 "mismatch ..." otherwise)
//   /close-now  close at once with 4002 "bye"
//   /ping-each  echo every message and send a ping after each
'use strict';
const crypto = require('crypto');
const { WebSocketServer } = require('ws');

function driveMessages() {
  return [
    'hello',
    '',
    'wörld ✓ 😀',
    crypto.randomBytes(1),
    crypto.randomBytes(70000),
    'x'.repeat(1 << 20),
    Buffer.alloc(256 * 1024, 7),
    ['frag', 'mented ', 'téxt'],
    [Buffer.from([0, 1]), Buffer.alloc(0), Buffer.alloc(5000, 2)],
  ];
}

async function drive(ws) {
  const queue = [];
  let waiter = null;
  ws.on('message', (data, isBinary) => {
    const m = { data, isBinary };
    if (waiter) { const w = waiter; waiter = null; w(m); } else queue.push(m);
  });
  const next = () => queue.length ? Promise.resolve(queue.shift())
    : new Promise((resolve) => { waiter = resolve; });
  for (const m of driveMessages()) {
    let expected;
    if (Array.isArray(m)) {
      const binary = typeof m[0] !== 'string';
      m.forEach((piece, i) => ws.send(piece, { binary, fin: i === m.length - 1 }));
      expected = binary ? Buffer.concat(m) : Buffer.from(m.join(''));
    } else {
      ws.send(m);
      expected = typeof m === 'string' ? Buffer.from(m) : m;
    }
    const got = await next();
    const wantBinary = !(typeof m === 'string' || (Array.isArray(m) && typeof m[0] === 'string'));
    if (got.isBinary !== wantBinary || !Buffer.from(got.data).equals(expected)) {
      ws.close(4001, `mismatch ${got.data.length} vs ${expected.length}`);
      return;
    }
    await new Promise((resolve) => { ws.once('pong', resolve); ws.ping('drive'); });
  }
  ws.close(4000, 'done');
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 256 * 1024 * 1024,
                                  perMessageDeflate: false });
wss.on('listening', () => {
  console.log(`listening on ws://127.0.0.1:${wss.address().port}/`);
});
wss.on('connection', (ws, req) => {
  ws.on('error', () => {});
  if (req.url === '/close-now') { ws.close(4002, 'bye'); return; }
  if (req.url === '/drive') { drive(ws).catch(() => ws.terminate()); return; }
  const pingEach = req.url === '/ping-each';
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
    if (pingEach) ws.ping(String(data.length));
  });
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const c of wss.clients) c.terminate();
    wss.close(() => process.exit(0));
  });
}
