// permessage-deflate against the Node `ws` client (perMessageDeflate: true).
//
//   node deflate_ws.js ws://127.0.0.1:PORT/      # our echo server with --deflate
//
// The negotiated extension is asserted (ws.extensions), messages of 0 B .. 1 MiB are echoed
// (text and binary), and the bytes ws read from the socket prove the echoes were compressed.
// Prints PASS/FAIL lines; exit status 1 on any failure.
'use strict';
const WebSocket = require('ws');

const url = process.argv[2];
let failed = 0;
function report(ok, name, detail) {
  console.log(`${ok ? 'PASS' : 'FAIL'} ws->c deflate: ${name}${ok || !detail ? '' : ': ' + detail}`);
  if (!ok) failed++;
}

function jsonLike(n, seed) {
  let s = '';
  for (let i = seed; s.length < n; i++) s += `{"id":${i},"name":"user${i % 97}","score":${i % 1000}.5},`;
  return s.slice(0, n);
}

async function main() {
  const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0 }, maxPayload: 64 << 20 });
  const queue = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const m = { data, isBinary };
    if (waiters.length) waiters.shift()(m); else queue.push(m);
  });
  const next = () => new Promise((resolve) => (queue.length ? resolve(queue.shift()) : waiters.push(resolve)));
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  report(ws.extensions.startsWith('permessage-deflate'), 'negotiated', ws.extensions);
  let sent = 0;
  for (const n of [0, 1, 125, 4096, 65536, 1 << 20]) {
    for (const binary of [false, true]) {
      const text = jsonLike(n, n);
      const payload = binary ? Buffer.from(text) : text;
      ws.send(payload, { binary });
      sent += n;
      const m = await next();
      report(m.isBinary === binary && m.data.toString() === text, `echo ${binary ? 'binary' : 'text'} ${n}`);
    }
  }
  const read = ws._socket.bytesRead;
  report(read < sent / 4, `echoes were compressed on the wire (${sent} bytes of messages, ${read} read)`);
  ws.close(1000);
  const code = await new Promise((resolve) => ws.on('close', (c) => resolve(c)));
  report(code === 1000, 'close 1000', String(code));
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.log(`FAIL ws->c deflate: ${e}`); process.exit(1); });
