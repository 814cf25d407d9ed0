/*
 * deflate.c - permessage-deflate (RFC 7692) from C: the property and its value as the header
 * declares them, negotiation between a client and a server handle (headers, the selected
 * extension index), the RFC 7692 §7.2.3.1 frame sent and received, a compressed round trip of
 * every size class delivered in chunks of at most the receive buffer size, and bad settings.
 */
#include "common.h"

WS_STATIC_ASSERT(sizeof(WEB_SOCKET_DEFLATE_SETTINGS) == 16, "WEB_SOCKET_DEFLATE_SETTINGS size");
WS_STATIC_ASSERT(WEB_SOCKET_PERMESSAGE_DEFLATE_PROPERTY_TYPE == 0x1000, "property type value");

static WEB_SOCKET_PROPERTY deflate_property(WEB_SOCKET_DEFLATE_SETTINGS *s) {
    return ws_property(WS_PT(WEB_SOCKET_PERMESSAGE_DEFLATE_PROPERTY_TYPE), s, sizeof *s);
}

typedef struct {
    WEB_SOCKET_HANDLE client, server;
    ULONG selected[4], nselected;
    char offer[256], answer[256];
} dpair;

static void copy_header(char *dst, const WEB_SOCKET_HTTP_HEADER *h, ULONG n, const char *name) {
    const WEB_SOCKET_HTTP_HEADER *f = ws_find_header(h, n, name);
    dst[0] = '\0';
    if (f != NULL && f->ulValueLength < 255) {
        memcpy(dst, f->pcValue, f->ulValueLength);
        dst[f->ulValueLength] = '\0';
    }
}

/* Client and server handles with the deflate property (settings NULL: without it), through both
 * handshakes; the client's app extension strings are none. */
static void dpair_open(dpair *p, WEB_SOCKET_DEFLATE_SETTINGS *cs, WEB_SOCKET_DEFLATE_SETTINGS *ss,
                       ULONG rbs) {
    WEB_SOCKET_PROPERTY cp[2], sp[2];
    WEB_SOCKET_HTTP_HEADER *req, *resp;
    ULONG nreq, nresp, ncp = 0, nsp = 0;
    cp[ncp++] = ws_property(WS_PT(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE), &rbs, sizeof rbs);
    sp[nsp++] = ws_property(WS_PT(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE), &rbs, sizeof rbs);
    if (cs) cp[ncp++] = deflate_property(cs);
    if (ss) sp[nsp++] = deflate_property(ss);
    CHECK_HR(WebSocketCreateClientHandle(cp, ncp, &p->client), S_OK);
    CHECK_HR(WebSocketCreateServerHandle(sp, nsp, &p->server), S_OK);
    CHECK_HR(WebSocketBeginClientHandshake(p->client, NULL, 0, NULL, 0, NULL, 0, &req, &nreq), S_OK);
    copy_header(p->offer, req, nreq, "Sec-WebSocket-Extensions");
    CHECK_HR(WebSocketBeginServerHandshake(p->server, NULL, NULL, 0, req, nreq, &resp, &nresp), S_OK);
    copy_header(p->answer, resp, nresp, "Sec-WebSocket-Extensions");
    p->nselected = 4;
    CHECK_HR(WebSocketEndClientHandshake(p->client, resp, nresp, p->selected, &p->nselected, NULL),
             S_OK);
    CHECK_HR(WebSocketEndServerHandshake(p->server), S_OK);
}

static void dpair_close(dpair *p) {
    WebSocketDeleteHandle(p->client);
    WebSocketDeleteHandle(p->server);
}

/* Runs h's send queue until NO_ACTION, appending what it writes to `wire`. */
static void drain_send(WEB_SOCKET_HANDLE h, ws_fifo *wire) {
    int i;
    for (i = 0; i < 100000; i++) {
        ws_action a = ws_get(h, WS_Q(WEB_SOCKET_SEND_ACTION_QUEUE), 2);
        ULONG k, moved = 0;
        CHECK_HR(a.hr, S_OK);
        if (a.action == WEB_SOCKET_NO_ACTION) return;
        if (a.action == WS_SEND_TO_NETWORK) {
            for (k = 0; k < a.count; k++) {
                ws_fifo_push(wire, a.buffers[k].Data.pbBuffer, a.buffers[k].Data.ulBufferLength);
                moved += a.buffers[k].Data.ulBufferLength;
            }
        }
        WebSocketCompleteAction(h, a.action_ctx, moved);
    }
    CHECK(!"send never finished");
}

/* Receives one whole message from `wire` into `out` (capacity `cap`); returns its length and
 * the final buffer type; checks that no chunk exceeds `rbs`. */
static size_t receive_message(WEB_SOCKET_HANDLE h, ws_fifo *wire, unsigned char *out, size_t cap,
                              ULONG rbs, WEB_SOCKET_BUFFER_TYPE *type) {
    size_t got = 0;
    int i;
    for (i = 0; i < 1000000; i++) {
        ws_action a;
        CHECK_HR(WebSocketReceive(h, NULL, NULL), S_OK);
        for (;;) {
            a = ws_get(h, WS_Q(WEB_SOCKET_RECEIVE_ACTION_QUEUE), 1);
            CHECK_HR(a.hr, S_OK);
            if (a.action != WS_RECEIVE_FROM_NETWORK) break;
            WebSocketCompleteAction(h, a.action_ctx,
                                    (ULONG)ws_fifo_pop(wire, a.buffers[0].Data.pbBuffer,
                                                       a.buffers[0].Data.ulBufferLength));
        }
        CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
        CHECK(a.buffers[0].Data.ulBufferLength <= rbs);
        if (got + a.buffers[0].Data.ulBufferLength <= cap) {
            memcpy(out + got, a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength);
        }
        got += a.buffers[0].Data.ulBufferLength;
        *type = a.type;
        WebSocketCompleteAction(h, a.action_ctx, 0);
        if (a.type == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE ||
            a.type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE)
            return got;
        if (a.type != WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE &&
            a.type != WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE) {
            CHECK(!"unexpected buffer type");
            return got;
        }
    }
    return got;
}

static void test_negotiated_between_two_handles(void) {
    WEB_SOCKET_DEFLATE_SETTINGS s;
    dpair p;
    memset(&s, 0, sizeof s);
    dpair_open(&p, &s, &s, 4096);
    CHECK_STR(p.offer, strlen(p.offer), "permessage-deflate; client_max_window_bits");
    CHECK_STR(p.answer, strlen(p.answer), "permessage-deflate");
    /* The library's extension is reported one past the application's (here: none) strings. */
    CHECK_EQ(p.nselected, 1);
    CHECK_EQ(p.selected[0], 0);
    dpair_close(&p);

    /* A server without the property does not answer; the client then sends uncompressed. */
    dpair_open(&p, &s, NULL, 4096);
    CHECK_STR(p.answer, strlen(p.answer), "");
    CHECK_EQ(p.nselected, 0);
    dpair_close(&p);
}

static void test_rfc7692_hello(void) {
    static const unsigned char hello[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    WEB_SOCKET_DEFLATE_SETTINGS s;
    WEB_SOCKET_BUFFER b = ws_data_buffer("Hello", 5);
    WEB_SOCKET_BUFFER_TYPE type;
    unsigned char out[16];
    ws_fifo wire;
    dpair p;
    memset(&s, 0, sizeof s);
    memset(&wire, 0, sizeof wire);
    dpair_open(&p, &s, &s, 4096);
    CHECK_HR(WebSocketSend(p.server, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
    drain_send(p.server, &wire);
    CHECK_MEM(ws_fifo_peek(&wire), ws_fifo_avail(&wire), hello, sizeof hello);
    CHECK_EQ(receive_message(p.client, &wire, out, sizeof out, 4096, &type), 5);
    CHECK_MEM(out, 5, "Hello", 5);
    CHECK_EQ(type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
    ws_fifo_free(&wire);
    dpair_close(&p);
}

static void test_round_trips_in_bounded_chunks(void) {
    static const size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 1 << 20};
    WEB_SOCKET_DEFLATE_SETTINGS cs, ss;
    size_t i, k;
    memset(&cs, 0, sizeof cs);
    memset(&ss, 0, sizeof ss);
    cs.ulClientMaxWindowBits = 10;
    ss.fServerNoContextTakeover = TRUE;
    ss.ulServerMaxWindowBits = 9;
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *msg = (unsigned char *)ws_xmalloc(n + 1);
        unsigned char *out = (unsigned char *)ws_xmalloc(n + 1);
        WEB_SOCKET_BUFFER b = ws_data_buffer(msg, (ULONG)n);
        WEB_SOCKET_BUFFER_TYPE type;
        ws_fifo wire;
        dpair p;
        memset(&wire, 0, sizeof wire);
        for (k = 0; k < n; k++) msg[k] = (unsigned char)("{\"k\":12345,\"v\":\"abc\"}\n"[k % 22]);
        dpair_open(&p, &cs, &ss, 256);
        CHECK_STR(p.answer, strlen(p.answer),
                  "permessage-deflate; server_no_context_takeover; server_max_window_bits=9");
        CHECK_HR(WebSocketSend(p.client, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
        drain_send(p.client, &wire);
        CHECK(n == 0 || (ws_fifo_peek(&wire)[0] & 0x40) != 0); /* RSV1 */
        if (n >= 65536) CHECK(ws_fifo_avail(&wire) < n / 10);
        CHECK_EQ(receive_message(p.server, &wire, out, n, 256, &type), n);
        CHECK_MEM(out, n, msg, n);
        CHECK_HR(WebSocketSend(p.server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
        drain_send(p.server, &wire);
        CHECK_EQ(receive_message(p.client, &wire, out, n, 256, &type), n);
        CHECK_MEM(out, n, msg, n);
        CHECK_EQ(type, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE);
        ws_fifo_free(&wire);
        dpair_close(&p);
        free(msg);
        free(out);
    }
}

static void test_bad_settings(void) {
    WEB_SOCKET_DEFLATE_SETTINGS s;
    WEB_SOCKET_PROPERTY prop;
    WEB_SOCKET_HANDLE h = WS_HANDLE_FROM(0x1234);
    memset(&s, 0, sizeof s);
    s.ulServerMaxWindowBits = 16;
    prop = deflate_property(&s);
    CHECK_HR(WebSocketCreateServerHandle(&prop, 1, &h), E_INVALIDARG);
    s.ulServerMaxWindowBits = 0;
    s.ulClientMaxWindowBits = 7;
    CHECK_HR(WebSocketCreateClientHandle(&prop, 1, &h), E_INVALIDARG);
    s.ulClientMaxWindowBits = 0;
    prop.ulValueSize = 8;
    CHECK_HR(WebSocketCreateClientHandle(&prop, 1, &h), E_INVALIDARG);
    CHECK(h == WS_HANDLE_FROM(0x1234)); /* not written on failure */
}

int main(int argc, char **argv) {
    ws_init(argc, argv);
    RUN(test_negotiated_between_two_handles);
    RUN(test_rfc7692_hello);
    RUN(test_round_trips_in_bounded_chunks);
    RUN(test_bad_settings);
    return ws_finish("deflate");
}
