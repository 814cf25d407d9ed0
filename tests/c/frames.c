/*
 * frames.c - wire bytes and engine rules through the C ABI (spec §9, §10.3, §16.2, §16.3):
 * the exact frames each role sends, what each received frame turns into, every protocol
 * violation of §9.7 and the failed state after it, cancellation of sends and receives, and the
 * scheduling of automatic pongs.
 */
#include "common.h"

static const unsigned char k_key[4] = {0x37, 0xfa, 0x21, 0x3d};

typedef struct conn {
    WEB_SOCKET_HANDLE client, server;
    ws_fifo wire; /* bytes towards the handle under test */
    ws_fifo back; /* bytes it sends (automatic pongs, user frames) */
} conn;

static int conn_open(conn *c, const WEB_SOCKET_PROPERTY *cp, ULONG cn, const WEB_SOCKET_PROPERTY *sp,
                     ULONG sn) {
    memset(c, 0, sizeof *c);
    if (!CHECK_HR(WebSocketCreateClientHandle(cp, cn, &c->client), S_OK)) return 0;
    if (!CHECK_HR(WebSocketCreateServerHandle(sp, sn, &c->server), S_OK)) return 0;
    return ws_handshake(c->client, c->server);
}

static void conn_close(conn *c) {
    WebSocketDeleteHandle(c->client);
    WebSocketDeleteHandle(c->server);
    ws_fifo_free(&c->wire);
    ws_fifo_free(&c->back);
}

/* Appends a frame to c->wire: masked with k_key when `masked`. */
static void put_frame(conn *c, unsigned char b0, int masked, const void *payload, size_t len) {
    unsigned char *f = (unsigned char *)ws_xmalloc(len + 14);
    size_t n = ws_build_frame(f, b0, masked ? k_key : NULL, payload, len);
    ws_fifo_push(&c->wire, f, n);
    free(f);
}

static void put_bytes(conn *c, const void *p, size_t n) { ws_fifo_push(&c->wire, p, n); }

/* ---- §16.2: what each role sends ------------------------------------------------------------- */

/* Sends one operation on `h` with a 2-slot send queue and checks the action shapes: data frames
 * as header (library memory) + payload (in place when unmasked), control frames as one buffer.
 * Returns the wire bytes in `out`. */
static void send_one(WEB_SOCKET_HANDLE h, WEB_SOCKET_BUFFER_TYPE type, WEB_SOCKET_BUFFER *b,
                     ws_fifo *out, int expect_in_place) {
    int ctx = 0;
    ws_action a;
    int guard;
    CHECK_HR(WebSocketSend(h, type, b, &ctx), S_OK);
    for (guard = 0; guard < 100000; guard++) {
        ULONG i, total = 0;
        a = ws_get(h, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
        CHECK_HR(a.hr, S_OK);
        CHECK(a.app_ctx == &ctx);
        CHECK_EQ(a.type, type);
        if (a.action != WS_SEND_TO_NETWORK) break;
        CHECK(a.count == 1 || a.count == 2);
        if (a.count == 2 && expect_in_place) {
            CHECK(a.buffers[1].Data.pbBuffer == b->Data.pbBuffer);
            CHECK_EQ(a.buffers[1].Data.ulBufferLength, b->Data.ulBufferLength);
        }
        if (a.count == 1) CHECK(ws_buffer_untouched(&a.buffers[1]));
        for (i = 0; i < a.count && i < 2; i++) {
            ws_fifo_push(out, a.buffers[i].Data.pbBuffer, a.buffers[i].Data.ulBufferLength);
            total += a.buffers[i].Data.ulBufferLength;
        }
        WebSocketCompleteAction(h, a.action_ctx, total);
    }
    CHECK_EQ(a.action, WS_INDICATE_SEND);
    CHECK_EQ(a.count, 0);
    WebSocketCompleteAction(h, a.action_ctx, 0);
    a = ws_get(h, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
    CHECK_NO_ACTION(a);
}

#define CHECK_WIRE(fifo, lit, n)                                                                 \
    do {                                                                                         \
        CHECK_MEM(ws_fifo_peek(fifo), ws_fifo_avail(fifo), lit, n);                              \
        ws_fifo_clear(fifo);                                                                     \
    } while (0)

static void test_server_frames(void) {
    conn c;
    WEB_SOCKET_BUFFER b;
    static unsigned char payload[65536];
    unsigned char want[10 + 65536];
    size_t i;
    for (i = 0; i < sizeof payload; i++) payload[i] = (unsigned char)(i * 31 + 7);
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        b = ws_data_buffer("Hello", 5);
        send_one(c.server, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, &c.back, 1);
        CHECK_WIRE(&c.back, "\x81\x05\x48\x65\x6c\x6c\x6f", 7);
        send_one(c.server, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, &c.back, 0);
        CHECK_WIRE(&c.back, "\x89\x00", 2);
        send_one(c.server, WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE, NULL, &c.back, 0);
        CHECK_WIRE(&c.back, "\x8a\x00", 2);
        b = ws_data_buffer("abc", 3);
        send_one(c.server, WEB_SOCKET_PING_PONG_BUFFER_TYPE, &b, &c.back, 0);
        CHECK_WIRE(&c.back, "\x89\x03"
                            "abc",
                   5);
        b = ws_data_buffer(payload, 200);
        send_one(c.server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, &c.back, 1);
        memcpy(want, "\x82\x7e\x00\xc8", 4);
        memcpy(want + 4, payload, 200);
        CHECK_WIRE(&c.back, want, 204);
        b = ws_data_buffer(payload, 65536);
        send_one(c.server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, &c.back, 1);
        memcpy(want, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
        memcpy(want + 10, payload, 65536);
        CHECK_WIRE(&c.back, want, 10 + 65536);
        b = ws_data_buffer("Hel", 3);
        send_one(c.server, WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE, &b, &c.back, 1);
        b = ws_data_buffer("lo", 2);
        send_one(c.server, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, &c.back, 1);
        CHECK_WIRE(&c.back, "\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f", 9);
        b = ws_data_buffer(payload, 126);
        send_one(c.server, WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE, &b, &c.back, 1);
        send_one(c.server, WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE, NULL, &c.back, 0);
        send_one(c.server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, NULL, &c.back, 0);
        memcpy(want, "\x02\x7e\x00\x7e", 4);
        memcpy(want + 4, payload, 126);
        memcpy(want + 130, "\x00\x00\x80\x00", 4);
        CHECK_WIRE(&c.back, want, 134);
        b = ws_close_buffer(1000, NULL, 0);
        send_one(c.server, WEB_SOCKET_CLOSE_BUFFER_TYPE, &b, &c.back, 0);
        CHECK_WIRE(&c.back, "\x88\x02\x03\xe8", 4);
    }
    conn_close(&c);

    /* Close variants, each on its own connection. */
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        send_one(c.server, WEB_SOCKET_CLOSE_BUFFER_TYPE, NULL, &c.back, 0);
        CHECK_WIRE(&c.back, "\x88\x00", 2);
    }
    conn_close(&c);
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        b = ws_close_buffer(1005, NULL, 0);
        send_one(c.server, WEB_SOCKET_CLOSE_BUFFER_TYPE, &b, &c.back, 0);
        CHECK_WIRE(&c.back, "\x88\x00", 2);
    }
    conn_close(&c);
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        b = ws_close_buffer(65535, "x", 1); /* any status goes out unchanged */
        send_one(c.server, WEB_SOCKET_CLOSE_BUFFER_TYPE, &b, &c.back, 0);
        CHECK_WIRE(&c.back, "\x88\x03\xff\xff\x78", 5);
    }
    conn_close(&c);
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        b = ws_close_buffer(1001, "", 0); /* non-NULL, empty reason */
        send_one(c.server, WEB_SOCKET_CLOSE_BUFFER_TYPE, &b, &c.back, 0);
        CHECK_WIRE(&c.back, "\x88\x02\x03\xe9", 4);
    }
    conn_close(&c);
}

/* Checks a masked client frame in `f`: first byte, MASK bit, length, and the unmasked payload. */
static void check_client_frame(ws_fifo *f, unsigned char b0, const void *payload, size_t len,
                               unsigned char key_out[4]) {
    ws_frame fr;
    const unsigned char *p = ws_fifo_peek(f);
    size_t i, bad = 0;
    if (!CHECK(ws_parse_frame(p, ws_fifo_avail(f), &fr))) return;
    CHECK_EQ(p[0], b0);
    CHECK_EQ(fr.masked, 1);
    CHECK_EQ(fr.len, len);
    CHECK_EQ(fr.header_len, ws_header_len(len, 1));
    CHECK_EQ(ws_fifo_avail(f), fr.header_len + len);
    if (ws_fifo_avail(f) == fr.header_len + len) {
        for (i = 0; i < len; i++)
            if ((p[fr.header_len + i] ^ fr.key[i % 4]) != ((const unsigned char *)payload)[i]) bad++;
        CHECK_EQ(bad, 0);
    }
    if (key_out) memcpy(key_out, fr.key, 4);
    ws_fifo_clear(f);
}

static void test_client_frames(void) {
    conn c;
    WEB_SOCKET_BUFFER b;
    unsigned char copy[300], payload[300], k1[4], k2[4];
    size_t i;
    for (i = 0; i < sizeof payload; i++) payload[i] = (unsigned char)(255 - i);
    memcpy(copy, payload, sizeof copy);
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        send_one(c.client, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, &c.back, 0);
        check_client_frame(&c.back, 0x89, "", 0, k1);
        b = ws_data_buffer("Hello", 5);
        send_one(c.client, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, &c.back, 0);
        check_client_frame(&c.back, 0x81, "Hello", 5, k1);
        b = ws_data_buffer("Hello", 5);
        send_one(c.client, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, &c.back, 0);
        check_client_frame(&c.back, 0x81, "Hello", 5, k2);
        CHECK(memcmp(k1, k2, 4) != 0); /* a fresh key per frame */
        b = ws_data_buffer(payload, 300);
        send_one(c.client, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, &c.back, 0);
        check_client_frame(&c.back, 0x82, payload, 300, NULL);
        CHECK_MEM(payload, 300, copy, 300); /* the caller's memory is never modified */
        b = ws_close_buffer(1000, "bye", 3);
        send_one(c.client, WEB_SOCKET_CLOSE_BUFFER_TYPE, &b, &c.back, 0);
        check_client_frame(&c.back, 0x88, "\x03\xe8"
                                          "bye",
                           5, NULL);
    }
    conn_close(&c);
}

/* ---- §16.3: what received frames turn into (server handle, no properties) ---------------------- */

static void test_receive_vectors(void) {
    conn c;
    ws_received r;
    ws_action a;

    if (conn_open(&c, NULL, 0, NULL, 0)) {
        put_bytes(&c, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11); /* RFC 6455 §5.7 */
        r = ws_receive(c.server, &c.wire, &c.back, WS_SENTINEL);
        CHECK_HR(r.hr, S_OK);
        CHECK_EQ(r.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
        CHECK_MEM(r.data, r.len, "Hello", 5);
        CHECK(r.app_ctx == WS_SENTINEL);
        ws_received_free(&r);

        /* Ping "abc": one-buffer pong `8a 03 61 62 63`, then the receive stays pending. */
        put_frame(&c, 0x89, 1, "abc", 3);
        CHECK_HR(WebSocketReceive(c.server, NULL, NULL), S_OK);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
        WebSocketCompleteAction(c.server, a.action_ctx,
                                (ULONG)ws_fifo_pop(&c.wire, a.buffers[0].Data.pbBuffer,
                                                   a.buffers[0].Data.ulBufferLength));
        a = ws_get(c.server, WEB_SOCKET_SEND_ACTION_QUEUE, 2); /* never on the SEND queue */
        CHECK_NO_ACTION(a);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_HR(a.hr, S_OK);
        CHECK_EQ(a.action, WS_SEND_TO_NETWORK);
        CHECK_EQ(a.count, 1);
        CHECK_EQ(a.type, WEB_SOCKET_PING_PONG_BUFFER_TYPE);
        CHECK(a.app_ctx == WS_SENTINEL);
        CHECK(a.action_ctx != NULL);
        CHECK_MEM(a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength,
                  "\x8a\x03\x61\x62\x63", 5);
        /* While the pong is outstanding the receive side has nothing else to give. */
        {
            ws_action busy = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
            CHECK_NO_ACTION(busy);
        }
        WebSocketCompleteAction(c.server, a.action_ctx, 5);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);

        /* Empty pong → PING_PONG, length 0. */
        if (a.action == WS_RECEIVE_FROM_NETWORK) {
            unsigned char f[6];
            size_t n = ws_build_frame(f, 0x8a, k_key, "", 0);
            memcpy(a.buffers[0].Data.pbBuffer, f, n);
            WebSocketCompleteAction(c.server, a.action_ctx, (ULONG)n);
            a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
            CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
            CHECK_EQ(a.type, WEB_SOCKET_PING_PONG_BUFFER_TYPE);
            CHECK_EQ(a.buffers[0].Data.ulBufferLength, 0);
            WebSocketCompleteAction(c.server, a.action_ctx, 0);
        }
        /* Pong with payload. */
        put_frame(&c, 0x8a, 1, "pp", 2);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_EQ(r.type, WEB_SOCKET_PING_PONG_BUFFER_TYPE);
        CHECK_MEM(r.data, r.len, "pp", 2);
        ws_received_free(&r);
        /* Empty text message: UTF8_MESSAGE, length 0, non-NULL pointer. */
        put_frame(&c, 0x81, 1, "", 0);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_EQ(r.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
        CHECK_EQ(r.len, 0);
        CHECK(r.data != NULL);
        ws_received_free(&r);
        /* Non-minimal length encoding is accepted. */
        put_bytes(&c, "\x82\xfe\x00\x02\x37\xfa\x21\x3d", 8);
        put_bytes(&c, "\x37\xfa", 2); /* 00 00 masked */
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_EQ(r.type, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE);
        CHECK_MEM(r.data, r.len, "\x00\x00", 2);
        ws_received_free(&r);
        /* Close 1000, no reason: non-NULL reason pointer, length 0. */
        put_frame(&c, 0x88, 1, "\x03\xe8", 2);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_HR(r.hr, S_OK);
        CHECK_EQ(r.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
        CHECK_EQ(r.status, 1000);
        CHECK(!r.reason_null);
        CHECK_EQ(r.len, 0);
        ws_received_free(&r);
        CHECK_EQ(ws_fifo_avail(&c.back), 0);
    }
    conn_close(&c);

    /* Empty close: 1005, NULL reason. */
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        put_frame(&c, 0x88, 1, "", 0);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_EQ(r.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
        CHECK_EQ(r.status, 1005);
        CHECK(r.reason_null);
        CHECK_EQ(r.len, 0);
        ws_received_free(&r);
    }
    conn_close(&c);

    /* Statuses that may appear on the wire arrive unchanged; 5000-65535, which RFC 6455 §7.4.2
     * does not define, are protocol errors (README, known differences). */
    {
        static const unsigned statuses[8] = {1000, 1001, 1003, 1007, 1011, 3000, 3999, 4999};
        int i;
        for (i = 0; i < 8; i++) {
            unsigned char p[5] = {(unsigned char)(statuses[i] >> 8), (unsigned char)statuses[i], 'w',
                                  'h', 'y'};
            if (conn_open(&c, NULL, 0, NULL, 0)) {
                put_frame(&c, 0x88, 1, p, 5);
                r = ws_receive(c.server, &c.wire, &c.back, NULL);
                CHECK_HR(r.hr, S_OK);
                CHECK_EQ(r.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
                CHECK_EQ(r.status, statuses[i]);
                CHECK_MEM(r.data, r.len, "why", 3);
                ws_received_free(&r);
            }
            conn_close(&c);
        }
    }
}

/* ---- §9.7 / §10.3: violations, reported once, then the aborted shape ---------------------------- */

static void violation(int on_client, const void *bytes, size_t n, HRESULT want, int line) {
    conn c;
    ws_received r;
    ws_action a;
    WEB_SOCKET_HANDLE h;
    WEB_SOCKET_BUFFER b = ws_data_buffer("x", 1);
    int ctx = 5;
    if (!conn_open(&c, NULL, 0, NULL, 0)) {
        conn_close(&c);
        return;
    }
    h = on_client ? c.client : c.server;
    put_bytes(&c, bytes, n);
    r = ws_receive(h, &c.wire, &c.back, &ctx);
    if (!CHECK_HR(r.hr, want)) fprintf(stderr, "    (violation case at line %d)\n", line);
    ws_received_free(&r);
    /* The pending receive now completes in the aborted shape; nothing asks for bytes. */
    a = ws_get(h, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_HR(a.hr, S_OK);
    CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
    CHECK_EQ(a.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
    CHECK(a.app_ctx == &ctx);
    CHECK(a.buffers[0].CloseStatus.pbReason == NULL);
    CHECK_EQ(a.buffers[0].CloseStatus.ulReasonLength, 0);
    CHECK_EQ(a.buffers[0].CloseStatus.usStatus, 1006);
    WebSocketCompleteAction(h, a.action_ctx, 0);
    a = ws_get(h, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
    CHECK_NO_ACTION(a);
    CHECK_HR(WebSocketSend(h, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, NULL),
             E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketReceive(h, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);
    /* No close frame or pong was produced by the library. */
    CHECK_EQ(ws_fifo_avail(&c.back), 0);
    conn_close(&c);
}

/* A masked frame from the client with first byte b0. */
static void masked_violation(unsigned char b0, const void *payload, size_t len, HRESULT want,
                             int line) {
    unsigned char f[200];
    size_t n = ws_build_frame(f, b0, k_key, payload, len);
    violation(0, f, n, want, line);
}
#define MASKED_VIOLATION(b0, p, len, want) masked_violation((b0), (p), (len), (want), __LINE__)

static void test_protocol_violations(void) {
    unsigned char long_ping[126];
    memset(long_ping, 'p', sizeof long_ping);
    MASKED_VIOLATION(0xC1, "Hello", 5, E_INVALID_PROTOCOL_FORMAT); /* RSV1 */
    MASKED_VIOLATION(0xA1, "Hello", 5, E_INVALID_PROTOCOL_FORMAT); /* RSV2 */
    MASKED_VIOLATION(0x91, "Hello", 5, E_INVALID_PROTOCOL_FORMAT); /* RSV3 */
    MASKED_VIOLATION(0x83, "Hello", 5, E_INVALID_PROTOCOL_FORMAT); /* opcode 3 */
    MASKED_VIOLATION(0x87, "Hello", 5, E_INVALID_PROTOCOL_FORMAT); /* opcode 7 */
    MASKED_VIOLATION(0x8B, "", 0, E_INVALID_PROTOCOL_FORMAT);      /* opcode B */
    MASKED_VIOLATION(0x8F, "", 0, E_INVALID_PROTOCOL_FORMAT);      /* opcode F */
    MASKED_VIOLATION(0x09, "abc", 3, E_INVALID_PROTOCOL_FORMAT);   /* fragmented ping */
    MASKED_VIOLATION(0x08, "", 0, E_INVALID_PROTOCOL_FORMAT);      /* fragmented close */
    MASKED_VIOLATION(0x89, long_ping, 126, E_INVALID_PROTOCOL_FORMAT);
    MASKED_VIOLATION(0x81, "\xc3\x28", 2, E_INVALID_PROTOCOL_FORMAT);     /* §16.3 */
    MASKED_VIOLATION(0x81, "ok\xed\xa0\x80", 5, E_INVALID_PROTOCOL_FORMAT); /* surrogate */
    MASKED_VIOLATION(0x81, "\xc0\xaf", 2, E_INVALID_PROTOCOL_FORMAT);     /* overlong */
    MASKED_VIOLATION(0x81, "\xf4\x90\x80\x80", 4, E_INVALID_PROTOCOL_FORMAT); /* > U+10FFFF */
    MASKED_VIOLATION(0x81, "abc\xe2\x82", 5, E_INVALID_PROTOCOL_FORMAT); /* truncated at FIN */
    MASKED_VIOLATION(0x88, "\x03", 1, E_INVALID_PROTOCOL_FORMAT);        /* 1-byte close */
    MASKED_VIOLATION(0x88, "\x03\xed", 2, E_INVALID_PROTOCOL_FORMAT);    /* 1005 */
    MASKED_VIOLATION(0x88, "\x03\xee", 2, E_INVALID_PROTOCOL_FORMAT);    /* 1006 */
    MASKED_VIOLATION(0x88, "\x03\xf7", 2, E_INVALID_PROTOCOL_FORMAT);    /* 1015 */
    MASKED_VIOLATION(0x88, "\x03\xe7", 2, E_INVALID_PROTOCOL_FORMAT);    /* 999 */
    MASKED_VIOLATION(0x88, "\x00\x00", 2, E_INVALID_PROTOCOL_FORMAT);    /* 0 */
    MASKED_VIOLATION(0x88, "\x03\xe8\xff", 3, E_INVALID_PROTOCOL_FORMAT); /* reason not UTF-8 */
    MASKED_VIOLATION(0x80, "abc", 3, E_INVALID_PROTOCOL_OPERATION);       /* lone continuation */
    MASKED_VIOLATION(0x00, "abc", 3, E_INVALID_PROTOCOL_OPERATION);
    /* 64-bit length with the top bit set. */
    violation(0, "\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00\x37\xfa\x21\x3d", 14,
              E_INVALID_PROTOCOL_FORMAT, __LINE__);
    /* Unmasked frame to a server; masked frame to a client. */
    violation(0, "\x81\x05Hello", 7, E_INVALID_PROTOCOL_FORMAT, __LINE__);
    violation(1, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11, E_INVALID_PROTOCOL_FORMAT,
              __LINE__);
}

/* A new data frame while a fragmented message is in progress: the first fragment is delivered,
 * the next receive fails. */
static void test_interleaved_message_violation(void) {
    conn c;
    ws_received r;
    ws_action a;
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        put_frame(&c, 0x01, 1, "abc", 3);
        put_frame(&c, 0x82, 1, "xyz", 3);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_HR(r.hr, S_OK);
        CHECK_EQ(r.type, WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE);
        CHECK_MEM(r.data, r.len, "abc", 3);
        ws_received_free(&r);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_HR(r.hr, E_INVALID_PROTOCOL_OPERATION);
        ws_received_free(&r);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
        CHECK_EQ(a.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
        CHECK_EQ(a.buffers[0].CloseStatus.usStatus, 1006);
    }
    conn_close(&c);
}

/* Invalid UTF-8 split over two frames; a code point split over frames is fine. */
static void test_utf8_across_frames(void) {
    conn c;
    ws_received r;
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        put_frame(&c, 0x01, 1, "a\xe2", 2);
        put_frame(&c, 0x80, 1, "\x82\xac", 2); /* U+20AC split 1 | 2 */
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_EQ(r.type, WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE);
        CHECK_MEM(r.data, r.len, "a\xe2", 2);
        ws_received_free(&r);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_EQ(r.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
        CHECK_MEM(r.data, r.len, "\x82\xac", 2);
        ws_received_free(&r);
        put_frame(&c, 0x01, 1, "\xe2\x82", 2);
        put_frame(&c, 0x80, 1, "\x28", 1); /* bad continuation in the next frame */
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_HR(r.hr, S_OK);
        ws_received_free(&r);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_HR(r.hr, E_INVALID_PROTOCOL_FORMAT);
        ws_received_free(&r);
    }
    conn_close(&c);
}

/* ---- properties that change what is accepted (§7.5) ------------------------------------------ */

static void test_disable_utf8_verification(void) {
    conn c;
    ws_received r;
    ULONG one = 1;
    WEB_SOCKET_PROPERTY p = ws_property(WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE, &one, 4);
    if (conn_open(&c, NULL, 0, &p, 1)) {
        put_frame(&c, 0x81, 1, "\xc3\x28", 2);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_HR(r.hr, S_OK);
        CHECK_EQ(r.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
        CHECK_MEM(r.data, r.len, "\xc3\x28", 2);
        ws_received_free(&r);
        put_frame(&c, 0x88, 1, "\x03\xe8\xff", 3);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_HR(r.hr, S_OK);
        CHECK_EQ(r.status, 1000);
        CHECK_MEM(r.data, r.len, "\xff", 1);
        ws_received_free(&r);
    }
    conn_close(&c);
}

static void test_server_disable_masking(void) {
    conn c;
    ws_received r;
    ULONG one = 1;
    WEB_SOCKET_PROPERTY p = ws_property(WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE, &one, 4);
    if (conn_open(&c, NULL, 0, &p, 1)) {
        put_frame(&c, 0x81, 0, "plain", 5);
        put_frame(&c, 0x81, 1, "masked", 6);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_HR(r.hr, S_OK);
        CHECK_MEM(r.data, r.len, "plain", 5);
        ws_received_free(&r);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_HR(r.hr, S_OK);
        CHECK_MEM(r.data, r.len, "masked", 6);
        ws_received_free(&r);
    }
    conn_close(&c);
}

/* ---- receive-side engine rules (§9.2, §9.6) --------------------------------------------------- */

/* Several frames in one read: one RECEIVE_FROM_NETWORK, then one indication per receive. */
static void test_frames_in_one_read(void) {
    conn c;
    ws_action a;
    int i;
    static const char *const words[3] = {"one", "two", "three"};
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        for (i = 0; i < 3; i++) put_frame(&c, 0x81, 1, words[i], strlen(words[i]));
        CHECK_HR(WebSocketReceive(c.server, NULL, NULL), S_OK);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 2);
        CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
        CHECK_EQ(a.count, 1);
        CHECK_EQ(a.type, 0);
        CHECK(ws_buffer_untouched(&a.buffers[1]));
        WebSocketCompleteAction(c.server, a.action_ctx,
                                (ULONG)ws_fifo_pop(&c.wire, a.buffers[0].Data.pbBuffer,
                                                   a.buffers[0].Data.ulBufferLength));
        for (i = 0; i < 3; i++) {
            if (i > 0) CHECK_HR(WebSocketReceive(c.server, NULL, NULL), S_OK);
            a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 2);
            CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
            CHECK_EQ(a.count, 1);
            CHECK_MEM(a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength, words[i],
                      strlen(words[i]));
            WebSocketCompleteAction(c.server, a.action_ctx, 0);
            a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 2);
            CHECK_NO_ACTION(a);
        }
    }
    conn_close(&c);
}

/* A receive cancelled with a 0-byte read completes as {NULL, 0, 1006}; buffered bytes stay. */
static void test_receive_cancel_keeps_bytes(void) {
    conn c;
    ws_action a;
    ws_received r;
    unsigned char f[32];
    size_t n = ws_build_frame(f, 0x81, k_key, "Hello", 5);
    int ctx = 1;
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        CHECK_HR(WebSocketReceive(c.server, NULL, &ctx), S_OK);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
        memcpy(a.buffers[0].Data.pbBuffer, f, 3);
        WebSocketCompleteAction(c.server, a.action_ctx, 3);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
        WebSocketCompleteAction(c.server, a.action_ctx, 0);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_HR(a.hr, S_OK);
        CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
        CHECK_EQ(a.count, 1);
        CHECK_EQ(a.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
        CHECK(a.app_ctx == &ctx);
        CHECK(a.buffers[0].CloseStatus.pbReason == NULL);
        CHECK_EQ(a.buffers[0].CloseStatus.ulReasonLength, 0);
        CHECK_EQ(a.buffers[0].CloseStatus.usStatus, 1006);
        WebSocketCompleteAction(c.server, a.action_ctx, 0);
        /* The first 3 bytes are still there: the rest completes the frame. */
        put_bytes(&c, f + 3, n - 3);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_HR(r.hr, S_OK);
        CHECK_EQ(r.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
        CHECK_MEM(r.data, r.len, "Hello", 5);
        ws_received_free(&r);
    }
    conn_close(&c);
}

/* Receives queued when the close arrives all complete with the same close information; new ones
 * are refused. */
static void test_receives_after_close(void) {
    conn c;
    ws_action a;
    int ctx[3] = {0, 1, 2}, i;
    const unsigned char *first_reason = NULL;
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        put_frame(&c, 0x88, 1, "\x0f\xa0"
                               "gone",
                  6);
        put_bytes(&c, "\xff\xff\xff", 3); /* after a close nothing is parsed (§9.6.5) */
        for (i = 0; i < 3; i++) CHECK_HR(WebSocketReceive(c.server, NULL, &ctx[i]), S_OK);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
        WebSocketCompleteAction(c.server, a.action_ctx,
                                (ULONG)ws_fifo_pop(&c.wire, a.buffers[0].Data.pbBuffer,
                                                   a.buffers[0].Data.ulBufferLength));
        for (i = 0; i < 3; i++) {
            a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
            CHECK_HR(a.hr, S_OK);
            CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
            CHECK_EQ(a.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
            CHECK(a.app_ctx == &ctx[i]);
            CHECK_EQ(a.buffers[0].CloseStatus.usStatus, 4000);
            CHECK_MEM(a.buffers[0].CloseStatus.pbReason, a.buffers[0].CloseStatus.ulReasonLength,
                      "gone", 4);
            if (i == 0) first_reason = a.buffers[0].CloseStatus.pbReason;
            CHECK(a.buffers[0].CloseStatus.pbReason == first_reason);
            WebSocketCompleteAction(c.server, a.action_ctx, 0);
        }
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_NO_ACTION(a);
        CHECK_HR(WebSocketReceive(c.server, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);
    }
    conn_close(&c);
}

/* A Receive with the caller's own buffer (§6.7): data is copied there, at most its length per
 * indication. */
static void test_receive_into_caller_buffer(void) {
    conn c;
    ws_action a;
    unsigned char mine[4] = {0, 0, 0, 0};
    WEB_SOCKET_BUFFER b = ws_data_buffer(mine, sizeof mine);
    ws_fifo got;
    int guard;
    memset(&got, 0, sizeof got);
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        put_frame(&c, 0x82, 1, "0123456789", 10);
        for (guard = 0; guard < 20; guard++) {
            WEB_SOCKET_BUFFER_TYPE type;
            CHECK_HR(WebSocketReceive(c.server, &b, NULL), S_OK);
            a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
            if (a.action == WS_RECEIVE_FROM_NETWORK) {
                WebSocketCompleteAction(c.server, a.action_ctx,
                                        (ULONG)ws_fifo_pop(&c.wire, a.buffers[0].Data.pbBuffer,
                                                           a.buffers[0].Data.ulBufferLength));
                a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
            }
            CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
            CHECK(a.buffers[0].Data.pbBuffer == mine);
            CHECK(a.buffers[0].Data.ulBufferLength <= sizeof mine);
            ws_fifo_push(&got, mine, a.buffers[0].Data.ulBufferLength);
            type = a.type;
            WebSocketCompleteAction(c.server, a.action_ctx, 0);
            if (type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE) break;
            CHECK_EQ(type, WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE);
        }
        CHECK_MEM(ws_fifo_peek(&got), ws_fifo_avail(&got), "0123456789", 10);
    }
    ws_fifo_free(&got);
    conn_close(&c);
}

/* ---- automatic pongs (§9.2 rules 5/6, §9.4, §9.5.5, §9.6.4) ----------------------------------- */

/* While the outgoing channel is busy, a ping's pong is deferred (the receive goes on), and a
 * later ping replaces the payload of the pong not yet handed out. */
static void test_pong_deferred_and_replaced(void) {
    conn c;
    static unsigned char big[1000];
    WEB_SOCKET_BUFFER b = ws_data_buffer(big, sizeof big);
    ws_action a, out;
    ws_received r;
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        CHECK_HR(WebSocketSend(c.server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
        out = ws_get(c.server, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
        CHECK_EQ(out.action, WS_SEND_TO_NETWORK); /* outstanding: the channel is busy */
        put_frame(&c, 0x89, 1, "first", 5);
        put_frame(&c, 0x89, 1, "second", 6);
        put_frame(&c, 0x81, 1, "data", 4);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_HR(r.hr, S_OK);
        CHECK_EQ(r.pongs, 0);
        CHECK_MEM(r.data, r.len, "data", 4);
        ws_received_free(&r);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_NO_ACTION(a); /* still deferred */
        WebSocketCompleteAction(c.server, out.action_ctx, 2 + 2 + 1000);
        /* The channel is free (INDICATE_SEND_COMPLETE is not a network action). */
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_EQ(a.action, WS_SEND_TO_NETWORK);
        CHECK_EQ(a.count, 1);
        CHECK_EQ(a.type, WEB_SOCKET_PING_PONG_BUFFER_TYPE);
        CHECK_MEM(a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength,
                  "\x8a\x06"
                  "second",
                  8);
        WebSocketCompleteAction(c.server, a.action_ctx, a.buffers[0].Data.ulBufferLength);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_NO_ACTION(a);
        a = ws_get(c.server, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
        CHECK_EQ(a.action, WS_INDICATE_SEND);
        WebSocketCompleteAction(c.server, a.action_ctx, 0);
    }
    conn_close(&c);
}

/* On the ALL queue a pending pong goes before the next user frame (§9.2 rule 5, Q11): the ping
 * is parsed while a user frame occupies the channel, another user frame is queued, and once the
 * channel is free the pong comes first. */
static void test_pong_before_next_user_frame_on_all_queue(void) {
    conn c;
    WEB_SOCKET_BUFFER b1 = ws_data_buffer("one", 3), b2 = ws_data_buffer("two", 3);
    int ctx1 = 1, ctx2 = 2;
    ws_action a, out;
    ws_received r;
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        CHECK_HR(WebSocketSend(c.server, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b1, &ctx1), S_OK);
        out = ws_get(c.server, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
        CHECK_EQ(out.action, WS_SEND_TO_NETWORK);
        CHECK(out.app_ctx == &ctx1);
        put_frame(&c, 0x89, 1, "p", 1);
        put_frame(&c, 0x81, 1, "d", 1);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_EQ(r.pongs, 0);
        CHECK_MEM(r.data, r.len, "d", 1);
        ws_received_free(&r);
        CHECK_HR(WebSocketSend(c.server, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b2, &ctx2), S_OK);
        WebSocketCompleteAction(c.server, out.action_ctx, 5);
        a = ws_get(c.server, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
        CHECK_EQ(a.action, WS_SEND_TO_NETWORK);
        CHECK_EQ(a.count, 1);
        CHECK_EQ(a.type, WEB_SOCKET_PING_PONG_BUFFER_TYPE);
        CHECK(a.app_ctx == WS_SENTINEL);
        CHECK_MEM(a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength, "\x8a\x01p", 3);
        WebSocketCompleteAction(c.server, a.action_ctx, 3);
        a = ws_get(c.server, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
        CHECK_EQ(a.action, WS_INDICATE_SEND);
        CHECK(a.app_ctx == &ctx1);
        WebSocketCompleteAction(c.server, a.action_ctx, 0);
        a = ws_get(c.server, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
        CHECK_EQ(a.action, WS_SEND_TO_NETWORK);
        CHECK_EQ(a.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
        CHECK(a.app_ctx == &ctx2);
        WebSocketCompleteAction(c.server, a.action_ctx, 5);
        a = ws_get(c.server, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
        CHECK_EQ(a.action, WS_INDICATE_SEND);
        WebSocketCompleteAction(c.server, a.action_ctx, 0);
        a = ws_get(c.server, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
        CHECK_NO_ACTION(a);
    }
    conn_close(&c);
}

/* A pong completed with 0 bytes is dropped; once the application queued its close, pings get
 * no pong at all. */
static void test_pong_dropped(void) {
    conn c;
    ws_action a;
    ws_received r;
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        put_frame(&c, 0x89, 1, "x", 1);
        put_frame(&c, 0x81, 1, "after", 5);
        CHECK_HR(WebSocketReceive(c.server, NULL, NULL), S_OK);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        WebSocketCompleteAction(c.server, a.action_ctx,
                                (ULONG)ws_fifo_pop(&c.wire, a.buffers[0].Data.pbBuffer,
                                                   a.buffers[0].Data.ulBufferLength));
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_EQ(a.action, WS_SEND_TO_NETWORK);
        WebSocketCompleteAction(c.server, a.action_ctx, 0);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
        CHECK_MEM(a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength, "after", 5);
        WebSocketCompleteAction(c.server, a.action_ctx, 0);
        a = ws_get(c.server, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
        CHECK_NO_ACTION(a);

        CHECK_HR(WebSocketSend(c.server, WEB_SOCKET_CLOSE_BUFFER_TYPE, NULL, NULL), S_OK);
        put_frame(&c, 0x89, 1, "y", 1);
        put_frame(&c, 0x81, 1, "z", 1);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_EQ(r.pongs, 0);
        CHECK_MEM(r.data, r.len, "z", 1);
        ws_received_free(&r);
        CHECK_EQ(ws_flush_sends(c.server, &c.back, 2), 1);
        CHECK_MEM(ws_fifo_peek(&c.back), ws_fifo_avail(&c.back), "\x88\x00", 2);
    }
    conn_close(&c);
}

/* ---- send cancellation (§9.5.5) ------------------------------------------------------------------ */

static void test_send_cancelled_untouched(void) {
    conn c;
    WEB_SOCKET_BUFFER f1 = ws_data_buffer("abc", 3), f2 = ws_data_buffer("def", 3);
    int ctx1 = 1;
    ws_action a;
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        CHECK_HR(WebSocketSend(c.server, WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE, &f1, &ctx1), S_OK);
        a = ws_get(c.server, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
        CHECK_EQ(a.action, WS_SEND_TO_NETWORK);
        WebSocketCompleteAction(c.server, a.action_ctx, 0); /* nothing written */
        a = ws_get(c.server, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
        CHECK_EQ(a.action, WS_INDICATE_SEND);
        CHECK(a.app_ctx == &ctx1);
        WebSocketCompleteAction(c.server, a.action_ctx, 0);
        /* As if never queued: a new text message starts with opcode 1. */
        CHECK_HR(WebSocketSend(c.server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &f2, NULL), S_OK);
        CHECK_EQ(ws_flush_sends(c.server, &c.back, 2), 1);
        CHECK_MEM(ws_fifo_peek(&c.back), ws_fifo_avail(&c.back), "\x82\x03"
                                                                 "def",
                  5);
    }
    conn_close(&c);
}

static void test_send_cancelled_partially(void) {
    conn c;
    WEB_SOCKET_BUFFER f1 = ws_data_buffer("abcdef", 6);
    ws_action a;
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        CHECK_HR(WebSocketSend(c.server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &f1, NULL), S_OK);
        a = ws_get(c.server, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
        CHECK_EQ(a.action, WS_SEND_TO_NETWORK);
        WebSocketCompleteAction(c.server, a.action_ctx, 3); /* short write */
        a = ws_get(c.server, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
        CHECK_EQ(a.action, WS_INDICATE_SEND);
        WebSocketCompleteAction(c.server, a.action_ctx, 0);
        /* The outgoing stream is corrupt: further sends are refused. */
        CHECK_HR(WebSocketSend(c.server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &f1, NULL),
                 E_INVALID_PROTOCOL_OPERATION);
    }
    conn_close(&c);
}

/* ---- one action per side, one frame at a time on the outgoing channel (§9.1, §9.2, §11) ------------- */

static void test_one_outstanding_action_per_side(void) {
    conn c;
    WEB_SOCKET_BUFFER b1 = ws_data_buffer("one", 3), b2 = ws_data_buffer("two", 3);
    ws_action send1, recv1, a;
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        CHECK_HR(WebSocketSend(c.server, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b1, NULL), S_OK);
        CHECK_HR(WebSocketSend(c.server, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b2, NULL), S_OK);
        CHECK_HR(WebSocketReceive(c.server, NULL, NULL), S_OK);
        CHECK_HR(WebSocketReceive(c.server, NULL, NULL), S_OK);
        send1 = ws_get(c.server, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
        CHECK_EQ(send1.action, WS_SEND_TO_NETWORK);
        a = ws_get(c.server, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
        CHECK_NO_ACTION(a);
        recv1 = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_EQ(recv1.action, WS_RECEIVE_FROM_NETWORK);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_NO_ACTION(a);
        a = ws_get(c.server, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
        CHECK_NO_ACTION(a);
        /* Completing one side frees only that side. */
        WebSocketCompleteAction(c.server, send1.action_ctx, 5);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_NO_ACTION(a);
        a = ws_get(c.server, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
        CHECK_EQ(a.action, WS_INDICATE_SEND);
        WebSocketCompleteAction(c.server, a.action_ctx, 0);
        a = ws_get(c.server, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
        CHECK_EQ(a.action, WS_SEND_TO_NETWORK);
        CHECK_EQ(a.count, 2);
        if (a.count == 2) CHECK(a.buffers[1].Data.pbBuffer == b2.Data.pbBuffer);
        WebSocketCompleteAction(c.server, a.action_ctx, 5);
        WebSocketCompleteAction(c.server, recv1.action_ctx, 0);
    }
    conn_close(&c);
}

/* An automatic pong outstanding on the receive side keeps user frames waiting (§9.1). */
static void test_pong_outstanding_blocks_user_frames(void) {
    conn c;
    WEB_SOCKET_BUFFER b = ws_data_buffer("user", 4);
    ws_action a, pong;
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        put_frame(&c, 0x89, 1, "p", 1);
        CHECK_HR(WebSocketReceive(c.server, NULL, NULL), S_OK);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        WebSocketCompleteAction(c.server, a.action_ctx,
                                (ULONG)ws_fifo_pop(&c.wire, a.buffers[0].Data.pbBuffer,
                                                   a.buffers[0].Data.ulBufferLength));
        pong = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_EQ(pong.action, WS_SEND_TO_NETWORK);
        CHECK_HR(WebSocketSend(c.server, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
        a = ws_get(c.server, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
        CHECK_NO_ACTION(a);
        WebSocketCompleteAction(c.server, pong.action_ctx, 3);
        a = ws_get(c.server, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
        CHECK_EQ(a.action, WS_SEND_TO_NETWORK);
        CHECK_EQ(a.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
        WebSocketCompleteAction(c.server, a.action_ctx, 6);
        /* The receive is still pending: the receive side goes on asking for bytes. */
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
    }
    conn_close(&c);
}

/* A masked client frame larger than SBS goes out over several actions; a pong due meanwhile
 * waits until the whole frame is out (frames never interleave, §9.1, Q13). */
static void test_multi_action_frame_not_interleaved(void) {
    conn c;
    ULONG sbs = 16;
    WEB_SOCKET_PROPERTY p = ws_property(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &sbs, 4);
    unsigned char payload[1000];
    WEB_SOCKET_BUFFER b = ws_data_buffer(payload, sizeof payload);
    ws_action a;
    ws_received r;
    ws_frame f;
    int actions = 0, pong_seen = 0;
    size_t i, bad = 0;
    for (i = 0; i < sizeof payload; i++) payload[i] = (unsigned char)i;
    if (conn_open(&c, &p, 1, NULL, 0)) {
        CHECK_HR(WebSocketSend(c.client, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
        a = ws_get(c.client, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
        CHECK_EQ(a.action, WS_SEND_TO_NETWORK);
        CHECK_EQ(a.count, 2);
        for (i = 0; i < a.count && i < 2; i++) {
            CHECK(a.buffers[i].Data.ulBufferLength <= 16 || i == 0);
            ws_fifo_push(&c.back, a.buffers[i].Data.pbBuffer, a.buffers[i].Data.ulBufferLength);
        }
        WebSocketCompleteAction(c.client, a.action_ctx,
                                a.buffers[0].Data.ulBufferLength + a.buffers[1].Data.ulBufferLength);
        /* A server ping arrives between two chunks. */
        ws_fifo_push(&c.wire, "\x89\x01q\x81\x02ok", 7);
        r = ws_receive(c.client, &c.wire, &c.back, NULL);
        CHECK_EQ(r.pongs, 0);
        CHECK_MEM(r.data, r.len, "ok", 2);
        ws_received_free(&r);
        for (;;) {
            a = ws_get(c.client, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
            CHECK_HR(a.hr, S_OK);
            if (a.action == WS_INDICATE_SEND) {
                WebSocketCompleteAction(c.client, a.action_ctx, 0);
                continue;
            }
            if (a.action != WS_SEND_TO_NETWORK) break;
            if (a.type == WEB_SOCKET_PING_PONG_BUFFER_TYPE) {
                pong_seen = 1;
                /* only after the whole data frame */
                CHECK_EQ(ws_fifo_avail(&c.back), 2 + 2 + 4 + 1000);
            } else {
                CHECK_EQ(a.count, 1);
                CHECK(a.buffers[0].Data.ulBufferLength <= 16);
                actions++;
            }
            for (i = 0; i < a.count && i < 2; i++)
                ws_fifo_push(&c.back, a.buffers[i].Data.pbBuffer, a.buffers[i].Data.ulBufferLength);
            WebSocketCompleteAction(c.client, a.action_ctx, 100000);
        }
        CHECK(pong_seen);
        CHECK_EQ(actions, (1000 - 16 + 15) / 16);
        if (CHECK(ws_parse_frame(ws_fifo_peek(&c.back), ws_fifo_avail(&c.back), &f))) {
            const unsigned char *w = ws_fifo_peek(&c.back);
            CHECK_EQ(w[0], 0x82);
            CHECK_EQ(f.len, 1000);
            for (i = 0; i < 1000; i++)
                if ((w[f.header_len + i] ^ f.key[i % 4]) != payload[i]) bad++;
            CHECK_EQ(bad, 0);
            CHECK_EQ(ws_fifo_avail(&c.back), f.header_len + 1000 + 7); /* + masked pong */
            CHECK_EQ(w[f.header_len + 1000], 0x8a);
            CHECK_EQ(w[f.header_len + 1001], 0x81);
        }
    }
    conn_close(&c);
}

/* Abort drops a pong that was waiting for the channel (§10.2 point 2). */
static void test_abort_drops_deferred_pong(void) {
    conn c;
    WEB_SOCKET_BUFFER b = ws_data_buffer("busy", 4);
    ws_action out, a;
    ws_received r;
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        CHECK_HR(WebSocketSend(c.server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
        out = ws_get(c.server, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
        put_frame(&c, 0x89, 1, "p", 1);
        put_frame(&c, 0x81, 1, "d", 1);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_EQ(r.pongs, 0);
        ws_received_free(&r);
        WebSocketAbortHandle(c.server);
        WebSocketCompleteAction(c.server, out.action_ctx, 6);
        a = ws_get(c.server, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_NO_ACTION(a);
        a = ws_get(c.server, WEB_SOCKET_ALL_ACTION_QUEUE, 1);
        CHECK_EQ(a.action, WS_INDICATE_SEND);
        WebSocketCompleteAction(c.server, a.action_ctx, 0);
        a = ws_get(c.server, WEB_SOCKET_ALL_ACTION_QUEUE, 1);
        CHECK_NO_ACTION(a);
    }
    conn_close(&c);
}

/* Zero-length pieces that do not end a message are not delivered; an empty final frame is
 * delivered as an empty *_MESSAGE and ends the UTF-8 check (§9.6.3, §9.6.6). */
static void test_zero_length_fragments(void) {
    conn c;
    ws_received r;
    if (conn_open(&c, NULL, 0, NULL, 0)) {
        put_frame(&c, 0x01, 1, "abc", 3);
        put_frame(&c, 0x00, 1, "", 0);
        put_frame(&c, 0x80, 1, "def", 3);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_EQ(r.type, WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE);
        CHECK_MEM(r.data, r.len, "abc", 3);
        ws_received_free(&r);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_EQ(r.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
        CHECK_MEM(r.data, r.len, "def", 3);
        ws_received_free(&r);
        put_frame(&c, 0x02, 1, "xy", 2);
        put_frame(&c, 0x80, 1, "", 0);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_EQ(r.type, WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE);
        CHECK_MEM(r.data, r.len, "xy", 2);
        ws_received_free(&r);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_EQ(r.type, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE);
        CHECK_EQ(r.len, 0);
        CHECK(r.data != NULL);
        ws_received_free(&r);
        /* A partial code point left open by an empty final frame. */
        put_frame(&c, 0x01, 1, "ab\xe2", 3);
        put_frame(&c, 0x80, 1, "", 0);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_HR(r.hr, S_OK);
        ws_received_free(&r);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_HR(r.hr, E_INVALID_PROTOCOL_FORMAT);
        ws_received_free(&r);
    }
    conn_close(&c);
}

/* An ALLOCATED_BUFFER larger than needed: only its first RBS + SBS + 144 bytes are used (§7.4). */
static void test_allocated_buffer_tail_untouched(void) {
    conn c;
    ULONG rbs = 256, sbs = 16;
    size_t need = 256 + 16 + 144, extra = 500, i, bad = 0;
    unsigned char *mem = (unsigned char *)ws_xmalloc(need + extra);
    unsigned char *slot[1];
    WEB_SOCKET_PROPERTY p[3];
    WEB_SOCKET_BUFFER b = ws_data_buffer("reply", 5);
    ws_received r;
    int k;
    memset(mem, 0x5A, need + extra);
    slot[0] = mem;
    p[0] = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &rbs, 4);
    p[1] = ws_property(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &sbs, 4);
    p[2] = ws_property(WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, slot, (ULONG)(need + extra));
    if (conn_open(&c, NULL, 0, p, 3)) {
        unsigned char big[125];
        memset(big, 'z', sizeof big);
        for (k = 0; k < 20; k++) {
            put_frame(&c, 0x82, 1, big, 100 + k);
            put_frame(&c, 0x89, 1, big, 125);
            r = ws_receive(c.server, &c.wire, &c.back, NULL);
            CHECK_EQ(r.len, 100 + k);
            ws_received_free(&r);
            CHECK_HR(WebSocketSend(c.server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
            CHECK_HR(WebSocketSend(c.server, WEB_SOCKET_PING_PONG_BUFFER_TYPE, &b, NULL), S_OK);
            CHECK_EQ(ws_flush_sends(c.server, &c.back, 2), 2);
        }
        put_frame(&c, 0x88, 1, "\x03\xe8zzzz", 6);
        r = ws_receive(c.server, &c.wire, &c.back, NULL);
        CHECK_EQ(r.status, 1000);
        ws_received_free(&r);
        for (i = need; i < need + extra; i++)
            if (mem[i] != 0x5A) bad++;
        CHECK_EQ(bad, 0);
    }
    conn_close(&c);
    free(mem);
}

int main(int argc, char **argv) {
    ws_init(argc, argv);
    RUN(test_server_frames);
    RUN(test_client_frames);
    RUN(test_receive_vectors);
    RUN(test_protocol_violations);
    RUN(test_interleaved_message_violation);
    RUN(test_utf8_across_frames);
    RUN(test_disable_utf8_verification);
    RUN(test_server_disable_masking);
    RUN(test_frames_in_one_read);
    RUN(test_receive_cancel_keeps_bytes);
    RUN(test_receives_after_close);
    RUN(test_receive_into_caller_buffer);
    RUN(test_pong_deferred_and_replaced);
    RUN(test_pong_before_next_user_frame_on_all_queue);
    RUN(test_pong_dropped);
    RUN(test_send_cancelled_untouched);
    RUN(test_send_cancelled_partially);
    RUN(test_one_outstanding_action_per_side);
    RUN(test_pong_outstanding_blocks_user_frames);
    RUN(test_multi_action_frame_not_interleaved);
    RUN(test_abort_drops_deferred_pong);
    RUN(test_zero_length_fragments);
    RUN(test_allocated_buffer_tail_untouched);
    return ws_finish("frames");
}
