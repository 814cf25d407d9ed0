/*
 * pair.c - an in-memory client/server pair through the C ABI (spec §7.2-§7.4, §9, §10.1,
 * §12.4, §12.5). A pump moves each handle's SEND_TO_NETWORK bytes into a byte FIFO and serves
 * the other handle's RECEIVE_FROM_NETWORK from it, optionally a few bytes (or one byte) per
 * read. Messages of 0 B to 16 MiB go both ways as text (valid UTF-8 with multibyte characters)
 * and binary; fragmented sends, pings between fragments, pongs and closes follow.
 *
 * Every action is validated as .NET validates it (§9.3): buffer counts and types, contexts,
 * every returned pointer inside [base, base + RBS + SBS + 144) of the ALLOCATED_BUFFER (when one
 * is given) or inside the current send payload, buffer 0 of a two-slot SEND_TO_NETWORK in the
 * library's region, lengths <= max(RBS, SBS) except in-place payload, and the bytes around the
 * region untouched. The wire bytes of each message are checked frame by frame.
 *
 * WS_TEST_QUICK=1 caps the payload sizes (for valgrind).
 */
#include "common.h"

#define KIB 1024ull
#define MIB (1024ull * 1024ull)

typedef struct pair_config {
    const char *label;
    ULONG rbs;                   /* 0: default (no property) */
    ULONG sbs_client, sbs_server; /* 0: default */
    int allocated;               /* ALLOCATED_BUFFER at an odd address */
    ULONG send_cap, recv_cap;    /* GetAction capacities (1 or 2) */
    size_t max_read;             /* bytes per RECEIVE_FROM_NETWORK; 0: all offered */
    int zero_mask;               /* DISABLE_MASKING on the client */
    int all_queue;               /* drive both directions through the ALL queue */
    unsigned long long max_size; /* largest message of the size matrix */
    unsigned long long quick_max; /* the same under WS_TEST_QUICK */
} pair_config;

typedef struct peer {
    const char *name;
    int is_client;
    WEB_SOCKET_HANDLE h;
    ULONG rbs, sbs;
    unsigned char *arena; /* the memory around the region */
    size_t arena_len;
    unsigned char *region; /* NULL without ALLOCATED_BUFFER */
    size_t region_len;
    const pair_config *cfg;
    ws_fifo *in, *out;
    /* the send operation in progress */
    const unsigned char *payload;
    size_t payload_len;
    unsigned long ops;
} peer;

typedef struct pair {
    peer client, server;
    ws_fifo c2s, s2c;
} pair;

#define ARENA_GUARD 64
#define CANARY 0xA5

static void peer_open(peer *p, int is_client, const pair_config *cfg, ws_fifo *in, ws_fifo *out) {
    WEB_SOCKET_PROPERTY props[4];
    ULONG n = 0, one = 1, sbs_prop = is_client ? cfg->sbs_client : cfg->sbs_server;
    unsigned char slot[sizeof(void *) + 3];
    HRESULT hr;

    memset(p, 0, sizeof *p);
    p->name = is_client ? "client" : "server";
    p->is_client = is_client;
    p->cfg = cfg;
    p->in = in;
    p->out = out;
    p->rbs = cfg->rbs ? cfg->rbs : 4096;
    p->sbs = sbs_prop ? sbs_prop : (is_client ? 4096 : 16);
    if (cfg->rbs) props[n++] = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &p->rbs, 4);
    if (sbs_prop) props[n++] = ws_property(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &p->sbs, 4);
    if (cfg->zero_mask && is_client)
        props[n++] = ws_property(WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE, &one, 4);
    if (cfg->allocated) {
        p->region_len = (size_t)p->rbs + p->sbs + 144;
        p->arena_len = p->region_len + 2 * ARENA_GUARD + 1;
        p->arena = (unsigned char *)ws_xmalloc(p->arena_len);
        memset(p->arena, CANARY, p->arena_len);
        p->region = p->arena + ARENA_GUARD + 1; /* odd address */
        memcpy(slot + 3, &p->region, sizeof p->region); /* unaligned slot */
        props[n++] = ws_property(WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, slot + 3,
                                 (ULONG)p->region_len);
    }
    hr = is_client ? WebSocketCreateClientHandle(props, n, &p->h)
                   : WebSocketCreateServerHandle(props, n, &p->h);
    CHECK_HR(hr, S_OK);
}

static void peer_check_canary(const peer *p) {
    size_t i, bad = 0;
    if (!p->arena) return;
    for (i = 0; i < p->arena_len; i++) {
        const unsigned char *q = p->arena + i;
        if ((q < p->region || q >= p->region + p->region_len) && *q != CANARY) bad++;
    }
    if (!CHECK_EQ(bad, 0)) fprintf(stderr, "    (%s wrote outside its region)\n", p->name);
}

static void peer_close(peer *p) {
    peer_check_canary(p);
    WebSocketDeleteHandle(p->h);
    free(p->arena);
    p->arena = NULL;
}

static int pair_open(pair *pr, const pair_config *cfg) {
    memset(pr, 0, sizeof *pr);
    peer_open(&pr->client, 1, cfg, &pr->s2c, &pr->c2s);
    peer_open(&pr->server, 0, cfg, &pr->c2s, &pr->s2c);
    return ws_handshake(pr->client.h, pr->server.h);
}

static void pair_close(pair *pr) {
    peer_close(&pr->client);
    peer_close(&pr->server);
    ws_fifo_free(&pr->c2s);
    ws_fifo_free(&pr->s2c);
}

/* ---- validation of one action (§9.3, §9.4) ------------------------------------------------------ */

static int in_range(const void *ptr, size_t len, const void *base, size_t base_len) {
    uintptr_t a = (uintptr_t)ptr, lo = (uintptr_t)base;
    return base != NULL && a >= lo && a + len <= lo + base_len;
}

static ULONG max_ul(ULONG a, ULONG b) { return a > b ? a : b; }

/* Checks one returned buffer: `native_only` = must be library memory. Returns 1 when it lies in
 * the current send payload. */
static int check_location(const peer *p, const WEB_SOCKET_BUFFER *b, int native_only,
                          const char *what) {
    const unsigned char *ptr = b->Data.pbBuffer;
    ULONG len = b->Data.ulBufferLength;
    int payload = p->payload != NULL && len > 0 && in_range(ptr, len, p->payload, p->payload_len);
    int ok = 1;
    if (payload) {
        if (native_only) ok &= CHECK(!"buffer in the caller's payload where library memory is required");
    } else {
        if (p->region) ok &= CHECK(in_range(ptr, len, p->region, p->region_len));
        ok &= CHECK(len <= max_ul(p->rbs, p->sbs));
    }
    if (!ok) fprintf(stderr, "    (%s: %s buffer %p len %lu)\n", p->name, what, (const void *)ptr,
                     (unsigned long)len);
    return payload;
}

static void check_untouched_tail(const ws_action *a, ULONG capacity) {
    ULONG i;
    for (i = a->count; i < capacity && i < 2; i++) CHECK(ws_buffer_untouched(&a->buffers[i]));
}

/* ---- sending -------------------------------------------------------------------------------------- */

static WEB_SOCKET_ACTION_QUEUE send_queue(const peer *p) {
    return p->cfg->all_queue ? WEB_SOCKET_ALL_ACTION_QUEUE : WEB_SOCKET_SEND_ACTION_QUEUE;
}

static WEB_SOCKET_ACTION_QUEUE recv_queue(const peer *p) {
    return p->cfg->all_queue ? WEB_SOCKET_ALL_ACTION_QUEUE : WEB_SOCKET_RECEIVE_ACTION_QUEUE;
}

static int is_data_type(WEB_SOCKET_BUFFER_TYPE t) {
    return t == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE || t == WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE ||
           t == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE || t == WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE;
}

/* Runs one queued send operation to its INDICATE_SEND_COMPLETE, writing its bytes to p->out. */
static void peer_drive_send(peer *p, WEB_SOCKET_BUFFER_TYPE type, PVOID ctx) {
    ULONG cap = p->cfg->send_cap;
    size_t in_place = 0, written = 0;
    unsigned long guard;
    for (guard = 0; guard < 100000000ul; guard++) {
        ws_action a = ws_get(p->h, send_queue(p), cap);
        ULONG i, total = 0;
        if (!CHECK_HR(a.hr, S_OK)) return;
        if (a.action == WS_INDICATE_SEND) {
            CHECK_EQ(a.count, 0);
            CHECK_EQ(a.type, type);
            CHECK(a.app_ctx == ctx);
            CHECK(a.action_ctx != NULL);
            check_untouched_tail(&a, cap);
            WebSocketCompleteAction(p->h, a.action_ctx, 0);
            break;
        }
        if (!CHECK_EQ(a.action, WS_SEND_TO_NETWORK)) {
            fprintf(stderr, "    (%s got %s while sending)\n", p->name, ws_action_name(a.action));
            return;
        }
        if (!CHECK(a.count >= 1 && a.count <= cap)) return;
        CHECK_EQ(a.type, type);
        CHECK(a.app_ctx == ctx);
        CHECK(a.action_ctx != NULL);
        check_untouched_tail(&a, cap);
        for (i = 0; i < a.count; i++) {
            /* Buffer 0 of a two-slot SEND_TO_NETWORK is library memory (§9.3). */
            int native_only = cap == 2 && i == 0;
            if (check_location(p, &a.buffers[i], native_only, "SEND_TO_NETWORK"))
                in_place += a.buffers[i].Data.ulBufferLength;
            ws_fifo_push(p->out, a.buffers[i].Data.pbBuffer, a.buffers[i].Data.ulBufferLength);
            total += a.buffers[i].Data.ulBufferLength;
        }
        written += total;
        WebSocketCompleteAction(p->h, a.action_ctx, total);
    }
    /* Unmasked payload goes out in place; masked payload never does (§9.5.3). */
    if (is_data_type(type) && p->payload_len > 0) {
        if (!p->is_client || p->cfg->zero_mask)
            CHECK_EQ(in_place, p->payload_len);
        else
            CHECK_EQ(in_place, 0);
    }
    CHECK(written >= p->payload_len);
    /* NO_ACTION afterwards (§9.2 rule 7). */
    {
        ws_action a = ws_get(p->h, send_queue(p), cap);
        CHECK_NO_ACTION(a);
    }
}

static void peer_send(peer *p, WEB_SOCKET_BUFFER_TYPE type, const void *data, size_t len,
                      int null_buffer) {
    WEB_SOCKET_BUFFER b = ws_data_buffer(data, (ULONG)len);
    PVOID ctx = (PVOID)(uintptr_t)(0x10000 + 16 * ++p->ops);
    p->payload = (const unsigned char *)data;
    p->payload_len = len;
    CHECK_HR(WebSocketSend(p->h, type, null_buffer ? NULL : &b, ctx), S_OK);
    memset(&b, 0xEE, sizeof b); /* the structure was copied during the call */
    peer_drive_send(p, type, ctx);
    p->payload = NULL;
    p->payload_len = 0;
}

static void peer_send_close(peer *p, USHORT status, const void *reason, ULONG len, int null_buffer) {
    WEB_SOCKET_BUFFER b = ws_close_buffer(status, reason, len);
    PVOID ctx = (PVOID)(uintptr_t)(0x10000 + 16 * ++p->ops);
    p->payload = (const unsigned char *)reason;
    p->payload_len = len;
    CHECK_HR(WebSocketSend(p->h, WEB_SOCKET_CLOSE_BUFFER_TYPE, null_buffer ? NULL : &b, ctx), S_OK);
    memset(&b, 0xEE, sizeof b);
    peer_drive_send(p, WEB_SOCKET_CLOSE_BUFFER_TYPE, ctx);
    p->payload = NULL;
    p->payload_len = 0;
}

/* ---- receiving ------------------------------------------------------------------------------------ */

typedef struct message {
    HRESULT hr;
    WEB_SOCKET_BUFFER_TYPE type; /* of the last piece */
    unsigned char *data;
    size_t len, cap;
    unsigned long pieces;
    USHORT status;
    int reason_null;
    int pongs;
} message;

static void message_append(message *m, const void *p, size_t n) {
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 256;
        while (cap < m->len + n) cap *= 2;
        m->data = (unsigned char *)realloc(m->data, cap);
        if (!m->data) exit(3);
        m->cap = cap;
    }
    if (n) memcpy(m->data + m->len, p, n);
    m->len += n;
}

static void message_free(message *m) {
    free(m->data);
    memset(m, 0, sizeof *m);
}

/* An automatic pong handed out on the receive side (§9.4): one buffer in the region, typed
 * PING_PONG, no application context. */
static void handle_pong(peer *p, const ws_action *a, message *m) {
    CHECK_EQ(a->count, 1);
    CHECK_EQ(a->type, WEB_SOCKET_PING_PONG_BUFFER_TYPE);
    CHECK(a->app_ctx == WS_SENTINEL);
    CHECK(a->action_ctx != NULL);
    check_location(p, &a->buffers[0], 1, "pong");
    CHECK(a->buffers[0].Data.ulBufferLength <= 2 + 4 + 125);
    ws_fifo_push(p->out, a->buffers[0].Data.pbBuffer, a->buffers[0].Data.ulBufferLength);
    WebSocketCompleteAction(p->h, a->action_ctx, a->buffers[0].Data.ulBufferLength);
    m->pongs++;
}

/* One receive operation: appends its data to `m`, sets m->type. */
static void peer_receive_piece(peer *p, message *m) {
    ULONG cap = p->cfg->recv_cap;
    PVOID ctx = (PVOID)(uintptr_t)(0x20000 + 16 * ++p->ops);
    unsigned long guard;
    CHECK_HR(WebSocketReceive(p->h, NULL, ctx), S_OK);
    for (guard = 0; guard < 100000000ul; guard++) {
        ws_action a = ws_get(p->h, recv_queue(p), cap);
        if (a.hr != S_OK) {
            m->hr = a.hr;
            CHECK_EQ(a.action, WEB_SOCKET_NO_ACTION);
            return;
        }
        check_untouched_tail(&a, cap);
        if (a.action == WS_RECEIVE_FROM_NETWORK) {
            size_t want, n;
            CHECK_EQ(a.count, 1);
            CHECK_EQ(a.type, 0);
            CHECK(a.app_ctx == ctx);
            CHECK(a.action_ctx != NULL);
            CHECK(a.buffers[0].Data.ulBufferLength >= 1 && a.buffers[0].Data.ulBufferLength <= p->rbs);
            check_location(p, &a.buffers[0], 1, "RECEIVE_FROM_NETWORK");
            want = a.buffers[0].Data.ulBufferLength;
            if (p->cfg->max_read && want > p->cfg->max_read) want = p->cfg->max_read;
            n = ws_fifo_pop(p->in, a.buffers[0].Data.pbBuffer, want);
            if (!CHECK(n > 0)) {
                fprintf(stderr, "    (%s: starved: the library asks for bytes that never came)\n",
                        p->name);
                WebSocketCompleteAction(p->h, a.action_ctx, 0);
                m->hr = E_UNEXPECTED;
                return;
            }
            WebSocketCompleteAction(p->h, a.action_ctx, (ULONG)n);
        } else if (a.action == WS_SEND_TO_NETWORK) {
            handle_pong(p, &a, m);
        } else if (a.action == WS_INDICATE_RECEIVE) {
            const WEB_SOCKET_BUFFER *b = &a.buffers[0];
            CHECK_EQ(a.count, 1);
            CHECK(a.app_ctx == ctx);
            CHECK(a.action_ctx != NULL);
            m->type = a.type;
            m->pieces++;
            if (a.type == WEB_SOCKET_CLOSE_BUFFER_TYPE) {
                m->status = b->CloseStatus.usStatus;
                m->reason_null = b->CloseStatus.pbReason == NULL;
                if (b->CloseStatus.pbReason != NULL) check_location(p, b, 1, "close reason");
                else CHECK_EQ(b->CloseStatus.ulReasonLength, 0);
                CHECK(b->CloseStatus.ulReasonLength <= WEB_SOCKET_MAX_CLOSE_REASON_LENGTH);
            } else {
                CHECK(b->Data.pbBuffer != NULL);
                CHECK(b->Data.ulBufferLength <= p->rbs);
                check_location(p, b, 1, "INDICATE_RECEIVE_COMPLETE");
            }
            message_append(m, b->Data.pbBuffer, b->Data.ulBufferLength);
            /* .NET reports the bytes it copied; the library must ignore it (§6.9). */
            WebSocketCompleteAction(p->h, a.action_ctx, b->Data.ulBufferLength);
            break;
        } else {
            CHECK(!"unexpected action while receiving");
            fprintf(stderr, "    (%s got %s while receiving)\n", p->name, ws_action_name(a.action));
            m->hr = E_UNEXPECTED;
            return;
        }
    }
    /* Then NO_ACTION, after any pong that became due (§9.2 rule 7). */
    for (guard = 0; guard < 4; guard++) {
        ws_action a = ws_get(p->h, recv_queue(p), cap);
        if (a.action == WS_SEND_TO_NETWORK) {
            handle_pong(p, &a, m);
            continue;
        }
        CHECK_NO_ACTION(a);
        break;
    }
}

static int kind_of(WEB_SOCKET_BUFFER_TYPE t) {
    if (t == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE || t == WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE) return 1;
    if (t == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE || t == WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE)
        return 2;
    return 0;
}

/* Receives until a message ends (or a pong / close / error): FRAGMENT pieces then one MESSAGE
 * piece, all of the same kind. */
static void peer_receive_message(peer *p, message *m) {
    int kind = 0;
    memset(m, 0, sizeof *m);
    for (;;) {
        peer_receive_piece(p, m);
        if (m->hr != S_OK) return;
        if (kind_of(m->type) == 0) {
            CHECK(kind == 0); /* no control indication inside a data message */
            return;
        }
        if (kind == 0) kind = kind_of(m->type);
        CHECK_EQ(kind_of(m->type), kind);
        if (m->type == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE ||
            m->type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE)
            return;
    }
}

/* ---- payloads -------------------------------------------------------------------------------------- */

/* Valid UTF-8 of exactly n bytes: 1-, 2-, 3- and 4-byte characters in turn, ASCII to pad. */
static void make_text(unsigned char *p, size_t n, unsigned seed) {
    static const char *const chars[4] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    size_t i = 0;
    unsigned k = seed;
    while (i < n) {
        size_t w = (k % 4) + 1;
        if (i + w > n) {
            p[i] = (unsigned char)('A' + (i % 26));
            i++;
            continue;
        }
        memcpy(p + i, chars[k % 4], w);
        i += w;
        k++;
    }
}

static void make_binary(unsigned char *p, size_t n, unsigned seed) {
    uint32_t x = 2463534242u ^ seed;
    size_t i;
    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

/* ---- wire checks ------------------------------------------------------------------------------------ */

/* Checks the frame at the head of `f` (not consumed): first byte, masking per role, shortest
 * length, and the (unmasked) payload. Returns the frame length or 0. */
static size_t check_wire_frame(const ws_fifo *f, size_t offset, unsigned char b0, int from_client,
                               int zero_key, const unsigned char *payload, size_t len) {
    ws_frame fr;
    const unsigned char *p = ws_fifo_peek(f) + offset;
    size_t avail = ws_fifo_avail(f) - offset, i, bad = 0;
    if (!CHECK(ws_parse_frame(p, avail, &fr))) return 0;
    CHECK_EQ(p[0], b0);
    CHECK_EQ(fr.masked, from_client);
    CHECK_EQ(fr.len, len);
    CHECK_EQ(fr.header_len, ws_header_len(len, from_client));
    if (!CHECK(avail >= fr.header_len + len)) return 0;
    if (zero_key) CHECK(fr.key[0] == 0 && fr.key[1] == 0 && fr.key[2] == 0 && fr.key[3] == 0);
    for (i = 0; i < len; i++) {
        unsigned char c = p[fr.header_len + i];
        if (fr.masked) c = (unsigned char)(c ^ fr.key[i % 4]);
        if (c != payload[i]) bad++;
    }
    if (!CHECK_EQ(bad, 0)) fprintf(stderr, "    (payload of a %lu-byte frame differs)\n", (unsigned long)len);
    return fr.header_len + len;
}

/* ---- the size matrix ---------------------------------------------------------------------------------- */

static void exchange(pair *pr, int client_sends, int text, size_t size, unsigned seed) {
    peer *tx = client_sends ? &pr->client : &pr->server;
    peer *rx = client_sends ? &pr->server : &pr->client;
    unsigned char *payload = (unsigned char *)ws_xmalloc(size);
    WEB_SOCKET_BUFFER_TYPE type =
        text ? WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE : WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE;
    message m;
    int failures = g_failures;

    if (text) make_text(payload, size, seed);
    else make_binary(payload, size, seed);
    peer_send(tx, type, payload, size, 0);
    CHECK_EQ(check_wire_frame(tx->out, 0, text ? 0x81 : 0x82, client_sends,
                              client_sends && tx->cfg->zero_mask, payload, size),
             ws_fifo_avail(tx->out));
    peer_receive_message(rx, &m);
    CHECK_HR(m.hr, S_OK);
    CHECK_EQ(m.type, type);
    CHECK_MEM(m.data, m.len, payload, size);
    CHECK_EQ(ws_fifo_avail(rx->in), 0);
    if (size > rx->rbs) CHECK(m.pieces > 1);
    if (g_failures != failures)
        fprintf(stderr, "    (%s: %s %s message of %lu bytes)\n", tx->cfg->label, tx->name,
                text ? "text" : "binary", (unsigned long)size);
    message_free(&m);
    free(payload);
}

/* A clean close at the end: client 1000 "done", server answers 1000 with an empty reason. */
static void close_both(pair *pr) {
    message m;
    peer_send_close(&pr->client, 1000, "done", 4, 0);
    peer_receive_message(&pr->server, &m);
    CHECK_HR(m.hr, S_OK);
    CHECK_EQ(m.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
    CHECK_EQ(m.status, 1000);
    CHECK(!m.reason_null);
    CHECK_MEM(m.data, m.len, "done", 4);
    message_free(&m);
    peer_send_close(&pr->server, 1000, "", 0, 0);
    CHECK_MEM(ws_fifo_peek(&pr->s2c), ws_fifo_avail(&pr->s2c), "\x88\x02\x03\xe8", 4);
    peer_receive_message(&pr->client, &m);
    CHECK_EQ(m.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
    CHECK_EQ(m.status, 1000);
    CHECK(!m.reason_null);
    CHECK_EQ(m.len, 0);
    message_free(&m);
}

static void run_sizes(const pair_config *cfg) {
    static const unsigned long long sizes[] = {0,     1,         125,     126,     127,
                                               65535, 65536,     65537,   1 * MIB, 16 * MIB};
    unsigned long long limit = ws_quick() ? cfg->quick_max : cfg->max_size;
    size_t i;
    pair pr;
    if (pair_open(&pr, cfg)) {
        for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            if (sizes[i] > limit) continue;
            exchange(&pr, 1, 1, (size_t)sizes[i], (unsigned)i);
            exchange(&pr, 0, 1, (size_t)sizes[i], (unsigned)i + 100);
            exchange(&pr, 1, 0, (size_t)sizes[i], (unsigned)i + 200);
            exchange(&pr, 0, 0, (size_t)sizes[i], (unsigned)i + 300);
        }
        close_both(&pr);
    }
    pair_close(&pr);
}

/* The configurations. Capacities: .NET offers 2 on the send queue and 1 on the receive queue. */
static const pair_config k_default = {"default", 0, 0, 0, 0, 2, 1, 0, 0, 0, 16 * MIB, 65537};
static const pair_config k_dotnet = {"dotnet-allocated", 16384, 16384, 16, 1, 2, 1, 0, 0, 0,
                                     1 * MIB, 65537};
static const pair_config k_minimum = {"minimum-one-slot", 256, 16, 16, 1, 1, 1, 0, 0, 0, 1 * MIB,
                                      65537};
static const pair_config k_maximum = {"maximum", 65536, 65536, 65536, 1, 2, 2, 0, 0, 0, 16 * MIB,
                                      65537};
static const pair_config k_one_byte = {"one-byte-reads", 0, 0, 0, 1, 2, 1, 1, 0, 0, 65537, 127};
static const pair_config k_odd_reads = {"seven-byte-reads", 256, 16, 16, 1, 1, 2, 7, 0, 0, 1 * MIB,
                                        4096};
static const pair_config k_zero_mask = {"zero-mask", 0, 0, 0, 1, 2, 1, 0, 1, 0, 1 * MIB, 65537};
static const pair_config k_all_queue = {"all-queue", 1024, 64, 64, 1, 2, 2, 0, 0, 1, 1 * MIB, 65537};

static void test_sizes_default(void) { run_sizes(&k_default); }
static void test_sizes_dotnet_allocated_buffer(void) { run_sizes(&k_dotnet); }
static void test_sizes_minimum_buffers_one_slot(void) { run_sizes(&k_minimum); }
static void test_sizes_maximum_buffers(void) { run_sizes(&k_maximum); }
static void test_sizes_one_byte_reads(void) { run_sizes(&k_one_byte); }
static void test_sizes_seven_byte_reads(void) { run_sizes(&k_odd_reads); }
static void test_sizes_zero_mask(void) { run_sizes(&k_zero_mask); }
static void test_sizes_all_queue(void) { run_sizes(&k_all_queue); }

/* ---- fragments, pings, pongs, closes under several configurations ----------------------------------- */

static const pair_config *const k_feature_configs[4] = {&k_default, &k_minimum, &k_one_byte,
                                                        &k_all_queue};

/* FRAGMENT x N then MESSAGE, with an empty fragment in the middle and code points split across
 * frames; the receiver reassembles the same bytes. */
static void fragmented(const pair_config *cfg, int client_sends, int text) {
    const size_t total = ws_quick() ? 12000 : 100000;
    const size_t cuts[6] = {0, 7, 7, 3001, total * 7 / 10 + 1, total};
    unsigned char *payload = (unsigned char *)ws_xmalloc(total);
    WEB_SOCKET_BUFFER_TYPE frag =
        text ? WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE : WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE;
    WEB_SOCKET_BUFFER_TYPE last =
        text ? WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE : WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE;
    pair pr;
    message m;
    int i;
    size_t at = 0;
    if (text) make_text(payload, total, 3);
    else make_binary(payload, total, 3);
    if (pair_open(&pr, cfg)) {
        peer *tx = client_sends ? &pr.client : &pr.server;
        peer *rx = client_sends ? &pr.server : &pr.client;
        for (i = 0; i < 5; i++) {
            peer_send(tx, i == 4 ? last : frag, payload + cuts[i], cuts[i + 1] - cuts[i], 0);
        }
        /* Wire: opcode 1/2 without FIN, continuations, FIN on the last. */
        for (i = 0; i < 5; i++) {
            unsigned char b0 = (unsigned char)((i == 4 ? 0x80 : 0x00) | (i == 0 ? (text ? 1 : 2) : 0));
            size_t n = check_wire_frame(tx->out, at, b0, client_sends, 0, payload + cuts[i],
                                        cuts[i + 1] - cuts[i]);
            if (n == 0) break;
            at += n;
        }
        CHECK_EQ(at, ws_fifo_avail(tx->out));
        peer_receive_message(rx, &m);
        CHECK_HR(m.hr, S_OK);
        CHECK_EQ(m.type, last);
        CHECK_MEM(m.data, m.len, payload, total);
        CHECK(m.pieces >= 4);
        message_free(&m);
        close_both(&pr);
    }
    pair_close(&pr);
    free(payload);
}

static void test_fragmented_sends(void) {
    int c, d, t;
    for (c = 0; c < 4; c++)
        for (d = 0; d < 2; d++)
            for (t = 0; t < 2; t++) fragmented(k_feature_configs[c], d, t);
}

/* UTF8_FRAGMENT "Hel", PING "p1", UTF8_MESSAGE "lo": the receiver answers the ping with an
 * automatic pong while the message is in progress; the sender then sees that pong. */
static void ping_between_fragments(const pair_config *cfg, int client_sends) {
    pair pr;
    message m;
    if (pair_open(&pr, cfg)) {
        peer *tx = client_sends ? &pr.client : &pr.server;
        peer *rx = client_sends ? &pr.server : &pr.client;
        size_t n;
        peer_send(tx, WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE, "Hel", 3, 0);
        peer_send(tx, WEB_SOCKET_PING_PONG_BUFFER_TYPE, "p1", 2, 0);
        peer_send(tx, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, "lo", 2, 0);
        n = check_wire_frame(tx->out, 0, 0x01, client_sends, 0, (const unsigned char *)"Hel", 3);
        n += check_wire_frame(tx->out, n, 0x89, client_sends, 0, (const unsigned char *)"p1", 2);
        n += check_wire_frame(tx->out, n, 0x80, client_sends, 0, (const unsigned char *)"lo", 2);
        CHECK_EQ(n, ws_fifo_avail(tx->out));

        peer_receive_message(rx, &m);
        CHECK_HR(m.hr, S_OK);
        CHECK_EQ(m.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
        CHECK_MEM(m.data, m.len, "Hello", 5);
        CHECK_EQ(m.pongs, 1);
        message_free(&m);
        /* The pong on the wire: `8a 02 "p1"`, masked from a client. */
        CHECK_EQ(check_wire_frame(rx->out, 0, 0x8a, !client_sends, 0, (const unsigned char *)"p1", 2),
                 ws_fifo_avail(rx->out));
        peer_receive_message(tx, &m);
        CHECK_HR(m.hr, S_OK);
        CHECK_EQ(m.type, WEB_SOCKET_PING_PONG_BUFFER_TYPE);
        CHECK_MEM(m.data, m.len, "p1", 2);
        CHECK_EQ(m.pongs, 0);
        message_free(&m);
        close_both(&pr);
    }
    pair_close(&pr);
}

static void test_ping_between_fragments(void) {
    int c;
    for (c = 0; c < 4; c++) {
        ping_between_fragments(k_feature_configs[c], 1);
        ping_between_fragments(k_feature_configs[c], 0);
    }
}

/* Pings with no payload and with 125 bytes; UNSOLICITED_PONG arrives as PING_PONG (§9.6.4). */
static void pings_and_pongs(const pair_config *cfg, int client_sends) {
    pair pr;
    message m;
    unsigned char big[125];
    make_binary(big, sizeof big, 9);
    if (pair_open(&pr, cfg)) {
        peer *tx = client_sends ? &pr.client : &pr.server;
        peer *rx = client_sends ? &pr.server : &pr.client;
        peer_send(tx, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, 0, 1);
        peer_send(tx, WEB_SOCKET_PING_PONG_BUFFER_TYPE, big, sizeof big, 0);
        peer_send(tx, WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE, NULL, 0, 1);
        peer_send(tx, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, "end", 3, 0);
        peer_receive_message(rx, &m); /* two pings answered, then the unsolicited pong */
        CHECK_EQ(m.type, WEB_SOCKET_PING_PONG_BUFFER_TYPE);
        CHECK_EQ(m.len, 0);
        CHECK_EQ(m.pongs, 2);
        message_free(&m);
        peer_receive_message(rx, &m);
        CHECK_EQ(m.type, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE);
        CHECK_MEM(m.data, m.len, "end", 3);
        message_free(&m);
        /* The two automatic pongs reach the sender as PING_PONG with the pings' payloads. */
        peer_receive_message(tx, &m);
        CHECK_EQ(m.type, WEB_SOCKET_PING_PONG_BUFFER_TYPE);
        CHECK_EQ(m.len, 0);
        message_free(&m);
        peer_receive_message(tx, &m);
        CHECK_EQ(m.type, WEB_SOCKET_PING_PONG_BUFFER_TYPE);
        CHECK_MEM(m.data, m.len, big, sizeof big);
        message_free(&m);
        close_both(&pr);
    }
    pair_close(&pr);
}

static void test_pings_and_pongs(void) {
    int c;
    for (c = 0; c < 4; c++) {
        pings_and_pongs(k_feature_configs[c], 1);
        pings_and_pongs(k_feature_configs[c], 0);
    }
}

/* Closes in both directions (§9.6.5, §10.1): status + reason; NULL buffer → 1005 with a NULL
 * reason; status with an empty non-NULL reason → non-NULL reason, length 0; a 123-byte UTF-8
 * reason; data still flows towards the side that closed first. */
static void closes(const pair_config *cfg, int client_first) {
    pair pr;
    message m;
    unsigned char reason[WEB_SOCKET_MAX_CLOSE_REASON_LENGTH], wire_payload[125];
    make_text(reason, sizeof reason, 1);
    wire_payload[0] = 0x03; /* 1001, big-endian, then the reason */
    wire_payload[1] = 0xe9;
    memcpy(wire_payload + 2, reason, sizeof reason);
    /* status + reason, then an answer with no payload */
    if (pair_open(&pr, cfg)) {
        peer *a = client_first ? &pr.client : &pr.server;
        peer *b = client_first ? &pr.server : &pr.client;
        peer_send_close(a, 1001, reason, sizeof reason, 0);
        CHECK_EQ(check_wire_frame(a->out, 0, 0x88, client_first, 0, wire_payload, 125),
                 ws_fifo_avail(a->out));
        peer_receive_message(b, &m);
        CHECK_HR(m.hr, S_OK);
        CHECK_EQ(m.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
        CHECK_EQ(m.status, 1001);
        CHECK(!m.reason_null);
        CHECK_MEM(m.data, m.len, reason, sizeof reason);
        message_free(&m);
        /* b may still send data before its own close (§10.1). */
        peer_send(b, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, "late", 4, 0);
        peer_send_close(b, 0, NULL, 0, 1);
        peer_receive_message(a, &m);
        CHECK_EQ(m.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
        CHECK_MEM(m.data, m.len, "late", 4);
        message_free(&m);
        peer_receive_message(a, &m);
        CHECK_HR(m.hr, S_OK);
        CHECK_EQ(m.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
        CHECK_EQ(m.status, 1005);
        CHECK(m.reason_null);
        CHECK_EQ(m.len, 0);
        message_free(&m);
        CHECK_HR(WebSocketReceive(a->h, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);
        CHECK_HR(WebSocketReceive(b->h, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);
    }
    pair_close(&pr);
    /* status with an empty, non-NULL reason; 4999 passes through */
    if (pair_open(&pr, cfg)) {
        peer *a = client_first ? &pr.client : &pr.server;
        peer *b = client_first ? &pr.server : &pr.client;
        peer_send_close(a, 1000, "", 0, 0);
        peer_receive_message(b, &m);
        CHECK_EQ(m.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
        CHECK_EQ(m.status, 1000);
        CHECK(!m.reason_null);
        CHECK_EQ(m.len, 0);
        message_free(&m);
        peer_send_close(b, 4999, "x", 1, 0);
        peer_receive_message(a, &m);
        CHECK_EQ(m.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
        CHECK_EQ(m.status, 4999);
        CHECK_MEM(m.data, m.len, "x", 1);
        message_free(&m);
    }
    pair_close(&pr);
}

static void test_closes(void) {
    int c;
    for (c = 0; c < 4; c++) {
        closes(k_feature_configs[c], 1);
        closes(k_feature_configs[c], 0);
    }
}

int main(int argc, char **argv) {
    ws_init(argc, argv);
    RUN(test_sizes_default);
    RUN(test_sizes_dotnet_allocated_buffer);
    RUN(test_sizes_minimum_buffers_one_slot);
    RUN(test_sizes_maximum_buffers);
    RUN(test_sizes_one_byte_reads);
    RUN(test_sizes_seven_byte_reads);
    RUN(test_sizes_zero_mask);
    RUN(test_sizes_all_queue);
    RUN(test_fragmented_sends);
    RUN(test_ping_between_fragments);
    RUN(test_pings_and_pongs);
    RUN(test_closes);
    return ws_finish("pair");
}
