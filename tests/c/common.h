/*
 * tests/c/common.h - a tiny test kit for the C test programs of tests/c/.
 *
 * Every program includes this file once. It provides:
 *   - CHECK / CHECK_EQ / CHECK_HR / CHECK_MEM: assertions that print file:line and count
 *     failures instead of aborting, so one run reports every broken expectation;
 *   - RUN(test_fn): runs one test function and prints "ok"/"FAIL" for it; ws_finish() prints
 *     the totals and returns the process exit status (non-zero when anything failed);
 *   - ws_get(): one WebSocketGetAction call with poisoned outputs, so tests can see which
 *     outputs were written;
 *   - a byte FIFO, frame builders, hex dumps, and the Microsoft-sample handshake.
 *
 * Only include/websocket.h and the C standard library are used. Compiles as C11 and as C++.
 * A program runs every test, or only those whose name contains argv[1].
 */
#ifndef WS_TEST_COMMON_H
#define WS_TEST_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "websocket.h"

#if defined(__cplusplus)
#define WS_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define WS_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* ---------------------------------------------------------------------------------------- */
/* Assertions and the test runner                                                           */
/* ---------------------------------------------------------------------------------------- */

static int g_checks;
static int g_failures;
static int g_passed;
static int g_failed;
static const char *g_current = "(setup)";
static const char *g_filter = NULL;

/* After this many failed checks, further failures are counted but not printed. */
#define WS_MAX_REPORTED 200

static inline int ws_quiet(void) {
    if (g_failures == WS_MAX_REPORTED + 1) {
        fprintf(stderr, "(more than %d failed checks: the rest are not printed)\n", WS_MAX_REPORTED);
    }
    return g_failures > WS_MAX_REPORTED;
}

static inline int ws_check(int ok, const char *what, const char *file, int line) {
    g_checks++;
    if (!ok) {
        g_failures++;
        if (!ws_quiet()) fprintf(stderr, "%s:%d: [%s] CHECK failed: %s\n", file, line, g_current, what);
    }
    return ok;
}

static inline int ws_check_eq(unsigned long long got, unsigned long long want, const char *what,
                              const char *file, int line) {
    g_checks++;
    if (got != want) {
        g_failures++;
        if (ws_quiet()) return 0;
        fprintf(stderr, "%s:%d: [%s] CHECK_EQ failed: %s: got %llu (0x%llx), want %llu (0x%llx)\n",
                file, line, g_current, what, got, got, want, want);
        return 0;
    }
    return 1;
}

static inline const char *ws_hr_name(HRESULT hr) {
    switch ((uint32_t)hr) {
    case 0x00000000u: return "S_OK";
    case 0x83760001u: return "E_INVALID_PROTOCOL_OPERATION";
    case 0x83760002u: return "E_INVALID_PROTOCOL_FORMAT";
    case 0x83760003u: return "E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED";
    case 0x83760004u: return "E_SUBPROTOCOL_NOT_SUPPORTED";
    case 0x83760005u: return "E_PROTOCOL_VERSION_NOT_SUPPORTED";
    case 0x80070057u: return "E_INVALIDARG";
    case 0x8007000Eu: return "E_OUTOFMEMORY";
    case 0x8000FFFFu: return "E_UNEXPECTED";
    case 0x8007007Au: return "HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER)";
    default: return "?";
    }
}

static inline int ws_check_hr(HRESULT got, HRESULT want, const char *what, const char *file,
                              int line) {
    g_checks++;
    if (got != want) {
        g_failures++;
        if (ws_quiet()) return 0;
        fprintf(stderr, "%s:%d: [%s] CHECK_HR failed: %s: got 0x%08X %s, want 0x%08X %s\n", file,
                line, g_current, what, (unsigned)got, ws_hr_name(got), (unsigned)want,
                ws_hr_name(want));
        return 0;
    }
    return 1;
}

static inline void ws_hexdump(const char *label, const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    size_t i, shown = n > 96 ? 96 : n;
    fprintf(stderr, "    %s (%lu bytes):", label, (unsigned long)n);
    if (b == NULL) {
        fprintf(stderr, " NULL\n");
        return;
    }
    for (i = 0; i < shown; i++) {
        fprintf(stderr, "%s%02x", (i % 32 == 0) ? "\n      " : " ", b[i]);
    }
    fprintf(stderr, "%s\n", shown < n ? " ..." : "");
}

static inline int ws_check_mem(const void *got, size_t got_len, const void *want, size_t want_len,
                               const char *what, const char *file, int line) {
    g_checks++;
    if (got_len == want_len && (want_len == 0 || (got != NULL && memcmp(got, want, want_len) == 0))) {
        return 1;
    }
    g_failures++;
    if (ws_quiet()) return 0;
    fprintf(stderr, "%s:%d: [%s] CHECK_MEM failed: %s\n", file, line, g_current, what);
    if (got_len == want_len && got != NULL) {
        size_t i = 0;
        const unsigned char *a = (const unsigned char *)got, *b = (const unsigned char *)want;
        while (a[i] == b[i]) i++;
        fprintf(stderr, "    first difference at byte %lu\n", (unsigned long)i);
        if (i > 16) {
            ws_hexdump("got (from the difference)", a + i - 16, got_len - i + 16);
            ws_hexdump("want (from the difference)", b + i - 16, want_len - i + 16);
            return 0;
        }
    }
    ws_hexdump("got", got, got_len);
    ws_hexdump("want", want, want_len);
    return 0;
}

#define CHECK(cond) ws_check((cond) ? 1 : 0, #cond, __FILE__, __LINE__)
#define CHECK_EQ(got, want)                                                                      \
    ws_check_eq((unsigned long long)(got), (unsigned long long)(want), #got " == " #want,       \
                __FILE__, __LINE__)
#define CHECK_HR(got, want) ws_check_hr((HRESULT)(got), (HRESULT)(want), #got, __FILE__, __LINE__)
#define CHECK_MEM(got, got_len, want, want_len)                                                  \
    ws_check_mem((got), (size_t)(got_len), (want), (size_t)(want_len), #got " == " #want,        \
                 __FILE__, __LINE__)
/* A NUL-terminated literal compared with (pointer, length). */
#define CHECK_STR(got, got_len, lit) CHECK_MEM((got), (got_len), (lit), strlen(lit))

typedef void (*ws_test_fn)(void);

static inline void ws_init(int argc, char **argv) {
    g_filter = argc > 1 ? argv[1] : NULL;
    setvbuf(stdout, NULL, _IONBF, 0);
}

static inline void ws_run(const char *name, ws_test_fn fn) {
    int before = g_failures;
    if (g_filter != NULL && strstr(name, g_filter) == NULL) {
        return;
    }
    g_current = name;
    fn();
    g_current = "(between tests)";
    if (g_failures == before) {
        g_passed++;
        printf("ok   %s\n", name);
    } else {
        g_failed++;
        printf("FAIL %s (%d failed checks)\n", name, g_failures - before);
    }
}
#define RUN(fn) ws_run(#fn, fn)

static inline int ws_finish(const char *program) {
    printf("%s: %d checks, %d failed checks\n", program, g_checks, g_failures);
    printf("%s: %d passed, %d failed\n", program, g_passed, g_failed);
    if (g_passed + g_failed == 0) {
        printf("%s: no test ran\n", program);
        return 2;
    }
    return g_failed == 0 && g_failures == 0 ? 0 : 1;
}

/* WS_TEST_QUICK=1 (used by valgrind.sh) shrinks the largest payloads. */
static inline int ws_quick(void) {
    const char *q = getenv("WS_TEST_QUICK");
    return q != NULL && q[0] != '\0' && strcmp(q, "0") != 0;
}

static inline void *ws_xmalloc(size_t n) {
    void *p = malloc(n == 0 ? 1 : n);
    if (p == NULL) {
        fprintf(stderr, "out of memory (%lu bytes)\n", (unsigned long)n);
        exit(3);
    }
    return p;
}

/* ---------------------------------------------------------------------------------------- */
/* Constants and small helpers                                                              */
/* ---------------------------------------------------------------------------------------- */

/* Written into outputs before a call, to see whether the call wrote them. */
#define WS_SENTINEL ((PVOID)(uintptr_t)0x5EED5EEDu)
#define WS_POISON 0xCD

#define WS_HANDLE_FROM(v) ((WEB_SOCKET_HANDLE)(uintptr_t)(v))
#define WS_BT(v) ((WEB_SOCKET_BUFFER_TYPE)(v))
#define WS_Q(v) ((WEB_SOCKET_ACTION_QUEUE)(v))
#define WS_PT(v) ((WEB_SOCKET_PROPERTY_TYPE)(v))

#define WS_RECEIVE_FROM_NETWORK WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION
#define WS_INDICATE_RECEIVE WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION
#define WS_SEND_TO_NETWORK WEB_SOCKET_SEND_TO_NETWORK_ACTION
#define WS_INDICATE_SEND WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION

static inline WEB_SOCKET_BUFFER ws_data_buffer(const void *p, ULONG len) {
    WEB_SOCKET_BUFFER b;
    memset(&b, 0, sizeof b);
    b.Data.pbBuffer = (PBYTE)(uintptr_t)p;
    b.Data.ulBufferLength = len;
    return b;
}

static inline WEB_SOCKET_BUFFER ws_close_buffer(USHORT status, const void *reason, ULONG len) {
    WEB_SOCKET_BUFFER b;
    memset(&b, 0, sizeof b);
    b.CloseStatus.pbReason = (PBYTE)(uintptr_t)reason;
    b.CloseStatus.ulReasonLength = len;
    b.CloseStatus.usStatus = status;
    return b;
}

static inline WEB_SOCKET_HTTP_HEADER ws_header(const char *name, const char *value) {
    WEB_SOCKET_HTTP_HEADER h;
    memset(&h, 0, sizeof h);
    h.pcName = (PCHAR)(uintptr_t)name;
    h.ulNameLength = name ? (ULONG)strlen(name) : 0;
    h.pcValue = (PCHAR)(uintptr_t)value;
    h.ulValueLength = value ? (ULONG)strlen(value) : 0;
    return h;
}

static inline WEB_SOCKET_PROPERTY ws_property(WEB_SOCKET_PROPERTY_TYPE type, void *value, ULONG size) {
    WEB_SOCKET_PROPERTY p;
    memset(&p, 0, sizeof p);
    p.Type = type;
    p.pvValue = value;
    p.ulValueSize = size;
    return p;
}

/* The value of header `name` (ASCII case-insensitive) in a library-returned array, or NULL. */
static inline const WEB_SOCKET_HTTP_HEADER *ws_find_header(const WEB_SOCKET_HTTP_HEADER *h,
                                                           ULONG n, const char *name) {
    ULONG i;
    size_t len = strlen(name);
    for (i = 0; i < n; i++) {
        if (h[i].ulNameLength == len) {
            size_t k;
            for (k = 0; k < len; k++) {
                char a = h[i].pcName[k], b = name[k];
                if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
                if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
                if (a != b) break;
            }
            if (k == len) return &h[i];
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* WebSocketGetAction with every output poisoned first                                      */
/* ---------------------------------------------------------------------------------------- */

typedef struct ws_action {
    HRESULT hr;
    WEB_SOCKET_ACTION action;
    WEB_SOCKET_BUFFER_TYPE type;
    ULONG count;
    WEB_SOCKET_BUFFER buffers[2];
    PVOID app_ctx;
    PVOID action_ctx;
} ws_action;

/* One GetAction call offering `capacity` (1 or 2) buffers. Untouched buffer entries keep the
 * WS_POISON bytes, untouched contexts keep WS_SENTINEL. */
static inline ws_action ws_get(WEB_SOCKET_HANDLE h, WEB_SOCKET_ACTION_QUEUE queue, ULONG capacity) {
    ws_action a;
    memset(&a, WS_POISON, sizeof a);
    a.count = capacity;
    a.app_ctx = WS_SENTINEL;
    a.action_ctx = WS_SENTINEL;
    a.hr = WebSocketGetAction(h, queue, a.buffers, &a.count, &a.action, &a.type, &a.app_ctx,
                              &a.action_ctx);
    return a;
}

static inline int ws_buffer_untouched(const WEB_SOCKET_BUFFER *b) {
    const unsigned char *p = (const unsigned char *)b;
    size_t i;
    for (i = 0; i < sizeof *b; i++) {
        if (p[i] != WS_POISON) return 0;
    }
    return 1;
}

static inline const char *ws_action_name(WEB_SOCKET_ACTION a) {
    switch ((int)a) {
    case 0: return "NO_ACTION";
    case 1: return "SEND_TO_NETWORK";
    case 2: return "INDICATE_SEND_COMPLETE";
    case 3: return "RECEIVE_FROM_NETWORK";
    case 4: return "INDICATE_RECEIVE_COMPLETE";
    default: return "?";
    }
}

/* Checks a NO_ACTION result: S_OK, count 0, type 0, NULL token, application context untouched. */
#define CHECK_NO_ACTION(a)                                                                       \
    do {                                                                                         \
        const ws_action *na_ = &(a);                                                             \
        CHECK_HR(na_->hr, S_OK);                                                                 \
        CHECK_EQ(na_->action, WEB_SOCKET_NO_ACTION);                                             \
        CHECK_EQ(na_->count, 0);                                                                 \
        CHECK_EQ(na_->type, 0);                                                                  \
        CHECK(na_->action_ctx == NULL);                                                          \
        CHECK(na_->app_ctx == WS_SENTINEL);                                                      \
    } while (0)

/* ---------------------------------------------------------------------------------------- */
/* A byte FIFO standing in for the network                                                  */
/* ---------------------------------------------------------------------------------------- */

typedef struct ws_fifo {
    unsigned char *data;
    size_t len; /* bytes stored from data[0] */
    size_t pos; /* bytes already taken */
    size_t cap;
} ws_fifo;

static inline size_t ws_fifo_avail(const ws_fifo *f) { return f->len - f->pos; }

static inline const unsigned char *ws_fifo_peek(const ws_fifo *f) { return f->data + f->pos; }

static inline void ws_fifo_push(ws_fifo *f, const void *p, size_t n) {
    if (n == 0) return;
    if (f->pos > 0 && f->pos == f->len) {
        f->pos = f->len = 0;
    }
    if (f->len + n > f->cap) {
        size_t cap = f->cap ? f->cap : 256;
        unsigned char *d;
        if (f->pos > 0) {
            memmove(f->data, f->data + f->pos, f->len - f->pos);
            f->len -= f->pos;
            f->pos = 0;
        }
        while (cap < f->len + n) cap *= 2;
        d = (unsigned char *)realloc(f->data, cap);
        if (d == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(3);
        }
        f->data = d;
        f->cap = cap;
    }
    memcpy(f->data + f->len, p, n);
    f->len += n;
}

static inline size_t ws_fifo_pop(ws_fifo *f, void *dst, size_t n) {
    size_t k = ws_fifo_avail(f);
    if (k > n) k = n;
    if (k > 0) memcpy(dst, f->data + f->pos, k);
    f->pos += k;
    return k;
}

static inline void ws_fifo_clear(ws_fifo *f) { f->pos = f->len = 0; }

static inline void ws_fifo_free(ws_fifo *f) {
    free(f->data);
    memset(f, 0, sizeof *f);
}

/* ---------------------------------------------------------------------------------------- */
/* Frames                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* Builds a frame into `out` (which must hold len + 14 bytes): first byte b0 (FIN|RSV|opcode),
 * masked with `key` when key != NULL. Returns the frame length. */
static inline size_t ws_build_frame(unsigned char *out, unsigned char b0, const unsigned char *key,
                                    const void *payload, size_t len) {
    size_t n = 0, i;
    const unsigned char *p = (const unsigned char *)payload;
    unsigned char mask_bit = key ? 0x80 : 0x00;
    out[n++] = b0;
    if (len < 126) {
        out[n++] = (unsigned char)(mask_bit | len);
    } else if (len < 65536) {
        out[n++] = (unsigned char)(mask_bit | 126);
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    } else {
        int s;
        out[n++] = (unsigned char)(mask_bit | 127);
        for (s = 56; s >= 0; s -= 8) out[n++] = (unsigned char)((unsigned long long)len >> s);
    }
    if (key) {
        memcpy(out + n, key, 4);
        n += 4;
    }
    for (i = 0; i < len; i++) out[n + i] = key ? (unsigned char)(p[i] ^ key[i % 4]) : p[i];
    return n + len;
}

/* A parsed frame header. */
typedef struct ws_frame {
    int fin, rsv, opcode, masked;
    unsigned char key[4];
    unsigned long long len;
    size_t header_len;
} ws_frame;

/* Parses a frame header at `p` (n bytes available). Returns 1 when complete. */
static inline int ws_parse_frame(const unsigned char *p, size_t n, ws_frame *f) {
    size_t h = 2;
    memset(f, 0, sizeof *f);
    if (n < 2) return 0;
    f->fin = (p[0] >> 7) & 1;
    f->rsv = (p[0] >> 4) & 7;
    f->opcode = p[0] & 0x0F;
    f->masked = (p[1] >> 7) & 1;
    f->len = p[1] & 0x7F;
    if (f->len == 126) {
        if (n < 4) return 0;
        f->len = ((unsigned long long)p[2] << 8) | p[3];
        h = 4;
    } else if (f->len == 127) {
        int i;
        if (n < 10) return 0;
        f->len = 0;
        for (i = 0; i < 8; i++) f->len = (f->len << 8) | p[2 + i];
        h = 10;
    }
    if (f->masked) {
        if (n < h + 4) return 0;
        memcpy(f->key, p + h, 4);
        h += 4;
    }
    f->header_len = h;
    return 1;
}

/* The shortest header length for a payload of `len` bytes. */
static inline size_t ws_header_len(unsigned long long len, int masked) {
    return (len < 126 ? 2 : len < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Handles and the Microsoft-sample handshake                                               */
/* ---------------------------------------------------------------------------------------- */

/* Client Begin (no inputs), server Begin with the client's headers + Host, client End with the
 * server's headers, server End. Returns 1 when every call returned S_OK. */
static inline int ws_handshake(WEB_SOCKET_HANDLE client, WEB_SOCKET_HANDLE server) {
    WEB_SOCKET_HTTP_HEADER *req = NULL, *resp = NULL, all[16];
    ULONG nreq = 0, nresp = 0, i;
    int ok = 1;
    ok &= CHECK_HR(WebSocketBeginClientHandshake(client, NULL, 0, NULL, 0, NULL, 0, &req, &nreq),
                   S_OK);
    if (!ok || nreq > 15) return 0;
    for (i = 0; i < nreq; i++) all[i] = req[i];
    all[nreq] = ws_header("Host", "localhost");
    ok &= CHECK_HR(
        WebSocketBeginServerHandshake(server, NULL, NULL, 0, all, nreq + 1, &resp, &nresp), S_OK);
    if (!ok) return 0;
    ok &= CHECK_HR(WebSocketEndClientHandshake(client, resp, nresp, NULL, NULL, NULL), S_OK);
    ok &= CHECK_HR(WebSocketEndServerHandshake(server), S_OK);
    return ok;
}

/* Creates a client and a server handle with default properties and connects them. */
static inline int ws_open_pair(WEB_SOCKET_HANDLE *client, WEB_SOCKET_HANDLE *server) {
    *client = NULL;
    *server = NULL;
    if (!CHECK_HR(WebSocketCreateClientHandle(NULL, 0, client), S_OK)) return 0;
    if (!CHECK_HR(WebSocketCreateServerHandle(NULL, 0, server), S_OK)) return 0;
    return ws_handshake(*client, *server);
}

/* Runs the SEND queue of `h` until NO_ACTION: every SEND_TO_NETWORK is written to `out` and
 * completed with its full length, every INDICATE_SEND_COMPLETE completed with 0. Returns the
 * number of INDICATE_SEND_COMPLETE actions seen, or -1 on an error. */
static inline int ws_flush_sends(WEB_SOCKET_HANDLE h, ws_fifo *out, ULONG capacity) {
    int done = 0, guard;
    for (guard = 0; guard < 1000000; guard++) {
        ws_action a = ws_get(h, WEB_SOCKET_SEND_ACTION_QUEUE, capacity);
        ULONG i, total = 0;
        if (!CHECK_HR(a.hr, S_OK)) return -1;
        if (a.action == WEB_SOCKET_NO_ACTION) return done;
        if (a.action == WS_SEND_TO_NETWORK) {
            if (!CHECK(a.count >= 1 && a.count <= capacity)) return -1;
            for (i = 0; i < a.count; i++) {
                ws_fifo_push(out, a.buffers[i].Data.pbBuffer, a.buffers[i].Data.ulBufferLength);
                total += a.buffers[i].Data.ulBufferLength;
            }
            WebSocketCompleteAction(h, a.action_ctx, total);
        } else if (a.action == WS_INDICATE_SEND) {
            WebSocketCompleteAction(h, a.action_ctx, 0);
            done++;
        } else {
            fprintf(stderr, "    unexpected %s on the send queue\n", ws_action_name(a.action));
            CHECK(!"unexpected action on the send queue");
            return -1;
        }
    }
    CHECK(!"send queue never reached NO_ACTION");
    return -1;
}

/* The result of one receive operation. */
typedef struct ws_received {
    HRESULT hr; /* S_OK, or the failing GetAction's HRESULT */
    WEB_SOCKET_BUFFER_TYPE type;
    unsigned char *data; /* copy of the payload / close reason (malloc'd, NULL for a NULL ptr) */
    ULONG len;
    USHORT status;
    int reason_null; /* close: the reason pointer was NULL */
    PVOID app_ctx;
    int pongs; /* automatic pongs written to `out` during this receive */
} ws_received;

/* Queues one receive (NULL buffer, context `ctx`) on `h` and runs the RECEIVE queue with a
 * one-slot array until the INDICATE_RECEIVE_COMPLETE, reading network bytes from `in` and
 * writing automatic pongs to `out`. An empty `in` completes the read with 0 (end of stream). */
static inline ws_received ws_receive(WEB_SOCKET_HANDLE h, ws_fifo *in, ws_fifo *out, PVOID ctx) {
    ws_received r;
    int guard;
    memset(&r, 0, sizeof r);
    r.hr = WebSocketReceive(h, NULL, ctx);
    if (!CHECK_HR(r.hr, S_OK)) return r;
    for (guard = 0; guard < 1000000; guard++) {
        ws_action a = ws_get(h, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        if (a.hr != S_OK) {
            r.hr = a.hr;
            return r;
        }
        if (a.action == WS_RECEIVE_FROM_NETWORK) {
            size_t n;
            CHECK_EQ(a.count, 1);
            n = ws_fifo_pop(in, a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength);
            WebSocketCompleteAction(h, a.action_ctx, (ULONG)n);
        } else if (a.action == WS_SEND_TO_NETWORK) {
            CHECK_EQ(a.count, 1);
            CHECK_EQ(a.type, WEB_SOCKET_PING_PONG_BUFFER_TYPE);
            CHECK(a.app_ctx == WS_SENTINEL);
            if (out) ws_fifo_push(out, a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength);
            WebSocketCompleteAction(h, a.action_ctx, a.buffers[0].Data.ulBufferLength);
            r.pongs++;
        } else if (a.action == WS_INDICATE_RECEIVE) {
            CHECK_EQ(a.count, 1);
            r.type = a.type;
            r.app_ctx = a.app_ctx;
            r.len = a.buffers[0].Data.ulBufferLength;
            if (a.type == WEB_SOCKET_CLOSE_BUFFER_TYPE) {
                r.status = a.buffers[0].CloseStatus.usStatus;
                r.reason_null = a.buffers[0].CloseStatus.pbReason == NULL;
            }
            if (a.buffers[0].Data.pbBuffer != NULL) {
                r.data = (unsigned char *)ws_xmalloc(r.len);
                if (r.len) memcpy(r.data, a.buffers[0].Data.pbBuffer, r.len);
            }
            WebSocketCompleteAction(h, a.action_ctx, r.len);
            return r;
        } else {
            fprintf(stderr, "    unexpected %s on the receive queue\n", ws_action_name(a.action));
            CHECK(!"unexpected action on the receive queue");
            r.hr = E_UNEXPECTED;
            return r;
        }
    }
    CHECK(!"receive never completed");
    r.hr = E_UNEXPECTED;
    return r;
}

static inline void ws_received_free(ws_received *r) {
    free(r->data);
    r->data = NULL;
}

#endif /* WS_TEST_COMMON_H */
