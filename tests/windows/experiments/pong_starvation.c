/*
 * pong_starvation.c - an experiment, not part of run.sh (it asserts nothing; it prints what
 * happens). A client handle streams binary messages from a send thread (SEND queue, SBS 16)
 * while its receive thread (RECEIVE queue) blocks in network reads; the server sends ONE ping
 * and then stays silent. Observed with this project's DLL: the client's automatic pong is never
 * written, not even seconds after the streaming ended, because a pong is only handed out on the
 * RECEIVE/ALL queue between frames (spec §9.2 rule 5), the ping arrived while the channel was
 * busy, and the receive thread then sat in a read that no further peer data ends. A peer with a
 * ping timeout (Python websockets: 20 s by default) would close such a connection.
 *
 *   x86_64-w64-mingw32-gcc -O2 -Iinclude -Itests/windows -o pong_starvation.exe \
 *       tests/windows/experiments/pong_starvation.c -lwebsocket
 *   (websocket.dll next to it)  wine pong_starvation.exe
 */
#include "wintest.h"

typedef struct bpipe { SRWLOCK lock; CONDITION_VARIABLE cv; t_pipe p; } bpipe;
static bpipe c2s, s2c;
static WEB_SOCKET_HANDLE c, s;
static volatile LONG streaming_done, stop;
static volatile LONG64 pong_ms = -1, ping_ms = -1, done_ms = -1;
static LARGE_INTEGER freq, t0;
static LONG64 now_ms(void) { LARGE_INTEGER t; QueryPerformanceCounter(&t); return (t.QuadPart - t0.QuadPart) * 1000 / freq.QuadPart; }

static void bwrite(bpipe *bp, const WEB_SOCKET_BUFFER *b, ULONG n) {
  AcquireSRWLockExclusive(&bp->lock);
  for (ULONG i = 0; i < n; i++) t_pipe_put(&bp->p, b[i].Data.pbBuffer, b[i].Data.ulBufferLength);
  ReleaseSRWLockExclusive(&bp->lock);
  WakeAllConditionVariable(&bp->cv);
}
static ULONG bread(bpipe *bp, BYTE *d, ULONG max, DWORD ms) {
  AcquireSRWLockExclusive(&bp->lock);
  while (bp->p.len == bp->p.off && !stop) if (!SleepConditionVariableSRW(&bp->cv, &bp->lock, ms, 0)) break;
  ULONG n = (ULONG)t_pipe_get(&bp->p, d, max);
  ReleaseSRWLockExclusive(&bp->lock);
  return n;
}

static DWORD WINAPI client_sender(LPVOID a) {
  (void)a;
  static BYTE payload[20000];
  for (int i = 0; i < 300; i++) {
    t_send(c, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, payload, sizeof payload, NULL);
    for (;;) {
      WEB_SOCKET_BUFFER b[2]; ULONG n = 2; WEB_SOCKET_ACTION act; WEB_SOCKET_BUFFER_TYPE ty; PVOID app, tok;
      WebSocketGetAction(c, WEB_SOCKET_SEND_ACTION_QUEUE, b, &n, &act, &ty, &app, &tok);
      if (act == WEB_SOCKET_SEND_TO_NETWORK_ACTION) { ULONG t = 0; for (ULONG k = 0; k < n; k++) t += b[k].Data.ulBufferLength; bwrite(&c2s, b, n); WebSocketCompleteAction(c, tok, t); }
      else if (act == WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION) { WebSocketCompleteAction(c, tok, 0); break; }
      else SwitchToThread();
    }
  }
  done_ms = now_ms();
  streaming_done = 1;
  return 0;
}

static DWORD WINAPI client_receiver(LPVOID a) {
  (void)a;
  while (!stop) {
    WebSocketReceive(c, NULL, NULL);
    for (int done = 0; !done && !stop;) {
      WEB_SOCKET_BUFFER b[1]; ULONG n = 1; WEB_SOCKET_ACTION act; WEB_SOCKET_BUFFER_TYPE ty; PVOID app, tok;
      WebSocketGetAction(c, WEB_SOCKET_RECEIVE_ACTION_QUEUE, b, &n, &act, &ty, &app, &tok);
      if (act == WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION) { ULONG r = bread(&s2c, b[0].Data.pbBuffer, b[0].Data.ulBufferLength, INFINITE); WebSocketCompleteAction(c, tok, r); if (!r) return 0; }
      else if (act == WEB_SOCKET_SEND_TO_NETWORK_ACTION) { bwrite(&c2s, b, n); WebSocketCompleteAction(c, tok, b[0].Data.ulBufferLength); }
      else if (act == WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION) { WebSocketCompleteAction(c, tok, 0); done = 1; }
      else SwitchToThread();
    }
  }
  return 0;
}

static DWORD WINAPI server_receiver(LPVOID a) {
  (void)a;
  while (!stop) {
    WebSocketReceive(s, NULL, NULL);
    for (int done = 0; !done && !stop;) {
      WEB_SOCKET_BUFFER b[1]; ULONG n = 1; WEB_SOCKET_ACTION act; WEB_SOCKET_BUFFER_TYPE ty; PVOID app, tok;
      WebSocketGetAction(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, b, &n, &act, &ty, &app, &tok);
      if (act == WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION) { ULONG r = bread(&c2s, b[0].Data.pbBuffer, b[0].Data.ulBufferLength, 200); WebSocketCompleteAction(s, tok, r); if (!r) { if (stop) return 0; WebSocketReceive(s, NULL, NULL); } }
      else if (act == WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION) { if (ty == WEB_SOCKET_PING_PONG_BUFFER_TYPE && pong_ms < 0) pong_ms = now_ms(); WebSocketCompleteAction(s, tok, 0); done = 1; }
      else SwitchToThread();
    }
  }
  return 0;
}

int main(void) {
  t_begin("pong_starvation");
  QueryPerformanceFrequency(&freq); QueryPerformanceCounter(&t0);
  InitializeSRWLock(&c2s.lock); InitializeSRWLock(&s2c.lock); InitializeConditionVariable(&c2s.cv); InitializeConditionVariable(&s2c.cv);
  ULONG sbs = 16; WEB_SOCKET_PROPERTY p = {WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &sbs, 4};
  REQUIRE(WebSocketCreateClientHandle(&p, 1, &c) == S_OK && WebSocketCreateServerHandle(NULL, 0, &s) == S_OK && t_handshake(c, s));
  HANDLE th[3] = {CreateThread(NULL, 0, client_receiver, NULL, 0, NULL), CreateThread(NULL, 0, server_receiver, NULL, 0, NULL), NULL};
  th[2] = CreateThread(NULL, 0, client_sender, NULL, 0, NULL);
  Sleep(20);
  /* server: one ping, then silence */
  WebSocketSend(s, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, NULL);
  for (;;) {
    WEB_SOCKET_BUFFER b[2]; ULONG n = 2; WEB_SOCKET_ACTION act; WEB_SOCKET_BUFFER_TYPE ty; PVOID app, tok;
    WebSocketGetAction(s, WEB_SOCKET_SEND_ACTION_QUEUE, b, &n, &act, &ty, &app, &tok);
    if (act == WEB_SOCKET_SEND_TO_NETWORK_ACTION) { bwrite(&s2c, b, n); WebSocketCompleteAction(s, tok, b[0].Data.ulBufferLength); ping_ms = now_ms(); }
    else if (act == WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION) { WebSocketCompleteAction(s, tok, 0); break; }
  }
  WaitForSingleObject(th[2], 30000);
  Sleep(3000);
  printf("ping sent at %lld ms; client streaming ended at %lld ms; pong received at %lld ms (-1 = never, 3 s after streaming ended)\n",
         (long long)ping_ms, (long long)done_ms, (long long)pong_ms);
  stop = 1;
  WakeAllConditionVariable(&c2s.cv); WakeAllConditionVariable(&s2c.cv);
  /* unblock the client receiver: a pong from the server wakes it */
  WebSocketSend(s, WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE, NULL, NULL);
  ExitProcess(0);
}
