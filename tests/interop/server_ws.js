// Our echo server against the Node `ws` client.
//
//   node server_ws.js LABEL ws://127.0.0.1:PORT/ [--quick]
//
// Cases: text and binary messages of 0 B .. 16 MiB, fragmented messages (send with fin:false),
// ping/pong, close with every valid status ws allows (status and reason echoed), a close without
// status, and 50 concurrent clients x 20 messages. Prints PASS/FAIL lines.
'use strict';
const crypto = require('crypto');
const WebSocket = require('ws');

const [label, url] = process.argv.slice(2);
const quick = process.argv.includes('--quick');
const prefix = `ws->${label}`;
let failed = 0;
const TIMEOUT = 120000;

const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20].filter((n) => !quick || n <= 1 << 20);
const CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999];

function textOf(n, seed = 0) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ';
  let chunk = '';
  for (let i = 0; i < Math.min(n, 4096); i++) chunk += alphabet[(i * 7 + seed * 13 + n) % alphabet.length];
  return chunk.repeat(Math.ceil(n / Math.max(1, chunk.length))).slice(0, n);
}

// A client with a message queue: next() resolves with {data, isBinary}.
function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 256 * 1024 * 1024, perMessageDeflate: false });
    const queue = [];
    const waiters = [];
    ws.on('message', (data, isBinary) => {
      const m = { data, isBinary };
      if (waiters.length) waiters.shift().resolve(m); else queue.push(m);
    });
    ws.on('close', (code, reason) => {
      ws.closeInfo = { code, reason: reason.toString() };
      while (waiters.length) waiters.shift().reject(new Error(`closed ${code}`));
    });
    ws.on('error', (e) => { reject(e); while (waiters.length) waiters.shift().reject(e); });
    ws.next = () => queue.length ? Promise.resolve(queue.shift())
      : new Promise((res, rej) => waiters.push({ resolve: res, reject: rej }));
    ws.closed = new Promise((res) => ws.once('close', (code, reason) => res({ code, reason: reason.toString() })));
    ws.on('open', () => resolve(ws));
  });
}

function assert(cond, msg) { if (!cond) throw new Error(msg); }

async function closeNormally(ws) {
  ws.close(1000);
  await ws.closed;
}

async function echoSizes(binary) {
  const ws = await open();
  for (const n of SIZES) {
    const msg = binary ? crypto.randomBytes(n) : textOf(n);
    ws.send(msg);
    const got = await ws.next();
    assert(got.isBinary === binary, `size ${n}: type changed`);
    const want = binary ? msg : Buffer.from(msg);
    assert(Buffer.from(got.data).equals(want), `size ${n}: echo differs (${got.data.length} bytes back)`);
  }
  await closeNormally(ws);
}

async function fragmented(pieces, binary) {
  const ws = await open();
  pieces.forEach((p, i) => ws.send(p, { binary, fin: i === pieces.length - 1 }));
  const got = await ws.next();
  const want = binary ? Buffer.concat(pieces) : Buffer.from(pieces.join(''));
  assert(got.isBinary === binary, 'type changed');
  assert(Buffer.from(got.data).equals(want), `reassembled echo differs: ${got.data.length} vs ${want.length}`);
  ws.send('after');
  assert((await ws.next()).data.toString() === 'after', 'message after the fragmented one');
  await closeNormally(ws);
}

async function pingPong() {
  const ws = await open();
  for (const payload of [Buffer.alloc(0), Buffer.from('abc'), Buffer.alloc(125, 0x61)]) {
    const pong = new Promise((resolve) => ws.once('pong', resolve));
    ws.ping(payload);
    const got = await pong;
    assert(Buffer.from(got).equals(payload), `pong payload ${got.length} bytes, sent ${payload.length}`);
  }
  ws.send('still open');
  assert((await ws.next()).data.toString() === 'still open', 'echo after pings');
  await closeNormally(ws);
}

async function closeCode(code, reason) {
  const ws = await open();
  ws.send(`before ${code}`);
  await ws.next();
  ws.close(code, reason);
  const info = await ws.closed;
  assert(info.code === code, `close ${code} came back as ${info.code}`);
  assert(info.reason === reason, `reason ${JSON.stringify(reason)} came back as ${JSON.stringify(info.reason)}`);
}

async function closeEmpty() {
  const ws = await open();
  ws.close(); // no status: empty close frame
  const info = await ws.closed;
  assert(info.code === 1005, `empty close came back as ${info.code}`);
}

async function concurrent(clients, messages) {
  const one = async (i) => {
    const ws = await open();
    for (let j = 0; j < messages; j++) {
      const n = [0, 1, 125, 126, 1000, 20000, 70000][(i * 7 + j) % 7];
      const binary = (i + j) % 2 === 0;
      const msg = binary ? crypto.randomBytes(n) : textOf(n, i * 100 + j);
      ws.send(msg);
      const got = await ws.next();
      const want = binary ? msg : Buffer.from(msg);
      assert(got.isBinary === binary && Buffer.from(got.data).equals(want), `client ${i} message ${j} differs`);
    }
    ws.close(1000, `client ${i} done`);
    const info = await ws.closed;
    assert(info.code === 1000 && info.reason === `client ${i} done`, `client ${i} close ${info.code}`);
  };
  const results = await Promise.allSettled(Array.from({ length: clients }, (_, i) => one(i)));
  const bad = results.filter((r) => r.status !== 'fulfilled');
  assert(bad.length === 0, `${bad.length} of ${clients} clients failed, first: ${bad[0] && bad[0].reason}`);
}

async function run(name, fn, ...args) {
  let timer;
  try {
    await Promise.race([fn(...args), new Promise((_, rej) => { timer = setTimeout(() => rej(new Error('timeout')), TIMEOUT); })]);
    console.log(`PASS ${prefix}: ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${prefix}: ${name}: ${e && e.message}`);
  } finally {
    clearTimeout(timer);
  }
}

(async () => {
  await run(`text sizes ${SIZES.join(',')}`, echoSizes, false);
  await run(`binary sizes ${SIZES.join(',')}`, echoSizes, true);
  await run('fragmented text (fin:false)', fragmented, ['hé', 'llo', '', ' wor', 'ld 😀'], false);
  await run('fragmented binary, 50 pieces', fragmented, Array.from({ length: 50 }, (_, i) => crypto.randomBytes(i * 100)), true);
  await run('fragmented binary, 3 x 1 MiB', fragmented, [0, 1, 2].map(() => crypto.randomBytes(1 << 20)), true);
  await run('ping/pong (empty, 3 B, 125 B)', pingPong);
  for (const code of CLOSE_CODES) await run(`close ${code} echoed`, closeCode, code, `reason ${code} ✓`);
  await run('close with empty reason', closeCode, 1000, '');
  await run('close with 123-byte reason', closeCode, 4000, 'r'.repeat(123));
  await run('close without status (1005)', closeEmpty);
  const [clients, messages] = quick ? [10, 10] : [50, 20];
  await run(`${clients} concurrent clients x ${messages} messages`, concurrent, clients, messages);
  process.exit(failed ? 1 : 0);
})();
