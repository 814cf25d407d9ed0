/*
 * wintest.h - helpers of the Windows test programs in tests/windows: checks, the handshake of
 * spec §16.4 between two handles, and an in-memory "network" that drives a client handle and a
 * server handle against each other through WebSocketGetAction / WebSocketCompleteAction.
 *
 * Every program includes this first; it pulls in ours.h (the DLL is ours, or exit 3) and
 * loader.h (run-time binding with -DWS_USE_LOADER, else mingw's import library -lwebsocket).
 */
#ifndef WS_TESTS_WINDOWS_WINTEST_H
#define WS_TESTS_WINDOWS_WINTEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include "ours.h"

/* ------------------------------------------------------------------------------------------ */
/* checks                                                                                       */

static int t_checks, t_failures;
static const char *t_program = "test";

#define CHECK(cond)                                                                       \
  do {                                                                                    \
    t_checks++;                                                                           \
    if (!(cond)) {                                                                        \
      t_failures++;                                                                       \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);            \
    }                                                                                     \
  } while (0)

#define CHECK_HR(expr, expected)                                                          \
  do {                                                                                    \
    HRESULT t_hr_ = (expr);                                                               \
    HRESULT t_ex_ = (expected);                                                           \
    t_checks++;                                                                           \
    if (t_hr_ != t_ex_) {                                                                 \
      t_failures++;                                                                       \
      fprintf(stderr, "%s:%d: %s returned 0x%08lx, expected 0x%08lx\n", __FILE__,         \
              __LINE__, #expr, (unsigned long)(ULONG)t_hr_, (unsigned long)(ULONG)t_ex_); \
    }                                                                                     \
  } while (0)

#define CHECK_OK(expr) CHECK_HR(expr, S_OK)

/* Stops the program at once (for failures that make the rest meaningless). */
#define REQUIRE(cond)                                                                     \
  do {                                                                                    \
    t_checks++;                                                                           \
    if (!(cond)) {                                                                        \
      fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);          \
      exit(1);                                                                            \
    }                                                                                     \
  } while (0)

static inline void t_begin(const char *program) {
  t_program = program;
  setvbuf(stdout, NULL, _IONBF, 0);
  if (!ws_report_module()) exit(3);
}

static inline int t_end(void) {
  printf("%s: %d checks, %d failed\n", t_program, t_checks, t_failures);
  return t_failures ? 1 : 0;
}

/* A deterministic byte pattern. */
static inline void t_fill(BYTE *p, size_t n, unsigned seed) {
  uint32_t x = 2463534242u ^ seed;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = (BYTE)x;
  }
}

#define HR_INSUFFICIENT_BUFFER HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER)

/* ------------------------------------------------------------------------------------------ */
/* headers                                                                                      */

static inline WEB_SOCKET_HTTP_HEADER t_hdr(const char *name, const char *value) {
  WEB_SOCKET_HTTP_HEADER h;
  h.pcName = (PCHAR)name;
  h.ulNameLength = (ULONG)strlen(name);
  h.pcValue = (PCHAR)value;
  h.ulValueLength = (ULONG)strlen(value);
  return h;
}

/* The value of header `name` (case-insensitive) in `h[0..n)`, as a NUL-terminated copy in `out`. */
static inline int t_find_header(const WEB_SOCKET_HTTP_HEADER *h, ULONG n, const char *name,
                                char *out, size_t out_size) {
  for (ULONG i = 0; i < n; i++) {
    if (h[i].ulNameLength == strlen(name) && _strnicmp(h[i].pcName, name, h[i].ulNameLength) == 0) {
      size_t len = h[i].ulValueLength < out_size - 1 ? h[i].ulValueLength : out_size - 1;
      memcpy(out, h[i].pcValue, len);
      out[len] = 0;
      return 1;
    }
  }
  return 0;
}

/* Spec §16.4: client Begin without inputs, server Begin with its output plus Host, client End,
 * server End. Returns 1 when every call returned S_OK. */
static inline int t_handshake(WEB_SOCKET_HANDLE client, WEB_SOCKET_HANDLE server) {
  WEB_SOCKET_HTTP_HEADER *chdrs = NULL, *shdrs = NULL, req[16];
  ULONG cn = 0, sn = 0;
  HRESULT hr = WebSocketBeginClientHandshake(client, NULL, 0, NULL, 0, NULL, 0, &chdrs, &cn);
  if (hr != S_OK || cn == 0 || cn > 15) {
    fprintf(stderr, "handshake: BeginClientHandshake 0x%08lx (%lu headers)\n",
            (unsigned long)(ULONG)hr, (unsigned long)cn);
    return 0;
  }
  memcpy(req, chdrs, cn * sizeof *req);
  req[cn] = t_hdr("Host", "localhost");
  hr = WebSocketBeginServerHandshake(server, NULL, NULL, 0, req, cn + 1, &shdrs, &sn);
  if (hr != S_OK) {
    fprintf(stderr, "handshake: BeginServerHandshake 0x%08lx\n", (unsigned long)(ULONG)hr);
    return 0;
  }
  hr = WebSocketEndClientHandshake(client, shdrs, sn, NULL, NULL, NULL);
  if (hr != S_OK) {
    fprintf(stderr, "handshake: EndClientHandshake 0x%08lx\n", (unsigned long)(ULONG)hr);
    return 0;
  }
  hr = WebSocketEndServerHandshake(server);
  if (hr != S_OK) {
    fprintf(stderr, "handshake: EndServerHandshake 0x%08lx\n", (unsigned long)(ULONG)hr);
    return 0;
  }
  return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* in-memory network                                                                            */

typedef struct t_pipe {
  BYTE *data;
  size_t len, cap, off; /* unread bytes are data[off..len) */
} t_pipe;

static inline void t_pipe_put(t_pipe *p, const BYTE *b, size_t n) {
  if (p->off > 0 && p->off == p->len) p->off = p->len = 0;
  if (p->len + n > p->cap) {
    size_t cap = p->cap ? p->cap : 4096;
    while (cap < p->len + n) cap *= 2;
    p->data = (BYTE *)realloc(p->data, cap);
    REQUIRE(p->data != NULL);
    p->cap = cap;
  }
  if (n) memcpy(p->data + p->len, b, n);
  p->len += n;
}

static inline size_t t_pipe_get(t_pipe *p, BYTE *b, size_t max) {
  size_t n = p->len - p->off;
  if (n > max) n = max;
  if (n) memcpy(b, p->data + p->off, n);
  p->off += n;
  return n;
}

#define T_MAX_MSGS 64

typedef struct t_msg {
  WEB_SOCKET_BUFFER_TYPE type; /* UTF8_MESSAGE or BINARY_MESSAGE */
  BYTE *data;
  size_t len;
} t_msg;

typedef struct t_peer {
  const char *name;
  WEB_SOCKET_HANDLE h;
  t_pipe *out, *in;
  ULONG slots;                /* capacity offered to GetAction (1 or 2) */
  int auto_receive;           /* queue the next receive after every indication but a close */
  ULONG max_chunk;            /* longest network read handed to the library (0 = no limit) */
  const BYTE *region;         /* ALLOCATED_BUFFER, if any: returned buffers must lie in it */
  size_t region_len;
  /* an outstanding RECEIVE_FROM_NETWORK, waiting for bytes */
  int rx_pending;
  BYTE *rx_buf;
  ULONG rx_len;
  PVOID rx_tok;
  /* results */
  HRESULT error;              /* first failed GetAction */
  int sends_done;
  PVOID send_ctx[T_MAX_MSGS];
  int msgs;
  t_msg msg[T_MAX_MSGS];
  BYTE *cur;                  /* message being assembled */
  size_t cur_len, cur_cap;
  int fragments;              /* indications of the message being assembled */
  int max_fragments;
  ULONG max_indication;       /* longest data indication seen */
  int pongs;
  BYTE pong[126];
  ULONG pong_len;
  int closes;
  USHORT close_status;
  int close_reason_null;
  char close_reason[124];
  ULONG close_reason_len;
  int indications;
  int region_violations;
  size_t bytes_out;
} t_peer;

static inline void t_peer_init(t_peer *p, const char *name, WEB_SOCKET_HANDLE h, t_pipe *out,
                               t_pipe *in) {
  memset(p, 0, sizeof *p);
  p->name = name;
  p->h = h;
  p->out = out;
  p->in = in;
  p->slots = 2;
  p->auto_receive = 1;
}

static inline void t_peer_free(t_peer *p) {
  for (int i = 0; i < p->msgs; i++) free(p->msg[i].data);
  free(p->cur);
  p->msgs = 0;
  p->cur = NULL;
  p->cur_len = p->cur_cap = 0;
  p->fragments = 0;
}

static inline int t_in_region(const t_peer *p, const void *ptr, ULONG len) {
  if (!p->region) return 1;
  const BYTE *b = (const BYTE *)ptr;
  return b >= p->region && b + len <= p->region + p->region_len;
}

static inline void t_peer_indicate(t_peer *p, WEB_SOCKET_BUFFER_TYPE type, WEB_SOCKET_BUFFER *b,
                                   ULONG count) {
  p->indications++;
  if (count != 1) {
    fprintf(stderr, "%s: INDICATE_RECEIVE_COMPLETE with %lu buffers\n", p->name,
            (unsigned long)count);
    t_failures++;
    return;
  }
  switch (type) {
    case WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE:
    case WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE:
    case WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE:
    case WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE: {
      ULONG n = b->Data.ulBufferLength;
      if (n > p->max_indication) p->max_indication = n;
      if (!t_in_region(p, b->Data.pbBuffer, n)) p->region_violations++;
      if (p->cur_len + n > p->cur_cap) {
        size_t cap = p->cur_cap ? p->cur_cap : 1024;
        while (cap < p->cur_len + n) cap *= 2;
        p->cur = (BYTE *)realloc(p->cur, cap);
        REQUIRE(p->cur != NULL);
        p->cur_cap = cap;
      }
      if (n) memcpy(p->cur + p->cur_len, b->Data.pbBuffer, n);
      p->cur_len += n;
      p->fragments++;
      if (type == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE ||
          type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE) {
        REQUIRE(p->msgs < T_MAX_MSGS);
        t_msg *m = &p->msg[p->msgs++];
        m->type = type;
        m->len = p->cur_len;
        m->data = (BYTE *)malloc(p->cur_len ? p->cur_len : 1);
        REQUIRE(m->data != NULL);
        if (p->cur_len) memcpy(m->data, p->cur, p->cur_len);
        if (p->fragments > p->max_fragments) p->max_fragments = p->fragments;
        p->cur_len = 0;
        p->fragments = 0;
      }
      break;
    }
    case WEB_SOCKET_PING_PONG_BUFFER_TYPE:
      p->pongs++;
      p->pong_len = b->Data.ulBufferLength <= sizeof p->pong ? b->Data.ulBufferLength : 0;
      if (p->pong_len) memcpy(p->pong, b->Data.pbBuffer, p->pong_len);
      if (p->pong_len && !t_in_region(p, b->Data.pbBuffer, p->pong_len)) p->region_violations++;
      break;
    case WEB_SOCKET_CLOSE_BUFFER_TYPE:
      p->closes++;
      p->close_status = b->CloseStatus.usStatus;
      p->close_reason_null = b->CloseStatus.pbReason == NULL;
      p->close_reason_len = b->CloseStatus.ulReasonLength;
      if (p->close_reason_len < sizeof p->close_reason) {
        if (p->close_reason_len) memcpy(p->close_reason, b->CloseStatus.pbReason, p->close_reason_len);
        p->close_reason[p->close_reason_len] = 0;
      }
      if (b->CloseStatus.pbReason && !t_in_region(p, b->CloseStatus.pbReason, p->close_reason_len))
        p->region_violations++;
      break;
    default:
      fprintf(stderr, "%s: INDICATE_RECEIVE_COMPLETE of type 0x%08lx\n", p->name,
              (unsigned long)type);
      t_failures++;
  }
}

/* Runs the handle's ALL queue until NO_ACTION. Returns the number of actions handled (a filled
 * pending read counts as one). A failed GetAction is recorded in p->error and ends the run. */
static inline int t_drive(t_peer *p) {
  int progress = 0;
  for (int guard = 0; guard < 1000000; guard++) {
    if (p->rx_pending && p->in->len > p->in->off) {
      ULONG want = p->rx_len;
      if (p->max_chunk && want > p->max_chunk) want = p->max_chunk;
      ULONG n = (ULONG)t_pipe_get(p->in, p->rx_buf, want);
      p->rx_pending = 0;
      WebSocketCompleteAction(p->h, p->rx_tok, n);
      progress++;
    }
    WEB_SOCKET_BUFFER b[2];
    memset(b, 0, sizeof b);
    ULONG count = p->slots;
    WEB_SOCKET_ACTION action = (WEB_SOCKET_ACTION)-1;
    WEB_SOCKET_BUFFER_TYPE type = 0;
    PVOID app = NULL, tok = NULL;
    HRESULT hr = WebSocketGetAction(p->h, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type,
                                    &app, &tok);
    if (FAILED(hr)) {
      if (p->error == S_OK) p->error = hr;
      return progress;
    }
    if (count > p->slots) {
      fprintf(stderr, "%s: GetAction filled %lu of %lu slots\n", p->name, (unsigned long)count,
              (unsigned long)p->slots);
      t_failures++;
      return progress;
    }
    switch (action) {
      case WEB_SOCKET_NO_ACTION:
        return progress;
      case WEB_SOCKET_SEND_TO_NETWORK_ACTION: {
        ULONG total = 0;
        for (ULONG i = 0; i < count; i++) {
          /* Buffer 0 is library memory (.NET's rule, §9.3); with a single slot a data frame
           * is split and its payload may come alone, straight from the caller's memory. */
          if (i == 0 && p->slots >= 2 && !t_in_region(p, b[i].Data.pbBuffer, b[i].Data.ulBufferLength)) {
            fprintf(stderr, "%s: SEND_TO_NETWORK buffer 0 outside the allocated buffer\n", p->name);
            p->region_violations++;
          }
          t_pipe_put(p->out, b[i].Data.pbBuffer, b[i].Data.ulBufferLength);
          total += b[i].Data.ulBufferLength;
        }
        p->bytes_out += total;
        WebSocketCompleteAction(p->h, tok, total);
        break;
      }
      case WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION:
        if (p->sends_done < T_MAX_MSGS) p->send_ctx[p->sends_done] = app;
        p->sends_done++;
        WebSocketCompleteAction(p->h, tok, 0);
        break;
      case WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION:
        if (count != 1 || b[0].Data.ulBufferLength == 0) {
          fprintf(stderr, "%s: RECEIVE_FROM_NETWORK with %lu buffers\n", p->name,
                  (unsigned long)count);
          t_failures++;
          return progress;
        }
        if (!t_in_region(p, b[0].Data.pbBuffer, b[0].Data.ulBufferLength)) p->region_violations++;
        p->rx_pending = 1;
        p->rx_buf = b[0].Data.pbBuffer;
        p->rx_len = b[0].Data.ulBufferLength;
        p->rx_tok = tok;
        break; /* filled at the top of the loop once bytes are there */
      case WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION:
        t_peer_indicate(p, type, b, count);
        WebSocketCompleteAction(p->h, tok, 0);
        if (p->auto_receive && type != WEB_SOCKET_CLOSE_BUFFER_TYPE) {
          HRESULT rh = WebSocketReceive(p->h, NULL, NULL);
          if (rh != S_OK) {
            fprintf(stderr, "%s: WebSocketReceive 0x%08lx\n", p->name, (unsigned long)(ULONG)rh);
            t_failures++;
          }
        }
        break;
      default:
        fprintf(stderr, "%s: unknown action %d\n", p->name, (int)action);
        t_failures++;
        return progress;
    }
    progress++;
  }
  fprintf(stderr, "%s: t_drive does not end\n", p->name);
  t_failures++;
  return progress;
}

/* Drives both ends until neither makes progress. */
static inline void t_pump(t_peer *a, t_peer *b) {
  for (int round = 0; round < 1000000; round++) {
    int n = t_drive(a);
    n += t_drive(b);
    if (n == 0) return;
  }
  fprintf(stderr, "t_pump does not settle\n");
  t_failures++;
}

/* Queues one send; `b` may be NULL. */
static inline HRESULT t_send(WEB_SOCKET_HANDLE h, WEB_SOCKET_BUFFER_TYPE type, const void *data,
                             ULONG len, PVOID ctx) {
  WEB_SOCKET_BUFFER b;
  memset(&b, 0, sizeof b);
  b.Data.pbBuffer = (PBYTE)data;
  b.Data.ulBufferLength = len;
  return WebSocketSend(h, type, &b, ctx);
}

static inline HRESULT t_send_close(WEB_SOCKET_HANDLE h, USHORT status, const char *reason) {
  WEB_SOCKET_BUFFER b;
  memset(&b, 0, sizeof b);
  b.CloseStatus.pbReason = (PBYTE)reason;
  b.CloseStatus.ulReasonLength = reason ? (ULONG)strlen(reason) : 0;
  b.CloseStatus.usStatus = status;
  return WebSocketSend(h, WEB_SOCKET_CLOSE_BUFFER_TYPE, &b, NULL);
}

#endif /* WS_TESTS_WINDOWS_WINTEST_H */
