/*
 * handshake.c - the HTTP upgrade through the C ABI (spec §5, §6.2-§6.5, §8, §12.1-§12.3, §16.1,
 * §16.4): Microsoft's sample round trip, the headers each side produces, the accept key (checked
 * against an independent SHA-1 implementation and the spec's vectors), subprotocol and extension
 * negotiation, and the exact call sequences .NET uses.
 */
#include "common.h"

/* ---- SHA-1 (FIPS 180-4) and base64, independent of the library ----------------------------- */

typedef struct sha1_ctx {
    uint32_t h[5];
    unsigned char block[64];
    size_t used;
    unsigned long long total;
} sha1_ctx;

static uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(sha1_ctx *c, const unsigned char *p) {
    uint32_t w[80], a, b, d, e, f, k, t, cc;
    int i;
    for (i = 0; i < 16; i++) {
        w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) |
               ((uint32_t)p[4 * i + 2] << 8) | p[4 * i + 3];
    }
    for (i = 16; i < 80; i++) w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    a = c->h[0];
    b = c->h[1];
    cc = c->h[2];
    d = c->h[3];
    e = c->h[4];
    for (i = 0; i < 80; i++) {
        if (i < 20) {
            f = (b & cc) | (~b & d);
            k = 0x5A827999u;
        } else if (i < 40) {
            f = b ^ cc ^ d;
            k = 0x6ED9EBA1u;
        } else if (i < 60) {
            f = (b & cc) | (b & d) | (cc & d);
            k = 0x8F1BBCDCu;
        } else {
            f = b ^ cc ^ d;
            k = 0xCA62C1D6u;
        }
        t = rol32(a, 5) + f + e + k + w[i];
        e = d;
        d = cc;
        cc = rol32(b, 30);
        b = a;
        a = t;
    }
    c->h[0] += a;
    c->h[1] += b;
    c->h[2] += cc;
    c->h[3] += d;
    c->h[4] += e;
}

static void sha1_init(sha1_ctx *c) {
    memset(c, 0, sizeof *c);
    c->h[0] = 0x67452301u;
    c->h[1] = 0xEFCDAB89u;
    c->h[2] = 0x98BADCFEu;
    c->h[3] = 0x10325476u;
    c->h[4] = 0xC3D2E1F0u;
}

static void sha1_update(sha1_ctx *c, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    c->total += n;
    while (n > 0) {
        size_t k = 64 - c->used;
        if (k > n) k = n;
        memcpy(c->block + c->used, p, k);
        c->used += k;
        p += k;
        n -= k;
        if (c->used == 64) {
            sha1_block(c, c->block);
            c->used = 0;
        }
    }
}

static void sha1_final(sha1_ctx *c, unsigned char out[20]) {
    unsigned long long bits = c->total * 8;
    unsigned char pad = 0x80, zero = 0, len[8];
    int i;
    sha1_update(c, &pad, 1);
    while (c->used != 56) sha1_update(c, &zero, 1);
    for (i = 0; i < 8; i++) len[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_update(c, len, 8);
    for (i = 0; i < 20; i++) out[i] = (unsigned char)(c->h[i / 4] >> (24 - 8 * (i % 4)));
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(const unsigned char *in, size_t n, char *out) {
    size_t i, o = 0;
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = B64[(v >> 6) & 63];
        out[o++] = B64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = B64[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
}

/* base64(SHA-1(key + GUID)) into out[29]. */
static void accept_for(const char *key, size_t key_len, char out[29]) {
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[20];
    sha1_ctx c;
    sha1_init(&c);
    sha1_update(&c, key, key_len);
    sha1_update(&c, guid, strlen(guid));
    sha1_final(&c, digest);
    base64(digest, 20, out);
}

static void test_sha1_self_check(void) {
    /* FIPS 180 "abc" and RFC 6455 §1.3: the test's own SHA-1 must be right. */
    unsigned char d[20];
    char acc[29];
    static const unsigned char abc[20] = {0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e,
                                          0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d};
    sha1_ctx c;
    sha1_init(&c);
    sha1_update(&c, "abc", 3);
    sha1_final(&c, d);
    CHECK_MEM(d, 20, abc, 20);
    accept_for("dGhlIHNhbXBsZSBub25jZQ==", 24, acc);
    CHECK_STR(acc, strlen(acc), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/* ---- header checks --------------------------------------------------------------------------- */

/* Name and value are non-NULL, NUL-terminated right after their length, and 7-bit ASCII. */
static void check_header_strings(const WEB_SOCKET_HTTP_HEADER *h, ULONG n) {
    ULONG i, k;
    for (i = 0; i < n; i++) {
        CHECK(h[i].pcName != NULL);
        CHECK(h[i].pcValue != NULL);
        if (h[i].pcName == NULL || h[i].pcValue == NULL) continue;
        CHECK_EQ(h[i].pcName[h[i].ulNameLength], '\0');
        CHECK_EQ(h[i].pcValue[h[i].ulValueLength], '\0');
        CHECK_EQ(strlen(h[i].pcName), h[i].ulNameLength);
        CHECK_EQ(strlen(h[i].pcValue), h[i].ulValueLength);
        for (k = 0; k < h[i].ulNameLength; k++) CHECK((unsigned char)h[i].pcName[k] < 0x80);
        for (k = 0; k < h[i].ulValueLength; k++) CHECK((unsigned char)h[i].pcValue[k] < 0x80);
    }
}

#define CHECK_HEADER(h, name, value)                                                             \
    do {                                                                                         \
        CHECK_STR((h).pcName, (h).ulNameLength, name);                                           \
        CHECK_STR((h).pcValue, (h).ulValueLength, value);                                        \
    } while (0)

static int is_base64_char(char c) { return c != '\0' && strchr(B64, c) != NULL; }

/* §8.1: Connection, Upgrade, Sec-WebSocket-Key (24 base64 chars ending "=="), Version 13. */
static void check_client_headers(const WEB_SOCKET_HTTP_HEADER *h, ULONG n, ULONG expected_count) {
    ULONG k;
    CHECK_EQ(n, expected_count);
    if (n < 4) return;
    check_header_strings(h, n);
    CHECK_HEADER(h[0], "Connection", "Upgrade");
    CHECK_HEADER(h[1], "Upgrade", "websocket");
    CHECK_STR(h[2].pcName, h[2].ulNameLength, "Sec-WebSocket-Key");
    CHECK_EQ(h[2].ulValueLength, 24);
    if (h[2].ulValueLength == 24) {
        for (k = 0; k < 22; k++) CHECK(is_base64_char(h[2].pcValue[k]));
        CHECK(h[2].pcValue[22] == '=' && h[2].pcValue[23] == '=');
    }
    CHECK_HEADER(h[3], "Sec-WebSocket-Version", "13");
}

/* §8.2: Connection, Upgrade, Sec-WebSocket-Accept = accept(key). */
static void check_server_headers(const WEB_SOCKET_HTTP_HEADER *h, ULONG n, ULONG expected_count,
                                 const char *expected_accept) {
    CHECK_EQ(n, expected_count);
    if (n < 3) return;
    check_header_strings(h, n);
    CHECK_HEADER(h[0], "Connection", "Upgrade");
    CHECK_HEADER(h[1], "Upgrade", "websocket");
    CHECK_HEADER(h[2], "Sec-WebSocket-Accept", expected_accept);
    CHECK_EQ(h[2].ulValueLength, 28);
}

/* ---- §16.4: Microsoft's sample ----------------------------------------------------------------- */

static void test_sample_round_trip(void) {
    WEB_SOCKET_HANDLE client = NULL, server = NULL;
    WEB_SOCKET_HTTP_HEADER *req = NULL, *resp = NULL, all[5];
    ULONG nreq = 0, nresp = 0, i;
    char accept[29], key_copy[25], resp_copy[3][64];
    static const char hello[] = "Hello World";
    WEB_SOCKET_BUFFER buf;
    ws_fifo wire;
    ws_action a;
    ws_frame f;
    memset(&wire, 0, sizeof wire);

    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &client), S_OK);
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &server), S_OK);
    CHECK(client != NULL && server != NULL && client != server);
    CHECK(client != WS_HANDLE_FROM(-1) && server != WS_HANDLE_FROM(-1));

    CHECK_HR(WebSocketBeginClientHandshake(client, NULL, 0, NULL, 0, NULL, 0, &req, &nreq), S_OK);
    CHECK(req != NULL);
    check_client_headers(req, nreq, 4);
    if (nreq != 4 || req == NULL) goto out;
    memcpy(key_copy, req[2].pcValue, 24);
    key_copy[24] = '\0';
    accept_for(key_copy, 24, accept);

    for (i = 0; i < nreq; i++) all[i] = req[i];
    all[4] = ws_header("Host", "localhost");
    CHECK_HR(WebSocketBeginServerHandshake(server, NULL, NULL, 0, all, 5, &resp, &nresp), S_OK);
    CHECK(resp != NULL);
    check_server_headers(resp, nresp, 3, accept);
    if (nresp != 3 || resp == NULL) goto out;
    for (i = 0; i < 3; i++) snprintf(resp_copy[i], sizeof resp_copy[i], "%s", resp[i].pcValue);

    CHECK_HR(WebSocketEndClientHandshake(client, resp, nresp, NULL, NULL, NULL), S_OK);
    CHECK_HR(WebSocketEndServerHandshake(server), S_OK);

    /* The arrays stay readable after End (kept until DeleteHandle, §15 Q8). */
    CHECK_STR(req[2].pcValue, req[2].ulValueLength, key_copy);
    for (i = 0; i < 3; i++) CHECK_STR(resp[i].pcValue, resp[i].ulValueLength, resp_copy[i]);

    /* Client: UTF8_MESSAGE "Hello World" on the ALL queue with a 2-slot array. */
    buf = ws_data_buffer(hello, 11);
    CHECK_HR(WebSocketSend(client, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &buf, (PVOID)&buf), S_OK);
    a = ws_get(client, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
    CHECK_HR(a.hr, S_OK);
    CHECK_EQ(a.action, WS_SEND_TO_NETWORK);
    CHECK(a.count == 1 || a.count == 2);
    CHECK_EQ(a.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
    CHECK(a.app_ctx == (PVOID)&buf);
    CHECK(a.action_ctx != NULL);
    if (a.count == 1) CHECK(ws_buffer_untouched(&a.buffers[1]));
    for (i = 0; i < a.count && i < 2; i++)
        ws_fifo_push(&wire, a.buffers[i].Data.pbBuffer, a.buffers[i].Data.ulBufferLength);
    WebSocketCompleteAction(client, a.action_ctx, (ULONG)ws_fifo_avail(&wire));

    /* 81 8b + key + 11 masked bytes */
    CHECK_EQ(ws_fifo_avail(&wire), 2 + 4 + 11);
    if (ws_fifo_avail(&wire) == 17 && ws_parse_frame(ws_fifo_peek(&wire), 17, &f)) {
        const unsigned char *p = ws_fifo_peek(&wire);
        unsigned char plain[11];
        CHECK_EQ(p[0], 0x81);
        CHECK_EQ(p[1], 0x8b);
        for (i = 0; i < 11; i++) plain[i] = (unsigned char)(p[6 + i] ^ f.key[i % 4]);
        CHECK_MEM(plain, 11, hello, 11);
    }

    a = ws_get(client, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
    CHECK_HR(a.hr, S_OK);
    CHECK_EQ(a.action, WS_INDICATE_SEND);
    CHECK_EQ(a.count, 0);
    CHECK_EQ(a.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
    CHECK(a.app_ctx == (PVOID)&buf);
    CHECK(a.action_ctx != NULL);
    CHECK(ws_buffer_untouched(&a.buffers[0]));
    WebSocketCompleteAction(client, a.action_ctx, 0);
    a = ws_get(client, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
    CHECK_NO_ACTION(a);

    /* Server: Receive(NULL, NULL), then the ALL queue. */
    CHECK_HR(WebSocketReceive(server, NULL, NULL), S_OK);
    a = ws_get(server, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
    CHECK_HR(a.hr, S_OK);
    CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
    CHECK_EQ(a.count, 1);
    CHECK(a.app_ctx == NULL);
    CHECK(a.action_ctx != NULL);
    CHECK(ws_buffer_untouched(&a.buffers[1]));
    CHECK(a.buffers[0].Data.pbBuffer != NULL && a.buffers[0].Data.ulBufferLength >= 17);
    if (a.action == WS_RECEIVE_FROM_NETWORK && a.buffers[0].Data.ulBufferLength >= 17) {
        size_t n = ws_fifo_pop(&wire, a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength);
        WebSocketCompleteAction(server, a.action_ctx, (ULONG)n);
    }
    a = ws_get(server, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
    CHECK_HR(a.hr, S_OK);
    CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
    CHECK_EQ(a.count, 1);
    CHECK_EQ(a.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
    CHECK(a.app_ctx == NULL);
    CHECK_MEM(a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength, hello, 11);
    WebSocketCompleteAction(server, a.action_ctx, 0);
    a = ws_get(server, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
    CHECK_NO_ACTION(a);
    /* Microsoft's sample completes NO_ACTION too: harmless. */
    WebSocketCompleteAction(server, a.action_ctx, 0);
    a = ws_get(server, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
    CHECK_NO_ACTION(a);

out:
    WebSocketDeleteHandle(client);
    WebSocketDeleteHandle(server);
    ws_fifo_free(&wire);
}

static void test_keys_are_fresh(void) {
    WEB_SOCKET_HANDLE a = NULL, b = NULL;
    WEB_SOCKET_HTTP_HEADER *ha = NULL, *hb = NULL;
    ULONG na = 0, nb = 0;
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &a), S_OK);
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &b), S_OK);
    CHECK_HR(WebSocketBeginClientHandshake(a, NULL, 0, NULL, 0, NULL, 0, &ha, &na), S_OK);
    CHECK_HR(WebSocketBeginClientHandshake(b, NULL, 0, NULL, 0, NULL, 0, &hb, &nb), S_OK);
    check_client_headers(ha, na, 4);
    check_client_headers(hb, nb, 4);
    if (na == 4 && nb == 4) {
        CHECK(memcmp(ha[2].pcValue, hb[2].pcValue, 24) != 0);
        CHECK(ha != hb);
    }
    WebSocketDeleteHandle(a);
    WebSocketDeleteHandle(b);
}

/* ---- §16.1 accept vectors, request variants -------------------------------------------------- */

/* Runs a server Begin over `req` and checks the result and (on success) the accept value. */
static void server_accepts(const WEB_SOCKET_HTTP_HEADER *req, ULONG n, HRESULT want,
                           const char *want_accept) {
    WEB_SOCKET_HANDLE s = NULL;
    WEB_SOCKET_HTTP_HEADER *resp = NULL;
    ULONG nresp = 0;
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &s), S_OK);
    CHECK_HR(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req, n, &resp, &nresp), want);
    if (want == S_OK && resp != NULL) {
        check_server_headers(resp, nresp, 3, want_accept);
        CHECK_HR(WebSocketEndServerHandshake(s), S_OK);
    }
    WebSocketDeleteHandle(s);
}

static void test_rfc_key_vector(void) {
    WEB_SOCKET_HTTP_HEADER req[5];
    req[0] = ws_header("Host", "server.example.com");
    req[1] = ws_header("Upgrade", "websocket");
    req[2] = ws_header("Connection", "Upgrade");
    req[3] = ws_header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    req[4] = ws_header("Sec-WebSocket-Version", "13");
    server_accepts(req, 5, S_OK, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

    /* Values are trimmed of spaces and tabs before use (§8). */
    req[3] = ws_header("Sec-WebSocket-Key", " \tdGhlIHNhbXBsZSBub25jZQ==\t ");
    server_accepts(req, 5, S_OK, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

    /* Names compare case-insensitively; lists may hold several items (browsers). */
    req[0] = ws_header("host", "x");
    req[1] = ws_header("upgrade", "WebSocket");
    req[2] = ws_header("CONNECTION", "keep-alive, Upgrade");
    req[3] = ws_header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    req[4] = ws_header("SEC-WEBSOCKET-VERSION", "13");
    server_accepts(req, 5, S_OK, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

    /* Host is not required. */
    server_accepts(req + 1, 4, S_OK, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

    /* Header strings are (pointer, length): no terminator is needed. */
    {
        char key[] = "dGhlIHNhbXBsZSBub25jZQ==XXXX";
        req[3] = ws_header("Sec-WebSocket-Key", key);
        req[3].ulValueLength = 24;
        server_accepts(req, 5, S_OK, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }
}

/* §12.2: the fake request of HttpListener: Host with an empty value, the all-zero key. */
static void test_dotnet_fake_request(void) {
    WEB_SOCKET_HTTP_HEADER req[5];
    req[0] = ws_header("Connection", "Upgrade");
    req[1] = ws_header("Upgrade", "websocket");
    req[2] = ws_header("Host", "");
    req[3] = ws_header("Sec-WebSocket-Version", "13");
    req[4] = ws_header("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==");
    server_accepts(req, 5, S_OK, "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");
    /* The empty Host as (NULL, 0). */
    req[2].pcValue = NULL;
    req[2].ulValueLength = 0;
    server_accepts(req, 5, S_OK, "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");
}

/* §12.1: the version probe: Begin with [Connection, Upgrade], read Sec-WebSocket-Version
 * case-insensitively, delete without End. */
static void test_dotnet_version_probe(void) {
    WEB_SOCKET_HANDLE h = NULL;
    WEB_SOCKET_HTTP_HEADER initial[2], *out = NULL;
    const WEB_SOCKET_HTTP_HEADER *v, *k;
    ULONG n = 0;
    initial[0] = ws_header("Connection", "Upgrade");
    initial[1] = ws_header("Upgrade", "websocket");
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &h), S_OK);
    CHECK_HR(WebSocketBeginClientHandshake(h, NULL, 0, NULL, 0, initial, 2, &out, &n), S_OK);
    check_client_headers(out, n, 4);
    v = ws_find_header(out, n, "sec-websocket-VERSION");
    k = ws_find_header(out, n, "SEC-WEBSOCKET-KEY");
    CHECK(v != NULL && k != NULL);
    if (v) CHECK_STR(v->pcValue, v->ulValueLength, "13");
    WebSocketDeleteHandle(h);
}

/* The ALLOCATED_BUFFER .NET passes (§7.4, §12.2): the native region, a payload cache of RBS
 * bytes and the property values in one byte array; here at an odd offset, with the slot holding
 * the region's address also unaligned. */
typedef struct dotnet_buffer {
    unsigned char *array;  /* the whole "managed" array */
    size_t array_len;
    unsigned char *region; /* array + 1 */
    size_t region_len;     /* RBS + SBS + 144 */
    unsigned char *values; /* RBS(4) SBS(4) pointer BOOL(4) */
} dotnet_buffer;

static void dotnet_buffer_init(dotnet_buffer *b, ULONG rbs, ULONG sbs) {
    b->region_len = (size_t)rbs + sbs + 144;
    b->array_len = 1 + b->region_len + rbs + 4 + 4 + sizeof(void *) + 4 + 7;
    b->array = (unsigned char *)ws_xmalloc(b->array_len);
    memset(b->array, 0xA5, b->array_len);
    b->region = b->array + 1;
    b->values = b->region + b->region_len + rbs;
    memcpy(b->values, &rbs, 4);
    memcpy(b->values + 4, &sbs, 4);
    memcpy(b->values + 8, &b->region, sizeof(void *));
    memset(b->values + 8 + sizeof(void *), 0, 4);
}

/* Bytes outside the native region (other than the property values) are never written. */
static void dotnet_buffer_check(const dotnet_buffer *b) {
    size_t i, bad = 0;
    const unsigned char *values_end = b->values + 12 + sizeof(void *);
    for (i = 0; i < b->array_len; i++) {
        const unsigned char *p = b->array + i;
        int in_region = p >= b->region && p < b->region + b->region_len;
        int in_values = p >= b->values && p < values_end;
        if (!in_region && !in_values && *p != 0xA5) bad++;
    }
    CHECK_EQ(bad, 0);
}

static int in_range(const void *p, ULONG len, const void *base, size_t base_len) {
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)base;
    return a >= lo && a + len <= lo + base_len;
}

/* §12.2: HttpListener's server handle: properties RBS, SBS = 16, ALLOCATED_BUFFER. */
static void test_dotnet_server_allocated_buffer_unaligned(void) {
    const ULONG rbs = 16384, sbs = 16;
    dotnet_buffer b;
    WEB_SOCKET_PROPERTY props[3];
    WEB_SOCKET_HANDLE s = NULL;
    WEB_SOCKET_HTTP_HEADER req[5], *resp = NULL;
    ULONG nresp = 0;
    static const char hello[] = "Hello";
    static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    unsigned char frame[32];
    size_t flen;
    WEB_SOCKET_BUFFER buf;
    ws_action a;

    dotnet_buffer_init(&b, rbs, sbs);
    CHECK(((uintptr_t)b.region & 7) != 0);
    CHECK(((uintptr_t)(b.values + 8) & 7) != 0);
    props[0] = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, b.values, 4);
    props[1] = ws_property(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, b.values + 4, 4);
    props[2] = ws_property(WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, b.values + 8,
                           (ULONG)b.region_len);
    CHECK_HR(WebSocketCreateServerHandle(props, 3, &s), S_OK);

    req[0] = ws_header("Connection", "Upgrade");
    req[1] = ws_header("Upgrade", "websocket");
    req[2] = ws_header("Host", "");
    req[3] = ws_header("Sec-WebSocket-Version", "13");
    req[4] = ws_header("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==");
    CHECK_HR(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req, 5, &resp, &nresp), S_OK);
    check_server_headers(resp, nresp, 3, "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");
    CHECK_HR(WebSocketEndServerHandshake(s), S_OK);

    /* A send: buffer 0 (header) in the region, buffer 1 (payload) in place. */
    buf = ws_data_buffer(hello, 5);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &buf, NULL), S_OK);
    memset(&buf, 0, sizeof buf); /* .NET's WEB_SOCKET_BUFFER is a temporary */
    a = ws_get(s, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
    CHECK_EQ(a.action, WS_SEND_TO_NETWORK);
    CHECK_EQ(a.count, 2);
    if (a.count == 2) {
        CHECK(in_range(a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength, b.region,
                       b.region_len));
        CHECK_MEM(a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength, "\x81\x05", 2);
        CHECK(a.buffers[1].Data.pbBuffer == (PBYTE)(uintptr_t)hello);
        CHECK_EQ(a.buffers[1].Data.ulBufferLength, 5);
    }
    WebSocketCompleteAction(s, a.action_ctx, 7);
    a = ws_get(s, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
    CHECK_EQ(a.action, WS_INDICATE_SEND);
    WebSocketCompleteAction(s, a.action_ctx, 0);

    /* A receive: every buffer in the region. */
    flen = ws_build_frame(frame, 0x81, key, hello, 5);
    CHECK_HR(WebSocketReceive(s, NULL, NULL), S_OK);
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
    CHECK(in_range(a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength, b.region,
                   b.region_len));
    CHECK(a.buffers[0].Data.ulBufferLength >= flen && a.buffers[0].Data.ulBufferLength <= rbs);
    if (a.action == WS_RECEIVE_FROM_NETWORK && a.buffers[0].Data.ulBufferLength >= flen) {
        memcpy(a.buffers[0].Data.pbBuffer, frame, flen);
        WebSocketCompleteAction(s, a.action_ctx, (ULONG)flen);
    }
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
    CHECK_EQ(a.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
    CHECK(in_range(a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength, b.region,
                   b.region_len));
    CHECK_MEM(a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength, hello, 5);
    WebSocketCompleteAction(s, a.action_ctx, 5);
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_NO_ACTION(a);

    dotnet_buffer_check(&b);
    WebSocketDeleteHandle(s);
    free(b.array);
}

/* §12.3: the .NET Framework client: End with exactly Connection / Upgrade / Accept and NULL
 * outputs; optionally DISABLE_MASKING (zero key, §16.2). */
static void dotnet_framework_client(int zero_mask) {
    const ULONG rbs = 16384, sbs = 16384;
    dotnet_buffer b;
    WEB_SOCKET_PROPERTY props[4];
    WEB_SOCKET_HANDLE h = NULL;
    WEB_SOCKET_HTTP_HEADER initial[2], *out = NULL, resp[3];
    const WEB_SOCKET_HTTP_HEADER *k;
    ULONG n = 0, one = 1;
    char accept[29];
    static const char hello[] = "Hello";
    WEB_SOCKET_BUFFER buf;
    ws_action a;
    ws_fifo wire;
    memset(&wire, 0, sizeof wire);

    dotnet_buffer_init(&b, rbs, sbs);
    props[0] = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, b.values, 4);
    props[1] = ws_property(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, b.values + 4, 4);
    props[2] = ws_property(WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, b.values + 8,
                           (ULONG)b.region_len);
    props[3] = ws_property(WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE, &one, 4);
    CHECK_HR(WebSocketCreateClientHandle(props, zero_mask ? 4 : 3, &h), S_OK);

    initial[0] = ws_header("Connection", "Upgrade");
    initial[1] = ws_header("Upgrade", "websocket");
    CHECK_HR(WebSocketBeginClientHandshake(h, NULL, 0, NULL, 0, initial, 2, &out, &n), S_OK);
    k = ws_find_header(out, n, "sec-websocket-key");
    CHECK(k != NULL);
    if (k == NULL) goto out;
    accept_for(k->pcValue, k->ulValueLength, accept);
    resp[0] = ws_header("Connection", "Upgrade");
    resp[1] = ws_header("Upgrade", "websocket");
    resp[2] = ws_header("Sec-WebSocket-Accept", accept);
    CHECK_HR(WebSocketEndClientHandshake(h, resp, 3, NULL, NULL, NULL), S_OK);

    buf = ws_data_buffer(hello, 5);
    CHECK_HR(WebSocketSend(h, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &buf, NULL), S_OK);
    CHECK_EQ(ws_flush_sends(h, &wire, 2), 1);
    if (zero_mask) {
        CHECK_MEM(ws_fifo_peek(&wire), ws_fifo_avail(&wire),
                  "\x81\x85\x00\x00\x00\x00\x48\x65\x6c\x6c\x6f", 11);
    } else {
        ws_frame f;
        CHECK_EQ(ws_fifo_avail(&wire), 11);
        if (ws_parse_frame(ws_fifo_peek(&wire), ws_fifo_avail(&wire), &f)) {
            CHECK_EQ(ws_fifo_peek(&wire)[0], 0x81);
            CHECK_EQ(ws_fifo_peek(&wire)[1], 0x85);
        }
    }
    /* Receive a server frame; the zero-key client still rejects nothing of the server's. */
    CHECK_HR(WebSocketReceive(h, NULL, NULL), S_OK);
    a = ws_get(h, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
    if (a.action == WS_RECEIVE_FROM_NETWORK && a.buffers[0].Data.ulBufferLength >= 7) {
        CHECK(in_range(a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength, b.region,
                       b.region_len));
        memcpy(a.buffers[0].Data.pbBuffer, "\x81\x05Hello", 7);
        WebSocketCompleteAction(h, a.action_ctx, 7);
    }
    a = ws_get(h, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
    CHECK_EQ(a.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
    CHECK_MEM(a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength, hello, 5);
    WebSocketCompleteAction(h, a.action_ctx, 5);
    dotnet_buffer_check(&b);
out:
    WebSocketDeleteHandle(h);
    free(b.array);
    ws_fifo_free(&wire);
}

static void test_dotnet_framework_client(void) { dotnet_framework_client(0); }
static void test_dotnet_framework_client_zero_mask(void) { dotnet_framework_client(1); }

/* ---- subprotocols and extensions (§6.3, §8.1-§8.3, §15 Q7) ----------------------------------- */

typedef struct negotiated {
    WEB_SOCKET_HANDLE client, server;
    WEB_SOCKET_HTTP_HEADER *req, *resp;
    ULONG nreq, nresp;
} negotiated;

static PCSTR g_protocols[2] = {"chat", "superchat"};
static PCSTR g_extensions[2] = {"permessage-foo", "x-bar; p=1"};

/* Client offers g_protocols / g_extensions; server selects `protocol` and `exts`. */
static int negotiate(negotiated *n, PCSTR protocol, PCSTR *exts, ULONG next) {
    memset(n, 0, sizeof *n);
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &n->client), S_OK);
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &n->server), S_OK);
    if (!CHECK_HR(WebSocketBeginClientHandshake(n->client, g_protocols, 2, g_extensions, 2, NULL, 0,
                                                &n->req, &n->nreq),
                  S_OK))
        return 0;
    return CHECK_HR(WebSocketBeginServerHandshake(n->server, protocol, exts, next, n->req, n->nreq,
                                                  &n->resp, &n->nresp),
                    S_OK);
}

static void negotiated_free(negotiated *n) {
    WebSocketDeleteHandle(n->client);
    WebSocketDeleteHandle(n->server);
}

static void test_subprotocol_and_extension_selected(void) {
    negotiated n;
    PCSTR sel[1] = {"x-bar; p=1"};
    ULONG proto = 0xDEAD, exts[3] = {0xDEAD, 0xDEAD, 0xDEAD}, nexts = 3;
    if (negotiate(&n, "superchat", sel, 1)) {
        check_client_headers(n.req, n.nreq, 6);
        if (n.nreq == 6) {
            CHECK_HEADER(n.req[4], "Sec-WebSocket-Protocol", "chat, superchat");
            CHECK_HEADER(n.req[5], "Sec-WebSocket-Extensions", "permessage-foo, x-bar; p=1");
        }
        CHECK_EQ(n.nresp, 5);
        check_header_strings(n.resp, n.nresp);
        if (n.nresp == 5) {
            CHECK_HEADER(n.resp[3], "Sec-WebSocket-Protocol", "superchat");
            CHECK_HEADER(n.resp[4], "Sec-WebSocket-Extensions", "x-bar; p=1");
        }
        CHECK_HR(WebSocketEndClientHandshake(n.client, n.resp, n.nresp, exts, &nexts, &proto), S_OK);
        CHECK_EQ(proto, 1);
        CHECK_EQ(nexts, 1);
        CHECK_EQ(exts[0], 1);
        CHECK_EQ(exts[1], 0xDEAD);
        CHECK_HR(WebSocketEndServerHandshake(n.server), S_OK);
    }
    negotiated_free(&n);
}

static void test_two_extensions_selected(void) {
    negotiated n;
    PCSTR sel[2] = {"x-bar", "permessage-foo"};
    ULONG exts[2] = {9, 9}, nexts = 2, small = 1;
    if (negotiate(&n, NULL, sel, 2)) {
        CHECK_EQ(n.nresp, 4);
        if (n.nresp == 4) CHECK_HEADER(n.resp[3], "Sec-WebSocket-Extensions", "x-bar, permessage-foo");
        /* Capacity too small → E_INVALIDARG, and the client may retry. */
        CHECK_HR(WebSocketEndClientHandshake(n.client, n.resp, n.nresp, exts, &small, NULL),
                 E_INVALIDARG);
        CHECK_HR(WebSocketEndClientHandshake(n.client, n.resp, n.nresp, exts, &nexts, NULL), S_OK);
        CHECK_EQ(nexts, 2);
        CHECK_EQ(exts[0], 1);
        CHECK_EQ(exts[1], 0);
    }
    negotiated_free(&n);
}

static void test_no_subprotocol_selected_leaves_output(void) {
    negotiated n;
    ULONG proto = 0xDEAD, exts[2] = {7, 7}, nexts = 2;
    /* "" means none (§6.4). */
    if (negotiate(&n, "", NULL, 0)) {
        CHECK_EQ(n.nresp, 3);
        CHECK_HR(WebSocketEndClientHandshake(n.client, n.resp, n.nresp, exts, &nexts, &proto), S_OK);
        CHECK_EQ(proto, 0xDEAD);
        CHECK_EQ(nexts, 0);
        CHECK_EQ(exts[0], 7);
    }
    negotiated_free(&n);
}

static void test_subprotocol_not_offered(void) {
    negotiated n;
    ULONG proto = 0xDEAD;
    WEB_SOCKET_HTTP_HEADER resp[8];
    ULONG i;
    /* The server does not validate its selection (§8.2); the client does. */
    if (negotiate(&n, "other", NULL, 0)) {
        CHECK_EQ(n.nresp, 4);
        CHECK_HR(WebSocketEndClientHandshake(n.client, n.resp, n.nresp, NULL, NULL, &proto),
                 E_SUBPROTOCOL_NOT_SUPPORTED);
        CHECK_EQ(proto, 0xDEAD);
        /* Two protocols selected → also not supported. */
        for (i = 0; i < 3 && i < n.nresp; i++) resp[i] = n.resp[i];
        resp[3] = ws_header("Sec-WebSocket-Protocol", "chat, superchat");
        CHECK_HR(WebSocketEndClientHandshake(n.client, resp, 4, NULL, NULL, &proto),
                 E_SUBPROTOCOL_NOT_SUPPORTED);
        /* A failed End leaves the handle waiting: a matching response now succeeds, with the
         * protocol matched case-insensitively. */
        resp[3] = ws_header("Sec-WebSocket-Protocol", "CHAT");
        CHECK_HR(WebSocketEndClientHandshake(n.client, resp, 4, NULL, NULL, &proto), S_OK);
        CHECK_EQ(proto, 0);
    }
    negotiated_free(&n);

    /* None offered, one selected. */
    {
        WEB_SOCKET_HANDLE c = NULL, s = NULL;
        WEB_SOCKET_HTTP_HEADER *req = NULL, *rsp = NULL;
        ULONG nreq = 0, nrsp = 0;
        CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &c), S_OK);
        CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &s), S_OK);
        CHECK_HR(WebSocketBeginClientHandshake(c, NULL, 0, NULL, 0, NULL, 0, &req, &nreq), S_OK);
        CHECK_HR(WebSocketBeginServerHandshake(s, "chat", NULL, 0, req, nreq, &rsp, &nrsp), S_OK);
        CHECK_HR(WebSocketEndClientHandshake(c, rsp, nrsp, NULL, NULL, NULL),
                 E_SUBPROTOCOL_NOT_SUPPORTED);
        WebSocketDeleteHandle(c);
        WebSocketDeleteHandle(s);
    }
}

static void test_extension_not_offered(void) {
    negotiated n;
    PCSTR sel[1] = {"x-unknown; a=b"};
    if (negotiate(&n, NULL, sel, 1)) {
        CHECK_HR(WebSocketEndClientHandshake(n.client, n.resp, n.nresp, NULL, NULL, NULL),
                 E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED);
    }
    negotiated_free(&n);
}

/* §8 list syntax: a header appearing several times contributes all its items; empty entries
 * (NULL, 0) are valid and ignored. */
static void test_header_lists(void) {
    WEB_SOCKET_HTTP_HEADER req[8];
    req[0] = ws_header("Connection", "keep-alive");
    req[1] = ws_header("Upgrade", "h2c, websocket");
    req[2] = ws_header("Connection", " , Upgrade ,");
    req[3] = ws_header(NULL, NULL);
    req[4] = ws_header("Sec-WebSocket-Version", "13");
    req[5] = ws_header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    req[6] = ws_header("X-Unknown", NULL);
    server_accepts(req, 7, S_OK, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/* §8.3: an empty Sec-WebSocket-Protocol selects nothing; extension names (before ';') match
 * case-insensitively whatever their parameters. */
static void test_response_selection_details(void) {
    negotiated n;
    WEB_SOCKET_HTTP_HEADER resp[6];
    ULONG proto = 0xDEAD, exts[2] = {7, 7}, nexts = 2, i;
    if (negotiate(&n, NULL, NULL, 0)) {
        for (i = 0; i < 3 && i < n.nresp; i++) resp[i] = n.resp[i];
        resp[3] = ws_header("Sec-WebSocket-Protocol", "");
        resp[4] = ws_header("sec-websocket-extensions", "X-BAR; q=2, Permessage-Foo");
        CHECK_HR(WebSocketEndClientHandshake(n.client, resp, 5, exts, &nexts, &proto), S_OK);
        CHECK_EQ(proto, 0xDEAD);
        CHECK_EQ(nexts, 2);
        CHECK_EQ(exts[0], 1);
        CHECK_EQ(exts[1], 0);
    }
    negotiated_free(&n);
}

int main(int argc, char **argv) {
    ws_init(argc, argv);
    RUN(test_sha1_self_check);
    RUN(test_sample_round_trip);
    RUN(test_keys_are_fresh);
    RUN(test_rfc_key_vector);
    RUN(test_dotnet_fake_request);
    RUN(test_dotnet_version_probe);
    RUN(test_dotnet_server_allocated_buffer_unaligned);
    RUN(test_dotnet_framework_client);
    RUN(test_dotnet_framework_client_zero_mask);
    RUN(test_subprotocol_and_extension_selected);
    RUN(test_two_extensions_selected);
    RUN(test_no_subprotocol_selected_leaves_output);
    RUN(test_subprotocol_not_offered);
    RUN(test_extension_not_offered);
    RUN(test_header_lists);
    RUN(test_response_selection_details);
    return ws_finish("handshake");
}
