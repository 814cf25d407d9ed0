/*
 * threads.c - the .NET pattern of spec §11 with Win32 threads: each handle has a send thread
 * (SEND queue, two slots) and a receive thread (RECEIVE queue, one slot) working at the same
 * time, blocking in "network" reads while holding RECEIVE_FROM_NETWORK actions, with pings
 * whose automatic pongs go out from the receive thread while the send thread streams data.
 * Checks every message arrives intact and in order, that a receive never sees NO_ACTION while
 * it is pending (§9.2 rule 6), and that frames written by the two threads of one handle never
 * interleave on the wire (the peer's parser would fail).
 */
#include "wintest.h"

enum { MESSAGES = 300, PING_EVERY = 10, TIMEOUT_MS = 30000 };

typedef struct bpipe {
  SRWLOCK lock;
  CONDITION_VARIABLE cv;
  t_pipe p;
} bpipe;

static void bpipe_write(bpipe *bp, const WEB_SOCKET_BUFFER *b, ULONG count) {
  AcquireSRWLockExclusive(&bp->lock);
  for (ULONG i = 0; i < count; i++) t_pipe_put(&bp->p, b[i].Data.pbBuffer, b[i].Data.ulBufferLength);
  ReleaseSRWLockExclusive(&bp->lock);
  WakeAllConditionVariable(&bp->cv);
}

/* Blocks until at least one byte is there; returns 0 on timeout. */
static ULONG bpipe_read(bpipe *bp, BYTE *dst, ULONG max) {
  ULONG n = 0;
  AcquireSRWLockExclusive(&bp->lock);
  while (bp->p.len == bp->p.off) {
    if (!SleepConditionVariableSRW(&bp->cv, &bp->lock, TIMEOUT_MS, 0)) break;
  }
  n = (ULONG)t_pipe_get(&bp->p, dst, max);
  ReleaseSRWLockExclusive(&bp->lock);
  return n;
}

typedef struct endpoint {
  const char *name;
  WEB_SOCKET_HANDLE h;
  bpipe *out, *in;
  unsigned seed;
  /* results */
  volatile LONG failures;
  int received, pongs, pings_sent, no_action_mid_receive, retries;
} endpoint;

static size_t msg_size(unsigned seed, int i) { return (size_t)((i * 7919u + seed * 31u) % 20000u); }

static void fail(endpoint *e, const char *what) {
  InterlockedIncrement(&e->failures);
  fprintf(stderr, "%s: %s\n", e->name, what);
}

/* Runs the SEND queue until the queued operation's INDICATE_SEND_COMPLETE. */
static int drive_send(endpoint *e) {
  for (;;) {
    WEB_SOCKET_BUFFER b[2];
    ULONG count = 2;
    WEB_SOCKET_ACTION action;
    WEB_SOCKET_BUFFER_TYPE type;
    PVOID app = NULL, tok = NULL;
    HRESULT hr = WebSocketGetAction(e->h, WEB_SOCKET_SEND_ACTION_QUEUE, b, &count, &action, &type, &app, &tok);
    if (hr != S_OK) {
      fail(e, "GetAction(SEND) failed");
      return 0;
    }
    if (action == WEB_SOCKET_SEND_TO_NETWORK_ACTION) {
      ULONG total = 0;
      for (ULONG k = 0; k < count; k++) total += b[k].Data.ulBufferLength;
      bpipe_write(e->out, b, count);
      WebSocketCompleteAction(e->h, tok, total);
    } else if (action == WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION) {
      WebSocketCompleteAction(e->h, tok, 0);
      return 1;
    } else if (action == WEB_SOCKET_NO_ACTION) {
      e->retries++; /* the channel is busy with a pong from the receive thread */
      SwitchToThread();
    } else {
      fail(e, "unexpected action on the SEND queue");
      return 0;
    }
  }
}

static DWORD WINAPI sender(LPVOID arg) {
  endpoint *e = (endpoint *)arg;
  static BYTE payloads[2][20000];
  BYTE *payload = payloads[e->seed & 1];
  for (int i = 0; i < MESSAGES; i++) {
    if (i % PING_EVERY == 0) {
      if (WebSocketSend(e->h, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, NULL) != S_OK) {
        fail(e, "WebSocketSend(PING) failed");
        return 1;
      }
      e->pings_sent++;
      if (!drive_send(e)) return 1;
    }
    size_t size = msg_size(e->seed, i);
    t_fill(payload, size, e->seed * 100000u + (unsigned)i);
    if (t_send(e->h, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, payload, (ULONG)size, (PVOID)(INT_PTR)(i + 1)) != S_OK) {
      fail(e, "WebSocketSend failed");
      return 1;
    }
    if (!drive_send(e)) return 1;
  }
  if (t_send_close(e->h, 1000, NULL) != S_OK) {
    fail(e, "WebSocketSend(CLOSE) failed");
    return 1;
  }
  return drive_send(e) ? 0 : 1;
}

static DWORD WINAPI receiver(LPVOID arg) {
  endpoint *e = (endpoint *)arg;
  static BYTE expect_bufs[2][20000];
  BYTE *expect = expect_bufs[e->seed & 1];
  BYTE *msg = (BYTE *)malloc(20000 + 65536);
  size_t msg_len = 0;
  unsigned peer = e->seed ^ 1; /* the sender on the other side uses the other seed */
  int closed = 0;
  while (!closed) {
    if (WebSocketReceive(e->h, NULL, NULL) != S_OK) {
      fail(e, "WebSocketReceive failed");
      break;
    }
    int done = 0;
    while (!done) {
      WEB_SOCKET_BUFFER b[1];
      ULONG count = 1;
      WEB_SOCKET_ACTION action;
      WEB_SOCKET_BUFFER_TYPE type;
      PVOID app = NULL, tok = NULL;
      HRESULT hr = WebSocketGetAction(e->h, WEB_SOCKET_RECEIVE_ACTION_QUEUE, b, &count, &action, &type, &app, &tok);
      if (hr != S_OK) {
        fail(e, "GetAction(RECEIVE) failed");
        free(msg);
        return 1;
      }
      switch (action) {
        case WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION: {
          ULONG n = bpipe_read(e->in, b[0].Data.pbBuffer, b[0].Data.ulBufferLength);
          if (n == 0) fail(e, "network read timed out");
          WebSocketCompleteAction(e->h, tok, n);
          if (n == 0) {
            free(msg);
            return 1;
          }
          break;
        }
        case WEB_SOCKET_SEND_TO_NETWORK_ACTION: { /* automatic pong */
          ULONG total = 0;
          for (ULONG k = 0; k < count; k++) total += b[k].Data.ulBufferLength;
          bpipe_write(e->out, b, count);
          WebSocketCompleteAction(e->h, tok, total);
          break;
        }
        case WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION:
          if (type == WEB_SOCKET_PING_PONG_BUFFER_TYPE) {
            e->pongs++;
          } else if (type == WEB_SOCKET_CLOSE_BUFFER_TYPE) {
            if (b[0].CloseStatus.usStatus != 1000) fail(e, "close status");
            closed = 1;
          } else if (type == WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE || type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE) {
            if (msg_len + b[0].Data.ulBufferLength > 20000) {
              fail(e, "message too long");
            } else {
              memcpy(msg + msg_len, b[0].Data.pbBuffer, b[0].Data.ulBufferLength);
              msg_len += b[0].Data.ulBufferLength;
            }
            if (type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE) {
              int i = e->received++;
              size_t size = msg_size(peer, i);
              t_fill(expect, size, peer * 100000u + (unsigned)i);
              if (msg_len != size || memcmp(msg, expect, size) != 0) {
                fprintf(stderr, "%s: message %d: %u bytes, expected %u\n", e->name, i, (unsigned)msg_len,
                        (unsigned)size);
                fail(e, "message corrupt or out of order");
              }
              msg_len = 0;
            }
          } else {
            fail(e, "unexpected indication type");
          }
          WebSocketCompleteAction(e->h, tok, 0);
          done = 1;
          break;
        case WEB_SOCKET_NO_ACTION:
          e->no_action_mid_receive++;
          SwitchToThread();
          break;
        default:
          fail(e, "unexpected action on the RECEIVE queue");
          done = 1;
      }
    }
  }
  free(msg);
  return 0;
}

int main(void) {
  t_begin("threads");
  for (int round = 0; round < 3; round++) {
    WEB_SOCKET_HANDLE c = NULL, s = NULL;
    ULONG rbs = 4096 << round, sbs = 16 << (round * 3);
    WEB_SOCKET_PROPERTY props[2] = {
        {WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &rbs, 4},
        {WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &sbs, 4},
    };
    REQUIRE(WebSocketCreateClientHandle(props, 2, &c) == S_OK);
    REQUIRE(WebSocketCreateServerHandle(props, 2, &s) == S_OK);
    REQUIRE(t_handshake(c, s));
    static bpipe c2s, s2c;
    memset(&c2s, 0, sizeof c2s);
    memset(&s2c, 0, sizeof s2c);
    InitializeSRWLock(&c2s.lock);
    InitializeSRWLock(&s2c.lock);
    InitializeConditionVariable(&c2s.cv);
    InitializeConditionVariable(&s2c.cv);
    endpoint ce = {"client", c, &c2s, &s2c, 0, 0, 0, 0, 0, 0, 0};
    endpoint se = {"server", s, &s2c, &c2s, 1, 0, 0, 0, 0, 0, 0};
    /* The sender and the receiver of one side share the struct but write different fields. */
    HANDLE th[4];
    th[0] = CreateThread(NULL, 0, sender, &ce, 0, NULL);
    th[1] = CreateThread(NULL, 0, receiver, &ce, 0, NULL);
    th[2] = CreateThread(NULL, 0, sender, &se, 0, NULL);
    th[3] = CreateThread(NULL, 0, receiver, &se, 0, NULL);
    for (int i = 0; i < 4; i++) REQUIRE(th[i] != NULL);
    DWORD w = WaitForMultipleObjects(4, th, TRUE, 4 * TIMEOUT_MS);
    REQUIRE(w != WAIT_TIMEOUT);
    for (int i = 0; i < 4; i++) {
      DWORD code = 99;
      GetExitCodeThread(th[i], &code);
      CHECK(code == 0);
      CloseHandle(th[i]);
    }
    CHECK(ce.failures == 0 && se.failures == 0);
    CHECK(ce.received == MESSAGES && se.received == MESSAGES);
    /* Automatic pongs go out only between frames and only from the receive side; while the
     * other thread streams frames they may be deferred and replaced by newer ones (§9.2 rule 5,
     * §9.6.4), so any number up to the pings sent is correct here (exchange.c checks pongs). */
    CHECK(ce.pongs <= ce.pings_sent && se.pongs <= se.pings_sent);
    CHECK(ce.no_action_mid_receive == 0 && se.no_action_mid_receive == 0);
    printf("threads[rbs %lu, sbs %lu]: %d+%d messages, pongs %d/%d and %d/%d, send retries %d+%d\n",
           (unsigned long)rbs, (unsigned long)sbs, ce.received, se.received, ce.pongs, ce.pings_sent,
           se.pongs, se.pings_sent, ce.retries, se.retries);
    WebSocketDeleteHandle(c);
    WebSocketDeleteHandle(s);
    free(c2s.p.data);
    free(s2c.p.data);
  }
  return t_end();
}
