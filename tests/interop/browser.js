// Our echo server against headless Chromium's WebSocket, driven by playwright-core.
//
//   node browser.js LABEL http://127.0.0.1:PORT/ SCREENSHOT.png [--deflate]
//
// With --deflate (the server runs with --deflate) the page's connections must have negotiated
// permessage-deflate, which Chromium offers by default; without it, none.
//
// The browser loads the demo page served by the echo server itself; the WebSocket cases run in
// that page (same origin, ws://<same host>/). Then the screenshot case types a message on the
// demo page, clicks Send, waits for the echo in the DOM and saves a PNG; the last case clicks
// Close and waits for "code 1000" on the page. Prints PASS/FAIL lines.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [label, pageUrl, screenshot] = process.argv.slice(2);
const deflate = process.argv.includes('--deflate');
const prefix = `chromium->${label}`;
const TIMEOUT = 120000;
let failed = 0;

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

async function run(name, fn) {
  let timer;
  try {
    await Promise.race([fn(), new Promise((_, rej) => { timer = setTimeout(() => rej(new Error('timeout')), TIMEOUT); })]);
    console.log(`PASS ${prefix}: ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${prefix}: ${name}: ${String(e && e.message).split('\n')[0]}`);
  } finally {
    clearTimeout(timer);
  }
}

// ---- code that runs inside the page -----------------------------------------------------------

// Installs helpers on window: wsOpen() -> socket with next()/closed promises.
function installHelpers() {
  window.wsOpen = () => new Promise((resolve, reject) => {
    const ws = new WebSocket('ws://' + location.host + '/');
    ws.binaryType = 'arraybuffer';
    const queue = []; const waiters = [];
    ws.onmessage = (e) => { if (waiters.length) waiters.shift().resolve(e.data); else queue.push(e.data); };
    ws.closed = new Promise((res) => { ws.onclose = (e) => {
      while (waiters.length) waiters.shift().reject(new Error('closed ' + e.code));
      res({ code: e.code, reason: e.reason, wasClean: e.wasClean });
    }; });
    ws.next = () => queue.length ? Promise.resolve(queue.shift())
      : new Promise((res, rej) => waiters.push({ resolve: res, reject: rej }));
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error('WebSocket error'));
  });
  window.randomBytes = (n) => {
    const a = new Uint8Array(n);
    for (let i = 0; i < n; i += 65536) crypto.getRandomValues(a.subarray(i, Math.min(n, i + 65536)));
    return a;
  };
  window.textOf = (n) => {
    let chunk = '';
    for (let i = 0; i < Math.min(n, 4096); i++) chunk += String.fromCharCode(97 + ((i * 7 + n) % 26));
    return chunk.repeat(Math.ceil(n / Math.max(1, chunk.length))).slice(0, n);
  };
  window.sameBytes = (a, b) => {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  };
}

async function inPage(page, fn, arg) {
  const result = await page.evaluate(fn, arg);
  if (result !== 'ok') throw new Error(result);
}

// ---- cases ----------------------------------------------------------------------------------

const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20];

async function main() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'interop-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS,
      viewport: { width: 800, height: 600 }, timeout: 60000,
    });
    const page = await context.newPage();
    await page.goto(pageUrl);
    await page.evaluate(installHelpers);

    await run(`text sizes ${SIZES.join(',')}`, () => inPage(page, async (sizes) => {
      const ws = await wsOpen();
      for (const n of sizes) {
        const msg = textOf(n);
        ws.send(msg);
        const got = await ws.next();
        if (typeof got !== 'string') return `size ${n}: binary came back`;
        if (got !== msg) return `size ${n}: echo differs (${got.length})`;
      }
      ws.close(1000); await ws.closed; return 'ok';
    }, SIZES));

    await run(`binary sizes ${SIZES.join(',')}`, () => inPage(page, async (sizes) => {
      const ws = await wsOpen();
      for (const n of sizes) {
        const msg = randomBytes(n);
        ws.send(msg);
        const got = await ws.next();
        if (!(got instanceof ArrayBuffer)) return `size ${n}: text came back`;
        if (!sameBytes(new Uint8Array(got), msg)) return `size ${n}: echo differs (${got.byteLength})`;
      }
      ws.close(1000); await ws.closed; return 'ok';
    }, SIZES));

    await run('multi-byte UTF-8 text', () => inPage(page, async () => {
      const ws = await wsOpen();
      const msg = 'aé€😀'.repeat(30000);
      ws.send(msg);
      const got = await ws.next();
      ws.close(1000); await ws.closed;
      return got === msg ? 'ok' : 'echo differs';
    }));

    for (const code of [1000, 3000, 4999]) {
      await run(`close ${code} echoed`, () => inPage(page, async (code) => {
        const ws = await wsOpen();
        const reason = 'reason ' + code + ' ✓';
        ws.close(code, reason);
        const info = await ws.closed;
        if (info.code !== code) return `close ${code} came back as ${info.code}`;
        if (info.reason !== reason) return `reason came back as ${JSON.stringify(info.reason)}`;
        return info.wasClean ? 'ok' : 'not a clean close';
      }, code));
    }

    await run('close without status (1005)', () => inPage(page, async () => {
      const ws = await wsOpen();
      ws.close();
      const info = await ws.closed;
      return info.code === 1005 && info.wasClean ? 'ok' : `came back as ${info.code}`;
    }));

    await run('20 concurrent sockets x 20 messages', () => inPage(page, async () => {
      const one = async (i) => {
        const ws = await wsOpen();
        for (let j = 0; j < 20; j++) {
          const n = [0, 1, 125, 126, 1000, 20000, 70000][(i + j) % 7];
          const binary = (i + j) % 2 === 0;
          const msg = binary ? randomBytes(n) : textOf(n) + i + ':' + j;
          ws.send(msg);
          const got = await ws.next();
          const same = binary ? got instanceof ArrayBuffer && sameBytes(new Uint8Array(got), msg) : got === msg;
          if (!same) throw new Error(`socket ${i} message ${j} differs`);
        }
        ws.close(1000, 'done ' + i);
        const info = await ws.closed;
        if (info.code !== 1000 || info.reason !== 'done ' + i) throw new Error(`socket ${i} close ${info.code}`);
      };
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => one(i)));
      const bad = results.filter((r) => r.status !== 'fulfilled');
      return bad.length ? `${bad.length} sockets failed: ${bad[0].reason}` : 'ok';
    }));

    // The demo page as a person uses it.
    const demo = await context.newPage();
    await run('demo page: type, send, echo shown, screenshot', async () => {
      await demo.goto(pageUrl);
      await demo.waitForFunction(() => document.getElementById('status').textContent === 'open', null, { timeout: 30000 });
      const compression = await demo.textContent('#compression');
      const want = deflate ? /^permessage-deflate/ : /^none$/;
      if (!want.test(compression)) throw new Error(`demo page shows compression ${JSON.stringify(compression)}`);
      const text = 'Hello from Chromium ✓ ' + Date.now();
      await demo.fill('#message', text);
      await demo.click('#send');
      const echo = demo.locator('#log li.echo', { hasText: text });
      await echo.waitFor({ timeout: 30000 });
      const shown = await echo.textContent();
      if (shown !== text) throw new Error(`echo shows ${JSON.stringify(shown)}`);
      fs.mkdirSync(path.dirname(screenshot), { recursive: true });
      await demo.screenshot({ path: screenshot, fullPage: true });
      const png = fs.readFileSync(screenshot);
      const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      if (png.length < 1000 || !png.subarray(0, 8).equals(signature)) throw new Error('not a PNG');
      const width = png.readUInt32BE(16); const height = png.readUInt32BE(20);
      if (width < 100 || height < 100) throw new Error(`PNG is ${width}x${height}`);
    });
    await run('demo page: Close button shows code 1000', async () => {
      await demo.fill('#reason', 'bye from the test');
      await demo.click('#close');
      await demo.waitForFunction(() => /code 1000, reason "bye from the test"/.test(
        document.getElementById('status').textContent), null, { timeout: 30000 });
    });
  } catch (e) {
    failed++;
    console.log(`FAIL ${prefix}: browser session: ${String(e && e.message).split('\n')[0]}`);
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

main();
