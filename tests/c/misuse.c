/*
 * misuse.c - the "bad input" matrix through the C ABI (spec §4.2, §5, §6, §7, §8.2-§8.4, §10,
 * §15 Q1/Q22/Q26/Q28): NULL pointers, NULL with lengths, bad properties and sizes, unknown
 * enumeration values, malformed handshake headers, calls in the wrong state, stale / forged /
 * doubly deleted handles, GetGlobalProperty, CompleteAction with wrong tokens and byte counts,
 * the close and abort rules. Every failing call is checked for its exact HRESULT, and the
 * handle is then checked to be still usable (or still unusable) as the spec says.
 */
#include "common.h"

static const char *const k_key = "dGhlIHNhbXBsZSBub25jZQ==";

/* A valid request (§8.2) for the RFC key. */
static ULONG valid_request(WEB_SOCKET_HTTP_HEADER *req) {
    req[0] = ws_header("Connection", "Upgrade");
    req[1] = ws_header("Upgrade", "websocket");
    req[2] = ws_header("Sec-WebSocket-Version", "13");
    req[3] = ws_header("Sec-WebSocket-Key", k_key);
    return 4;
}

/* GetAction failed with `want`, and wrote NO_ACTION, count 0 and a NULL token (§6.8, Q26). */
#define CHECK_ACTION_FAILED(a, want)                                                             \
    do {                                                                                         \
        const ws_action *fa_ = &(a);                                                             \
        CHECK_HR(fa_->hr, want);                                                                 \
        CHECK_EQ(fa_->action, WEB_SOCKET_NO_ACTION);                                             \
        CHECK_EQ(fa_->count, 0);                                                                 \
        CHECK(fa_->action_ctx == NULL);                                                          \
    } while (0)

static HRESULT create_client(const WEB_SOCKET_PROPERTY *props, ULONG n) {
    WEB_SOCKET_HANDLE h = (WEB_SOCKET_HANDLE)WS_SENTINEL;
    HRESULT hr = WebSocketCreateClientHandle(props, n, &h);
    if (hr == S_OK) {
        CHECK(h != NULL && h != (WEB_SOCKET_HANDLE)WS_SENTINEL);
        WebSocketDeleteHandle(h);
    } else {
        CHECK(h == (WEB_SOCKET_HANDLE)WS_SENTINEL); /* written only on success */
    }
    return hr;
}

static HRESULT create_server(const WEB_SOCKET_PROPERTY *props, ULONG n) {
    WEB_SOCKET_HANDLE h = (WEB_SOCKET_HANDLE)WS_SENTINEL;
    HRESULT hr = WebSocketCreateServerHandle(props, n, &h);
    if (hr == S_OK) {
        CHECK(h != NULL && h != (WEB_SOCKET_HANDLE)WS_SENTINEL);
        WebSocketDeleteHandle(h);
    } else {
        CHECK(h == (WEB_SOCKET_HANDLE)WS_SENTINEL);
    }
    return hr;
}

/* Both handle kinds accept the same create-time properties (§7.1). */
#define CHECK_CREATE(props, n, want)                                                             \
    do {                                                                                         \
        CHECK_HR(create_client((props), (n)), (want));                                           \
        CHECK_HR(create_server((props), (n)), (want));                                           \
    } while (0)

/* ---- Create ------------------------------------------------------------------------------------ */

static void test_create_null_arguments(void) {
    ULONG rbs = 1024;
    WEB_SOCKET_PROPERTY p = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &rbs, 4);
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketCreateClientHandle(&p, 1, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketCreateServerHandle(&p, 1, NULL), E_INVALIDARG);
    CHECK_CREATE(NULL, 1, E_INVALIDARG);
    CHECK_CREATE(NULL, 0, S_OK);
    CHECK_CREATE(&p, 1, S_OK);
    /* A non-NULL array with count 0 is the defaults too. */
    CHECK_CREATE(&p, 0, S_OK);
}

static void test_property_values(void) {
    ULONG v = 1024;
    unsigned char wide[8] = {0x00, 0x01, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff}; /* 256, then junk */
    unsigned char odd[5] = {0xAA, 0x00, 0x04, 0x00, 0x00};                     /* 1024 at +1 */
    WEB_SOCKET_PROPERTY p;

    p = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, NULL, 4);
    CHECK_CREATE(&p, 1, E_INVALIDARG);
    p = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &v, 2);
    CHECK_CREATE(&p, 1, E_INVALIDARG);
    p = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &v, 0);
    CHECK_CREATE(&p, 1, E_INVALIDARG);
    p = ws_property(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &v, 3);
    CHECK_CREATE(&p, 1, E_INVALIDARG);
    p = ws_property(WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE, &v, 2);
    CHECK_CREATE(&p, 1, E_INVALIDARG);
    p = ws_property(WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE, &v, 1);
    CHECK_CREATE(&p, 1, E_INVALIDARG);
    p = ws_property(WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE, NULL, 4);
    CHECK_CREATE(&p, 1, E_INVALIDARG);
    /* At least 4 bytes: the first 4 are the value (little-endian, unaligned). */
    p = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, wide, 8);
    CHECK_CREATE(&p, 1, S_OK);
    p = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, odd + 1, 4);
    CHECK_CREATE(&p, 1, S_OK);
    p = ws_property(WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE, odd + 1, 4);
    CHECK_CREATE(&p, 1, S_OK);
    p = ws_property(WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE, &v, 4);
    CHECK_CREATE(&p, 1, S_OK);
}

static void check_size(WEB_SOCKET_PROPERTY_TYPE type, ULONG value, HRESULT want) {
    WEB_SOCKET_PROPERTY p = ws_property(type, &value, 4);
    CHECK_CREATE(&p, 1, want);
}

static void test_buffer_size_ranges(void) {
    check_size(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, 0, E_INVALIDARG);
    check_size(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, 16, E_INVALIDARG);
    check_size(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, 255, E_INVALIDARG);
    check_size(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, 256, S_OK);
    check_size(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, 16384, S_OK);
    check_size(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, 65536, S_OK);
    check_size(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, 65537, E_INVALIDARG);
    check_size(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, 0xFFFFFFFFu, E_INVALIDARG);
    check_size(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, 0, E_INVALIDARG);
    check_size(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, 15, E_INVALIDARG);
    check_size(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, 16, S_OK);
    check_size(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, 256, S_OK);
    check_size(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, 65536, S_OK);
    check_size(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, 65537, E_INVALIDARG);
    check_size(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, 0x80000000u, E_INVALIDARG);
}

static void test_property_types(void) {
    ULONG v = 30000;
    WEB_SOCKET_PROPERTY p[2];
    ULONG small = 100, ok = 512;
    p[0] = ws_property(WS_PT(7), &v, 4);
    CHECK_CREATE(p, 1, E_INVALIDARG);
    p[0] = ws_property(WS_PT(-1), &v, 4);
    CHECK_CREATE(p, 1, E_INVALIDARG);
    p[0] = ws_property(WS_PT(0x7FFFFFFF), &v, 4);
    CHECK_CREATE(p, 1, E_INVALIDARG);
    p[0] = ws_property(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, &v, 4);
    CHECK_CREATE(p, 1, E_INVALIDARG);
    /* Keep-alive at create time: size checked, value ignored (§7.1). */
    p[0] = ws_property(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, &v, 4);
    CHECK_CREATE(p, 1, S_OK);
    p[0] = ws_property(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, &v, 2);
    CHECK_CREATE(p, 1, E_INVALIDARG);
    /* A bad entry after a good one fails the whole call. */
    p[0] = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &ok, 4);
    p[1] = ws_property(WS_PT(7), &v, 4);
    CHECK_CREATE(p, 2, E_INVALIDARG);
    /* The last occurrence of a type wins. */
    p[0] = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &small, 4);
    p[1] = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &ok, 4);
    CHECK_CREATE(p, 2, S_OK);
    p[0] = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &ok, 4);
    p[1] = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &small, 4);
    CHECK_CREATE(p, 2, E_INVALIDARG);
}

/* ALLOCATED_BUFFER (§7.4): pointer-to-pointer, size >= RBS + SBS + 144, no alignment needed. */
static void test_allocated_buffer(void) {
    ULONG rbs = 256, sbs = 16;
    unsigned char *mem = (unsigned char *)ws_xmalloc(65536 * 2 + 200);
    unsigned char slot[sizeof(void *) + 1];
    void *base = mem + 1, *null_ptr = NULL;
    WEB_SOCKET_PROPERTY p[3];

    memcpy(slot + 1, &base, sizeof base);
    p[0] = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &rbs, 4);
    p[1] = ws_property(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &sbs, 4);
    p[2] = ws_property(WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, slot + 1, 256 + 16 + 144);
    CHECK_CREATE(p, 3, S_OK);
    p[2].ulValueSize = 256 + 16 + 143;
    CHECK_CREATE(p, 3, E_INVALIDARG);
    p[2].ulValueSize = 0;
    CHECK_CREATE(p, 3, E_INVALIDARG);
    p[2].ulValueSize = 100000;
    CHECK_CREATE(p, 3, S_OK);
    /* The slot holds NULL / the slot pointer is NULL. */
    p[2] = ws_property(WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, &null_ptr, 416);
    CHECK_CREATE(p, 3, E_INVALIDARG);
    p[2] = ws_property(WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, NULL, 416);
    CHECK_CREATE(p, 3, E_INVALIDARG);
    /* All properties are read before the size check (the buffer may come first). */
    p[0] = ws_property(WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, slot + 1, 416);
    p[1] = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &rbs, 4);
    p[2] = ws_property(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &sbs, 4);
    CHECK_CREATE(p, 3, S_OK);
    /* With default sizes: 4096 + 4096 + 144 for a client, 4096 + 16 + 144 for a server. */
    p[0] = ws_property(WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, slot + 1, 4096 + 4096 + 144);
    CHECK_CREATE(p, 1, S_OK);
    p[0].ulValueSize = 4096 + 16 + 144;
    CHECK_HR(create_server(p, 1), S_OK);
    CHECK_HR(create_client(p, 1), E_INVALIDARG);
    p[0].ulValueSize = 4096 + 16 + 143;
    CHECK_HR(create_server(p, 1), E_INVALIDARG);
    free(mem);
}

/* ---- Handshake arguments and headers ---------------------------------------------------------- */

static void test_begin_client_arguments(void) {
    WEB_SOCKET_HANDLE h = NULL;
    WEB_SOCKET_HTTP_HEADER *out = (WEB_SOCKET_HTTP_HEADER *)WS_SENTINEL, hdr;
    ULONG n = 77;
    PCSTR good[1] = {"chat"};
    PCSTR null_entry[2] = {"chat", NULL};
    PCSTR bad_tokens[6] = {"", "a b", "a,b", "chat\x01", "x\"y", "caf\xc3\xa9"};
    PCSTR bad_ext[3] = {"x-ext\r\n", "", "x\ny"};
    int i;

    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &h), S_OK);
    CHECK_HR(WebSocketBeginClientHandshake(h, NULL, 0, NULL, 0, NULL, 0, NULL, &n), E_INVALIDARG);
    CHECK_HR(WebSocketBeginClientHandshake(h, NULL, 0, NULL, 0, NULL, 0, &out, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketBeginClientHandshake(h, NULL, 1, NULL, 0, NULL, 0, &out, &n), E_INVALIDARG);
    CHECK_HR(WebSocketBeginClientHandshake(h, NULL, 0, NULL, 1, NULL, 0, &out, &n), E_INVALIDARG);
    CHECK_HR(WebSocketBeginClientHandshake(h, NULL, 0, NULL, 0, NULL, 1, &out, &n), E_INVALIDARG);
    CHECK_HR(WebSocketBeginClientHandshake(h, null_entry, 2, NULL, 0, NULL, 0, &out, &n),
             E_INVALIDARG);
    for (i = 0; i < 6; i++) {
        CHECK_HR(WebSocketBeginClientHandshake(h, &bad_tokens[i], 1, NULL, 0, NULL, 0, &out, &n),
                 E_INVALIDARG);
    }
    for (i = 0; i < 3; i++) {
        CHECK_HR(WebSocketBeginClientHandshake(h, NULL, 0, &bad_ext[i], 1, NULL, 0, &out, &n),
                 E_INVALIDARG);
    }
    /* An initial header with a NULL name and a length. */
    hdr = ws_header("Host", "x");
    hdr.pcName = NULL;
    CHECK_HR(WebSocketBeginClientHandshake(h, NULL, 0, NULL, 0, &hdr, 1, &out, &n), E_INVALIDARG);
    CHECK(out == (WEB_SOCKET_HTTP_HEADER *)WS_SENTINEL);
    CHECK_EQ(n, 77);
    /* The failures left the handle in Created. */
    CHECK_HR(WebSocketBeginClientHandshake(h, good, 1, NULL, 0, NULL, 0, &out, &n), S_OK);
    CHECK_EQ(n, 5);
    WebSocketDeleteHandle(h);
}

static void test_begin_server_arguments(void) {
    WEB_SOCKET_HANDLE h = NULL;
    WEB_SOCKET_HTTP_HEADER req[4], *out = (WEB_SOCKET_HTTP_HEADER *)WS_SENTINEL;
    ULONG n = 77, nreq;
    PCSTR null_entry[1] = {NULL};
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &h), S_OK);
    nreq = valid_request(req);
    CHECK_HR(WebSocketBeginServerHandshake(h, NULL, NULL, 0, req, nreq, NULL, &n), E_INVALIDARG);
    CHECK_HR(WebSocketBeginServerHandshake(h, NULL, NULL, 0, req, nreq, &out, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketBeginServerHandshake(h, NULL, NULL, 0, NULL, nreq, &out, &n), E_INVALIDARG);
    CHECK_HR(WebSocketBeginServerHandshake(h, NULL, NULL, 1, req, nreq, &out, &n), E_INVALIDARG);
    CHECK_HR(WebSocketBeginServerHandshake(h, NULL, null_entry, 1, req, nreq, &out, &n),
             E_INVALIDARG);
    CHECK_HR(WebSocketBeginServerHandshake(h, "a b", NULL, 0, req, nreq, &out, &n), E_INVALIDARG);
    req[3].pcValue = NULL; /* NULL with a length */
    CHECK_HR(WebSocketBeginServerHandshake(h, NULL, NULL, 0, req, nreq, &out, &n), E_INVALIDARG);
    CHECK(out == (WEB_SOCKET_HTTP_HEADER *)WS_SENTINEL);
    CHECK_EQ(n, 77);
    nreq = valid_request(req);
    CHECK_HR(WebSocketBeginServerHandshake(h, NULL, NULL, 0, req, nreq, &out, &n), S_OK);
    CHECK_EQ(n, 3);
    WebSocketDeleteHandle(h);
}

static void request_case(WEB_SOCKET_HANDLE h, const WEB_SOCKET_HTTP_HEADER *req, ULONG n,
                         HRESULT want, int line) {
    WEB_SOCKET_HTTP_HEADER *out = NULL;
    ULONG nout = 0;
    HRESULT hr = WebSocketBeginServerHandshake(h, NULL, NULL, 0, req, n, &out, &nout);
    if (!CHECK_HR(hr, want)) fprintf(stderr, "    (request case at line %d)\n", line);
}
#define REQUEST_CASE(h, req, n, want) request_case((h), (req), (n), (want), __LINE__)

/* §8.2 request checks. Every failure leaves the handle in Created, so one handle serves all. */
static void test_request_headers(void) {
    WEB_SOCKET_HANDLE h = NULL;
    WEB_SOCKET_HTTP_HEADER req[6];
    ULONG n;
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &h), S_OK);

    n = valid_request(req);
    REQUEST_CASE(h, req + 1, 3, E_INVALID_PROTOCOL_FORMAT); /* no Connection */
    req[0] = ws_header("Connection", "close");
    REQUEST_CASE(h, req, n, E_INVALID_PROTOCOL_FORMAT);
    req[0] = ws_header("Connection", "Upgradex");
    REQUEST_CASE(h, req, n, E_INVALID_PROTOCOL_FORMAT);
    n = valid_request(req);
    req[1] = req[0];
    REQUEST_CASE(h, req + 1, 3, E_INVALID_PROTOCOL_FORMAT); /* no Upgrade */
    n = valid_request(req);
    req[1] = ws_header("Upgrade", "h2c");
    REQUEST_CASE(h, req, n, E_INVALID_PROTOCOL_FORMAT);
    n = valid_request(req);
    req[2] = req[3];
    REQUEST_CASE(h, req, 3, E_INVALID_PROTOCOL_FORMAT); /* no Sec-WebSocket-Version */
    n = valid_request(req);
    REQUEST_CASE(h, req, 3, E_INVALID_PROTOCOL_FORMAT); /* no Sec-WebSocket-Key */
    req[3] = ws_header("Sec-WebSocket-Key", "");
    REQUEST_CASE(h, req, n, E_INVALID_PROTOCOL_FORMAT);
    req[3] = ws_header("Sec-WebSocket-Key", " \t ");
    REQUEST_CASE(h, req, n, E_INVALID_PROTOCOL_FORMAT);
    n = valid_request(req);
    req[4] = ws_header("Sec-WebSocket-Key", k_key); /* twice, same value */
    REQUEST_CASE(h, req, 5, E_INVALID_PROTOCOL_FORMAT);
    req[4] = ws_header("sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAA==");
    REQUEST_CASE(h, req, 5, E_INVALID_PROTOCOL_FORMAT);
    /* Versions: present but not 13 → VERSION_NOT_SUPPORTED (§15 Q6). */
    n = valid_request(req);
    req[2] = ws_header("Sec-WebSocket-Version", "8");
    REQUEST_CASE(h, req, n, E_PROTOCOL_VERSION_NOT_SUPPORTED);
    req[2] = ws_header("Sec-WebSocket-Version", "14");
    REQUEST_CASE(h, req, n, E_PROTOCOL_VERSION_NOT_SUPPORTED);
    req[2] = ws_header("Sec-WebSocket-Version", "garbage");
    REQUEST_CASE(h, req, n, E_PROTOCOL_VERSION_NOT_SUPPORTED);
    req[2] = ws_header("Sec-WebSocket-Version", "130");
    REQUEST_CASE(h, req, n, E_PROTOCOL_VERSION_NOT_SUPPORTED);
    /* The garbled entries above changed nothing: a valid request is accepted now, including
     * one whose version list contains 13 among others. */
    req[2] = ws_header("Sec-WebSocket-Version", "8, 13");
    REQUEST_CASE(h, req, n, S_OK);
    /* ... and the handle has left Created. */
    n = valid_request(req);
    REQUEST_CASE(h, req, n, E_INVALID_PROTOCOL_OPERATION);
    WebSocketDeleteHandle(h);
}

/* §8.3 response checks. A failed End leaves the handle waiting for a retry. */
static void test_response_headers(void) {
    WEB_SOCKET_HANDLE c = NULL, s = NULL;
    WEB_SOCKET_HTTP_HEADER *req = NULL, *resp = NULL, r[5];
    ULONG nreq = 0, nresp = 0;
    char accept[29], lower[29];
    int i;
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &c), S_OK);
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &s), S_OK);
    CHECK_HR(WebSocketBeginClientHandshake(c, NULL, 0, NULL, 0, NULL, 0, &req, &nreq), S_OK);
    CHECK_HR(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req, nreq, &resp, &nresp), S_OK);
    CHECK_EQ(nresp, 3);
    if (nresp != 3) goto out;
    snprintf(accept, sizeof accept, "%s", resp[2].pcValue);
    snprintf(lower, sizeof lower, "%s", accept);
    for (i = 0; lower[i]; i++)
        if (lower[i] >= 'A' && lower[i] <= 'Z') lower[i] = (char)(lower[i] - 'A' + 'a');

    r[0] = ws_header("Connection", "Upgrade");
    r[1] = ws_header("Upgrade", "websocket");
    r[2] = ws_header("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK_HR(WebSocketEndClientHandshake(c, r, 3, NULL, NULL, NULL), E_INVALID_PROTOCOL_FORMAT);
    r[2] = ws_header("Sec-WebSocket-Accept", lower); /* compared case-sensitively */
    CHECK_HR(WebSocketEndClientHandshake(c, r, 3, NULL, NULL, NULL), E_INVALID_PROTOCOL_FORMAT);
    CHECK_HR(WebSocketEndClientHandshake(c, r, 2, NULL, NULL, NULL), E_INVALID_PROTOCOL_FORMAT);
    r[2] = ws_header("Sec-WebSocket-Accept", accept);
    r[3] = ws_header("Sec-WebSocket-Accept", accept);
    CHECK_HR(WebSocketEndClientHandshake(c, r, 4, NULL, NULL, NULL), E_INVALID_PROTOCOL_FORMAT);
    CHECK_HR(WebSocketEndClientHandshake(c, r + 1, 2, NULL, NULL, NULL), E_INVALID_PROTOCOL_FORMAT);
    r[1] = ws_header("Upgrade", "h2c");
    CHECK_HR(WebSocketEndClientHandshake(c, r, 3, NULL, NULL, NULL), E_INVALID_PROTOCOL_FORMAT);
    r[1] = ws_header("Upgrade", "websocket");
    r[0] = ws_header("Connection", "keep-alive");
    CHECK_HR(WebSocketEndClientHandshake(c, r, 3, NULL, NULL, NULL), E_INVALID_PROTOCOL_FORMAT);
    CHECK_HR(WebSocketEndClientHandshake(c, NULL, 3, NULL, NULL, NULL), E_INVALIDARG);
    /* Still waiting: the right response (names in any case, value padded) succeeds. */
    r[0] = ws_header("connection", "Upgrade");
    r[1] = ws_header("UPGRADE", "WebSocket");
    r[2] = ws_header("sec-websocket-accept", accept);
    r[3] = ws_header("Sec-WebSocket-Version", "13"); /* ignored */
    CHECK_HR(WebSocketEndClientHandshake(c, r, 4, NULL, NULL, NULL), S_OK);
    CHECK_HR(WebSocketEndClientHandshake(c, resp, nresp, NULL, NULL, NULL),
             E_INVALID_PROTOCOL_OPERATION);
out:
    WebSocketDeleteHandle(c);
    WebSocketDeleteHandle(s);
}

/* ---- States (§5) ------------------------------------------------------------------------------ */

static void check_session_calls_refused(WEB_SOCKET_HANDLE h, HRESULT want) {
    WEB_SOCKET_BUFFER b = ws_data_buffer("x", 1);
    ws_action a;
    CHECK_HR(WebSocketSend(h, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, NULL), want);
    CHECK_HR(WebSocketSend(h, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, NULL), want);
    CHECK_HR(WebSocketReceive(h, NULL, NULL), want);
    a = ws_get(h, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
    CHECK_ACTION_FAILED(a, want);
}

static void test_wrong_state(void) {
    WEB_SOCKET_HANDLE c = NULL, s = NULL;
    WEB_SOCKET_HTTP_HEADER *req = NULL, *resp = NULL, *out = NULL;
    ULONG nreq = 0, nresp = 0, nout = 0;

    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &c), S_OK);
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &s), S_OK);
    /* Created */
    check_session_calls_refused(c, E_INVALID_PROTOCOL_OPERATION);
    check_session_calls_refused(s, E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketEndClientHandshake(c, NULL, 0, NULL, NULL, NULL),
             E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketEndServerHandshake(s), E_INVALID_PROTOCOL_OPERATION);
    /* Abort before the handshake is a no-op. */
    WebSocketAbortHandle(c);
    WebSocketAbortHandle(s);
    /* Wrong kind of handle: E_INVALIDARG. */
    CHECK_HR(WebSocketBeginClientHandshake(s, NULL, 0, NULL, 0, NULL, 0, &out, &nout), E_INVALIDARG);
    CHECK_HR(WebSocketEndServerHandshake(c), E_INVALIDARG);

    /* ClientHandshaking */
    CHECK_HR(WebSocketBeginClientHandshake(c, NULL, 0, NULL, 0, NULL, 0, &req, &nreq), S_OK);
    CHECK_HR(WebSocketBeginClientHandshake(c, NULL, 0, NULL, 0, NULL, 0, &out, &nout),
             E_INVALID_PROTOCOL_OPERATION);
    check_session_calls_refused(c, E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketBeginServerHandshake(c, NULL, NULL, 0, req, nreq, &out, &nout), E_INVALIDARG);

    /* ServerHandshaking */
    CHECK_HR(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req, nreq, &resp, &nresp), S_OK);
    CHECK_HR(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req, nreq, &out, &nout),
             E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketEndClientHandshake(s, resp, nresp, NULL, NULL, NULL), E_INVALIDARG);

    /* Open */
    CHECK_HR(WebSocketEndClientHandshake(c, resp, nresp, NULL, NULL, NULL), S_OK);
    CHECK_HR(WebSocketEndServerHandshake(s), S_OK);
    CHECK_HR(WebSocketEndServerHandshake(s), S_OK); /* again: S_OK */
    CHECK_HR(WebSocketEndClientHandshake(c, resp, nresp, NULL, NULL, NULL),
             E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketBeginClientHandshake(c, NULL, 0, NULL, 0, NULL, 0, &out, &nout),
             E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req, nreq, &out, &nout),
             E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketEndServerHandshake(c), E_INVALIDARG);
    /* The pre-handshake aborts were no-ops: the session works. */
    CHECK_HR(WebSocketSend(c, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, NULL), S_OK);
    CHECK_HR(WebSocketReceive(s, NULL, NULL), S_OK);
    WebSocketDeleteHandle(c);
    WebSocketDeleteHandle(s);
}

/* §5/§6.5: the server's first Send / Receive / GetAction ends its handshake implicitly. */
static void test_server_implicit_end(void) {
    int which;
    for (which = 0; which < 3; which++) {
        WEB_SOCKET_HANDLE s = NULL;
        WEB_SOCKET_HTTP_HEADER req[4], *out = NULL;
        ULONG n = 0;
        ws_action a;
        CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &s), S_OK);
        CHECK_HR(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req, valid_request(req), &out, &n),
                 S_OK);
        if (which == 0) {
            CHECK_HR(WebSocketSend(s, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, NULL), S_OK);
        } else if (which == 1) {
            CHECK_HR(WebSocketReceive(s, NULL, NULL), S_OK);
        } else {
            a = ws_get(s, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
            CHECK_NO_ACTION(a);
        }
        CHECK_HR(WebSocketEndServerHandshake(s), S_OK);
        WebSocketDeleteHandle(s);
    }
}

/* ---- Handles (§6 common rules) ----------------------------------------------------------------- */

/* Every export on a handle that is not live: HRESULT ones return E_INVALIDARG, void ones do
 * nothing; the GetAction outputs say NO_ACTION. */
static void check_dead_handle(WEB_SOCKET_HANDLE h) {
    WEB_SOCKET_HTTP_HEADER req[4], resp[3], *out = (WEB_SOCKET_HTTP_HEADER *)WS_SENTINEL;
    ULONG n = 77;
    WEB_SOCKET_BUFFER b = ws_data_buffer("hello", 5);
    ws_action a;
    valid_request(req);
    resp[0] = ws_header("Connection", "Upgrade");
    resp[1] = ws_header("Upgrade", "websocket");
    resp[2] = ws_header("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK_HR(WebSocketBeginClientHandshake(h, NULL, 0, NULL, 0, NULL, 0, &out, &n), E_INVALIDARG);
    CHECK_HR(WebSocketEndClientHandshake(h, resp, 3, NULL, NULL, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketBeginServerHandshake(h, NULL, NULL, 0, req, 4, &out, &n), E_INVALIDARG);
    CHECK_HR(WebSocketEndServerHandshake(h), E_INVALIDARG);
    CHECK_HR(WebSocketSend(h, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketSend(h, WEB_SOCKET_CLOSE_BUFFER_TYPE, NULL, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketReceive(h, NULL, NULL), E_INVALIDARG);
    a = ws_get(h, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
    CHECK_ACTION_FAILED(a, E_INVALIDARG);
    a = ws_get(h, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_ACTION_FAILED(a, E_INVALIDARG);
    CHECK(out == (WEB_SOCKET_HTTP_HEADER *)WS_SENTINEL);
    CHECK_EQ(n, 77);
    WebSocketCompleteAction(h, NULL, 0);
    WebSocketCompleteAction(h, WS_SENTINEL, 100);
    WebSocketAbortHandle(h);
    WebSocketDeleteHandle(h);
}

static void test_stale_handles(void) {
    WEB_SOCKET_HANDLE c = NULL, s = NULL;
    PVOID token;
    ws_action a;
    CHECK(ws_open_pair(&c, &s));
    /* Leave a receive action outstanding, then delete (§10.4). */
    CHECK_HR(WebSocketReceive(s, NULL, NULL), S_OK);
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
    token = a.action_ctx;
    WebSocketDeleteHandle(c);
    WebSocketDeleteHandle(s);
    check_dead_handle(c);
    check_dead_handle(s);
    WebSocketCompleteAction(s, token, 1);
    check_dead_handle(s);
}

static void test_forged_handles(void) {
    check_dead_handle(NULL);
    check_dead_handle(WS_HANDLE_FROM(1));
    check_dead_handle(WS_HANDLE_FROM(0x1234));
    check_dead_handle(WS_HANDLE_FROM(-1));
    check_dead_handle(WS_HANDLE_FROM(&g_checks)); /* an address that is not a handle */
}

static void test_double_delete_and_reuse(void) {
    WEB_SOCKET_HANDLE h1 = NULL, h2 = NULL, many[64];
    WEB_SOCKET_HTTP_HEADER *out = NULL;
    ULONG n = 0;
    int i, j;
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &h1), S_OK);
    WebSocketDeleteHandle(h1);
    WebSocketDeleteHandle(h1);
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &h2), S_OK);
    CHECK(h2 != h1); /* a stale handle must not alias the new one */
    WebSocketDeleteHandle(h1);
    WebSocketAbortHandle(h1);
    CHECK_HR(WebSocketBeginClientHandshake(h1, NULL, 0, NULL, 0, NULL, 0, &out, &n), E_INVALIDARG);
    /* h2 survived the stale calls. */
    CHECK_HR(WebSocketBeginClientHandshake(h2, NULL, 0, NULL, 0, NULL, 0, &out, &n), S_OK);
    CHECK_EQ(n, 4);
    WebSocketDeleteHandle(h2);
    WebSocketDeleteHandle(h2);
    check_dead_handle(h2);

    /* Live handles are distinct, never NULL or all-ones (§2.1). */
    for (i = 0; i < 64; i++) {
        many[i] = NULL;
        CHECK_HR(i % 2 ? WebSocketCreateServerHandle(NULL, 0, &many[i])
                       : WebSocketCreateClientHandle(NULL, 0, &many[i]),
                 S_OK);
        CHECK(many[i] != NULL && many[i] != WS_HANDLE_FROM(-1));
        for (j = 0; j < i; j++) CHECK(many[i] != many[j]);
    }
    for (i = 0; i < 64; i += 2) WebSocketDeleteHandle(many[i]);
    for (i = 1; i < 64; i += 2) CHECK_HR(WebSocketEndServerHandshake(many[i]),
                                         E_INVALID_PROTOCOL_OPERATION);
    for (i = 0; i < 64; i += 2) check_dead_handle(many[i]);
    for (i = 1; i < 64; i += 2) WebSocketDeleteHandle(many[i]);
}

/* ---- GetGlobalProperty (§6.12) ----------------------------------------------------------------- */

static void test_global_property(void) {
    ULONG v = 0xDEAD, size = 4, versions[4] = {0xDEAD, 0xDEAD, 0xDEAD, 0xDEAD};
    unsigned char odd[9];
    uint32_t got;

    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, &v, &size),
             S_OK);
    CHECK_EQ(v, 30000);
    CHECK_EQ(size, 4);

    size = sizeof versions;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, versions, &size),
             S_OK);
    CHECK_EQ(size, 4);
    CHECK_EQ(versions[0], 13);
    CHECK_EQ(versions[1], 0xDEAD);

    /* Too small: ERROR_INSUFFICIENT_BUFFER, the size needed written back, value untouched. */
    v = 0xDEAD;
    size = 0;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, &v, &size),
             HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER));
    CHECK_EQ(size, 4);
    CHECK_EQ(v, 0xDEAD);
    size = 3;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, &v, &size),
             HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER));
    CHECK_EQ(size, 4);
    CHECK_EQ(v, 0xDEAD);

    /* NULL pointers. */
    size = 4;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, NULL, &size),
             E_INVALIDARG);
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, &v, NULL),
             E_INVALIDARG);
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, NULL, NULL),
             E_INVALIDARG);
    /* (NULL, &0) is the size query: the capacity check comes before the NULL check, so it
     * answers ERROR_INSUFFICIENT_BUFFER with the size needed (see the export's documentation). */
    size = 0;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, NULL, &size),
             HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER));
    CHECK_EQ(size, 4);

    /* Other types. */
    {
        int t;
        int types[8] = {0, 1, 2, 3, 4, 7, -1, 0x7FFFFFFF};
        for (t = 0; t < 8; t++) {
            v = 0xDEAD;
            size = 4;
            CHECK_HR(WebSocketGetGlobalProperty(WS_PT(types[t]), &v, &size), E_INVALIDARG);
            CHECK_EQ(v, 0xDEAD);
        }
    }

    /* Unaligned output. */
    memset(odd, 0xEE, sizeof odd);
    size = 8;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, odd + 1, &size),
             S_OK);
    memcpy(&got, odd + 1, 4);
    CHECK_EQ(got, 30000);
    CHECK_EQ(size, 4);
    CHECK_EQ(odd[0], 0xEE);
    CHECK_EQ(odd[5], 0xEE);
}

/* ---- Send / Receive / GetAction arguments ------------------------------------------------------- */

static void test_send_arguments(void) {
    WEB_SOCKET_HANDLE c = NULL, s = NULL;
    WEB_SOCKET_BUFFER b;
    static const unsigned char payload[200] = {0};
    uint32_t bad_types[6] = {0, 1, 0x7FFFFFFFu, 0x80000007u, 0x80000100u, 0xFFFFFFFFu};
    int i;
    ws_fifo wire;
    ws_action a;
    memset(&wire, 0, sizeof wire);
    CHECK(ws_open_pair(&c, &s));

    b = ws_data_buffer(payload, 5);
    for (i = 0; i < 6; i++) {
        CHECK_HR(WebSocketSend(s, WS_BT(bad_types[i]), &b, NULL), E_INVALIDARG);
        CHECK_HR(WebSocketSend(c, WS_BT(bad_types[i]), NULL, NULL), E_INVALIDARG);
    }
    b = ws_data_buffer(NULL, 5);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE, &b, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_PING_PONG_BUFFER_TYPE, &b, NULL), E_INVALIDARG);
    b = ws_close_buffer(1000, NULL, 3);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_CLOSE_BUFFER_TYPE, &b, NULL), E_INVALIDARG);
    /* Control payload limits. */
    b = ws_data_buffer(payload, 126);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_PING_PONG_BUFFER_TYPE, &b, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE, &b, NULL), E_INVALIDARG);
    b = ws_close_buffer(1000, payload, WEB_SOCKET_MAX_CLOSE_REASON_LENGTH + 1);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_CLOSE_BUFFER_TYPE, &b, NULL), E_INVALIDARG);
    b = ws_close_buffer(1005, payload, 1); /* 1005 = no payload: no reason allowed */
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_CLOSE_BUFFER_TYPE, &b, NULL), E_INVALIDARG);
    /* None of the refused sends was queued. */
    a = ws_get(s, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
    CHECK_NO_ACTION(a);
    a = ws_get(c, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
    CHECK_NO_ACTION(a);

    /* The limits themselves are accepted; NULL buffer = empty payload (§6.6, §16.2). */
    b = ws_data_buffer(payload, 125);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_PING_PONG_BUFFER_TYPE, &b, NULL), S_OK);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE, NULL, NULL), S_OK);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, NULL, NULL), S_OK);
    b = ws_data_buffer(payload, 0);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
    b = ws_close_buffer(1000, payload, WEB_SOCKET_MAX_CLOSE_REASON_LENGTH);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_CLOSE_BUFFER_TYPE, &b, NULL), S_OK);
    CHECK_EQ(ws_flush_sends(s, &wire, 2), 5);
    {
        unsigned char want[2 + 125 + 2 + 2 + 2 + 4 + 125];
        size_t n = 0;
        want[n++] = 0x89;
        want[n++] = 125;
        memset(want + n, 0, 125);
        n += 125;
        memcpy(want + n, "\x8a\x00\x81\x00\x82\x00\x88\x7d\x03\xe8", 10);
        n += 10;
        memset(want + n, 0, 123);
        n += 123;
        CHECK_MEM(ws_fifo_peek(&wire), ws_fifo_avail(&wire), want, n);
    }
    WebSocketDeleteHandle(c);
    WebSocketDeleteHandle(s);
    ws_fifo_free(&wire);
}

static void test_fragment_kind_switch(void) {
    WEB_SOCKET_HANDLE c = NULL, s = NULL;
    WEB_SOCKET_BUFFER b = ws_data_buffer("abc", 3);
    ws_fifo wire;
    memset(&wire, 0, sizeof wire);
    CHECK(ws_open_pair(&c, &s));
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE, &b, NULL), S_OK);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL),
             E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE, &b, NULL),
             E_INVALID_PROTOCOL_OPERATION);
    /* Control frames may go between fragments. */
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, NULL), S_OK);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE, &b, NULL), S_OK);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, NULL),
             E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
    CHECK_EQ(ws_flush_sends(s, &wire, 2), 5);
    CHECK_MEM(ws_fifo_peek(&wire), ws_fifo_avail(&wire),
              "\x01\x03"
              "abc"
              "\x89\x00\x80\x03"
              "abc"
              "\x02\x03"
              "abc"
              "\x80\x03"
              "abc",
              22);
    WebSocketDeleteHandle(c);
    WebSocketDeleteHandle(s);
    ws_fifo_free(&wire);
}

static void test_receive_arguments(void) {
    WEB_SOCKET_HANDLE c = NULL, s = NULL;
    WEB_SOCKET_BUFFER b = ws_data_buffer(NULL, 5);
    ws_action a;
    CHECK(ws_open_pair(&c, &s));
    CHECK_HR(WebSocketReceive(s, &b, NULL), E_INVALIDARG);
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_NO_ACTION(a); /* nothing was queued */
    WebSocketDeleteHandle(c);
    WebSocketDeleteHandle(s);
}

static void test_get_action_arguments(void) {
    WEB_SOCKET_HANDLE c = NULL, s = NULL;
    WEB_SOCKET_BUFFER bufs[2];
    ULONG count;
    WEB_SOCKET_ACTION action;
    WEB_SOCKET_BUFFER_TYPE type;
    PVOID app, ctx;
    int q;
    int queues[5] = {0, 4, -1, 0x7FFFFFFF, 0x103};
    ws_action a;
    CHECK(ws_open_pair(&c, &s));
    CHECK_HR(WebSocketReceive(s, NULL, (PVOID)&c), S_OK);

    for (q = 0; q < 5; q++) {
        a = ws_get(s, WS_Q(queues[q]), 2);
        CHECK_ACTION_FAILED(a, E_INVALIDARG);
    }
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 0);
    CHECK_ACTION_FAILED(a, E_INVALIDARG);

#define RESET()                                                                                  \
    do {                                                                                         \
        count = 2;                                                                               \
        action = (WEB_SOCKET_ACTION)99;                                                          \
        ctx = WS_SENTINEL;                                                                       \
    } while (0)
    RESET();
    CHECK_HR(WebSocketGetAction(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, NULL, &count, &action, &type,
                                &app, &ctx),
             E_INVALIDARG);
    CHECK_EQ(action, WEB_SOCKET_NO_ACTION);
    CHECK_EQ(count, 0);
    CHECK(ctx == NULL);
    RESET();
    CHECK_HR(WebSocketGetAction(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, bufs, NULL, &action, &type, &app,
                                &ctx),
             E_INVALIDARG);
    CHECK_EQ(action, WEB_SOCKET_NO_ACTION);
    CHECK(ctx == NULL);
    RESET();
    CHECK_HR(WebSocketGetAction(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, bufs, &count, NULL, &type, &app,
                                &ctx),
             E_INVALIDARG);
    CHECK_EQ(count, 0);
    CHECK(ctx == NULL);
    RESET();
    CHECK_HR(WebSocketGetAction(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, bufs, &count, &action, NULL, &app,
                                &ctx),
             E_INVALIDARG);
    CHECK_EQ(action, WEB_SOCKET_NO_ACTION);
    CHECK_EQ(count, 0);
    CHECK(ctx == NULL);
    RESET();
    CHECK_HR(WebSocketGetAction(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, bufs, &count, &action, &type, &app,
                                NULL),
             E_INVALIDARG);
    CHECK_EQ(action, WEB_SOCKET_NO_ACTION);
    CHECK_EQ(count, 0);
#undef RESET

    /* None of that consumed the pending receive; pvApplicationContext is optional. */
    count = 1;
    CHECK_HR(WebSocketGetAction(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, bufs, &count, &action, &type, NULL,
                                &ctx),
             S_OK);
    CHECK_EQ(action, WS_RECEIVE_FROM_NETWORK);
    CHECK_EQ(count, 1);
    CHECK(ctx != NULL);
    WebSocketDeleteHandle(c);
    WebSocketDeleteHandle(s);
}

/* ---- CompleteAction (§6.9, Q28) ----------------------------------------------------------------- */

static void test_complete_action_wrong_tokens(void) {
    WEB_SOCKET_HANDLE c = NULL, s = NULL, other_c = NULL, other_s = NULL;
    static const unsigned char key[4] = {1, 2, 3, 4};
    unsigned char frame[32];
    size_t flen = ws_build_frame(frame, 0x81, key, "Hello", 5);
    PVOID net, ind, foreign;
    ws_action a;
    CHECK(ws_open_pair(&c, &s));
    CHECK(ws_open_pair(&other_c, &other_s));

    /* A token of another handle. */
    CHECK_HR(WebSocketReceive(other_s, NULL, NULL), S_OK);
    a = ws_get(other_s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
    foreign = a.action_ctx;

    CHECK_HR(WebSocketReceive(s, NULL, NULL), S_OK);
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
    net = a.action_ctx;
    if (a.action != WS_RECEIVE_FROM_NETWORK || a.buffers[0].Data.ulBufferLength < flen) goto out;
    memcpy(a.buffers[0].Data.pbBuffer, frame, flen);
    /* Wrong tokens are ignored: the read is still outstanding afterwards. */
    WebSocketCompleteAction(s, NULL, (ULONG)flen);
    WebSocketCompleteAction(s, WS_SENTINEL, (ULONG)flen);
    WebSocketCompleteAction(s, foreign, (ULONG)flen);
    WebSocketCompleteAction(s, (PVOID)((uintptr_t)net + 1), (ULONG)flen);
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_NO_ACTION(a);
    WebSocketCompleteAction(s, net, (ULONG)flen);
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
    CHECK_MEM(a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength, "Hello", 5);
    ind = a.action_ctx;
    CHECK(ind != net);
    /* The old token again (with bytes): ignored, the INDICATE stays outstanding. */
    WebSocketCompleteAction(s, net, 100);
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_NO_ACTION(a);
    WebSocketCompleteAction(s, ind, 12345); /* ignored byte count for INDICATE */
    WebSocketCompleteAction(s, ind, 0);     /* already completed: ignored */
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_NO_ACTION(a);
    /* The next receive starts afresh: nothing buffered from the bogus completions. */
    CHECK_HR(WebSocketReceive(s, NULL, NULL), S_OK);
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
    WebSocketCompleteAction(s, net, 5);
    WebSocketCompleteAction(s, ind, 5);
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_NO_ACTION(a);
    /* The other handle's action is still outstanding and can be completed. */
    WebSocketCompleteAction(other_s, foreign, 0);
    a = ws_get(other_s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
    CHECK_EQ(a.type, WEB_SOCKET_CLOSE_BUFFER_TYPE); /* cancelled receive: {NULL, 0, 1006} */
    CHECK(a.buffers[0].CloseStatus.pbReason == NULL);
    CHECK_EQ(a.buffers[0].CloseStatus.ulReasonLength, 0);
    CHECK_EQ(a.buffers[0].CloseStatus.usStatus, 1006);
out:
    WebSocketDeleteHandle(c);
    WebSocketDeleteHandle(s);
    WebSocketDeleteHandle(other_c);
    WebSocketDeleteHandle(other_s);
}

static void test_complete_action_more_than_offered(void) {
    ULONG rbs = 256;
    WEB_SOCKET_PROPERTY p = ws_property(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &rbs, 4);
    WEB_SOCKET_HANDLE c = NULL, s = NULL;
    static const unsigned char key[4] = {9, 8, 7, 6};
    unsigned char payload[248], frame[256 + 14];
    size_t flen, i;
    WEB_SOCKET_BUFFER b;
    ws_action a;
    ws_fifo wire;
    memset(&wire, 0, sizeof wire);
    for (i = 0; i < sizeof payload; i++) payload[i] = (unsigned char)(i * 7);
    flen = ws_build_frame(frame, 0x82, key, payload, sizeof payload);
    CHECK_EQ(flen, 256);

    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &c), S_OK);
    CHECK_HR(WebSocketCreateServerHandle(&p, 1, &s), S_OK);
    CHECK(ws_handshake(c, s));

    /* RECEIVE_FROM_NETWORK: a count larger than the buffer is clamped to it. */
    CHECK_HR(WebSocketReceive(s, NULL, NULL), S_OK);
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
    CHECK_EQ(a.buffers[0].Data.ulBufferLength, 256);
    if (a.buffers[0].Data.ulBufferLength == 256) {
        memcpy(a.buffers[0].Data.pbBuffer, frame, 256);
        WebSocketCompleteAction(s, a.action_ctx, 0xFFFFFFFFu);
        a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_HR(a.hr, S_OK);
        CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
        CHECK_EQ(a.type, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE);
        CHECK_MEM(a.buffers[0].Data.pbBuffer, a.buffers[0].Data.ulBufferLength, payload, 248);
        WebSocketCompleteAction(s, a.action_ctx, 0);
        /* Nothing beyond the 256 bytes was taken as data: the next receive asks for bytes. */
        CHECK_HR(WebSocketReceive(s, NULL, NULL), S_OK);
        a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
        CHECK_HR(a.hr, S_OK);
        CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
        CHECK_EQ(a.buffers[0].Data.ulBufferLength, 256);
    }

    /* SEND_TO_NETWORK: more than offered is success. */
    b = ws_data_buffer("abc", 3);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
    a = ws_get(s, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
    CHECK_EQ(a.action, WS_SEND_TO_NETWORK);
    WebSocketCompleteAction(s, a.action_ctx, 1000000);
    a = ws_get(s, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
    CHECK_EQ(a.action, WS_INDICATE_SEND);
    WebSocketCompleteAction(s, a.action_ctx, 0);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
    CHECK_EQ(ws_flush_sends(s, &wire, 2), 1);
    CHECK_MEM(ws_fifo_peek(&wire), ws_fifo_avail(&wire), "\x82\x03"
                                                         "abc",
              5);
    WebSocketDeleteHandle(c);
    WebSocketDeleteHandle(s);
    ws_fifo_free(&wire);
}

/* ---- Close and abort rules (§6.6, §10.1, §10.2) ------------------------------------------------ */

static void test_close_rules(void) {
    WEB_SOCKET_HANDLE c = NULL, s = NULL;
    WEB_SOCKET_BUFFER b = ws_data_buffer("x", 1), cl = ws_close_buffer(1000, "bye", 3);
    ws_fifo c2s, s2c;
    ws_received r;
    memset(&c2s, 0, sizeof c2s);
    memset(&s2c, 0, sizeof s2c);
    CHECK(ws_open_pair(&c, &s));

    CHECK_HR(WebSocketSend(c, WEB_SOCKET_CLOSE_BUFFER_TYPE, &cl, NULL), S_OK);
    /* After the close is queued: no data, no second close; pings and pongs still go. */
    CHECK_HR(WebSocketSend(c, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, NULL),
             E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketSend(c, WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE, &b, NULL),
             E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketSend(c, WEB_SOCKET_CLOSE_BUFFER_TYPE, &cl, NULL), E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketSend(c, WEB_SOCKET_CLOSE_BUFFER_TYPE, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketSend(c, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, NULL), S_OK);
    CHECK_HR(WebSocketSend(c, WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE, NULL, NULL), S_OK);
    CHECK_EQ(ws_flush_sends(c, &c2s, 2), 3);

    /* The server sees the close; it may still send data, but not receive any more. */
    r = ws_receive(s, &c2s, &s2c, NULL);
    CHECK_HR(r.hr, S_OK);
    CHECK_EQ(r.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
    CHECK_EQ(r.status, 1000);
    CHECK_MEM(r.data, r.len, "bye", 3);
    ws_received_free(&r);
    CHECK_HR(WebSocketReceive(s, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_CLOSE_BUFFER_TYPE, NULL, NULL), S_OK);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, NULL),
             E_INVALID_PROTOCOL_OPERATION);
    CHECK_EQ(ws_flush_sends(s, &s2c, 2), 2);
    CHECK_MEM(ws_fifo_peek(&s2c), ws_fifo_avail(&s2c), "\x81\x01x\x88\x00", 5);

    /* The client still receives data after its own close (§10.1), then the close. */
    r = ws_receive(c, &s2c, NULL, NULL);
    CHECK_EQ(r.type, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE);
    CHECK_MEM(r.data, r.len, "x", 1);
    ws_received_free(&r);
    r = ws_receive(c, &s2c, NULL, NULL);
    CHECK_EQ(r.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
    CHECK_EQ(r.status, 1005);
    CHECK(r.reason_null);
    ws_received_free(&r);
    CHECK_HR(WebSocketReceive(c, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);
    WebSocketDeleteHandle(c);
    WebSocketDeleteHandle(s);
    ws_fifo_free(&c2s);
    ws_fifo_free(&s2c);
}

static void test_abort(void) {
    WEB_SOCKET_HANDLE c = NULL, s = NULL;
    WEB_SOCKET_BUFFER b = ws_data_buffer("payload", 7);
    int ctx_send = 1, ctx_send2 = 2, ctx_recv = 3, ctx_recv2 = 4;
    ws_action a, net;
    CHECK(ws_open_pair(&c, &s));

    /* One read outstanding, one send half-way, more queued. */
    CHECK_HR(WebSocketReceive(s, NULL, &ctx_recv), S_OK);
    CHECK_HR(WebSocketReceive(s, NULL, &ctx_recv2), S_OK);
    net = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_EQ(net.action, WS_RECEIVE_FROM_NETWORK);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, &ctx_send), S_OK);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, &ctx_send2), S_OK);

    WebSocketAbortHandle(s);
    WebSocketAbortHandle(s); /* idempotent */
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL),
             E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, NULL),
             E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketSend(s, WEB_SOCKET_CLOSE_BUFFER_TYPE, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);
    CHECK_HR(WebSocketReceive(s, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);

    /* .NET's drain: SEND queue then RECEIVE queue, one-slot arrays, complete with 0. */
    a = ws_get(s, WEB_SOCKET_SEND_ACTION_QUEUE, 1);
    CHECK_HR(a.hr, S_OK);
    CHECK_EQ(a.action, WS_INDICATE_SEND);
    CHECK_EQ(a.count, 0);
    CHECK(a.app_ctx == &ctx_send);
    CHECK_EQ(a.type, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE);
    WebSocketCompleteAction(s, a.action_ctx, 0);
    a = ws_get(s, WEB_SOCKET_SEND_ACTION_QUEUE, 1);
    CHECK_EQ(a.action, WS_INDICATE_SEND);
    CHECK(a.app_ctx == &ctx_send2);
    WebSocketCompleteAction(s, a.action_ctx, 0);
    a = ws_get(s, WEB_SOCKET_SEND_ACTION_QUEUE, 1);
    CHECK_NO_ACTION(a);

    /* The read handed out before the abort: nothing until it is completed (any count). */
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_NO_ACTION(a);
    WebSocketCompleteAction(s, net.action_ctx, 5);
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_HR(a.hr, S_OK);
    CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
    CHECK_EQ(a.count, 1);
    CHECK_EQ(a.type, WEB_SOCKET_CLOSE_BUFFER_TYPE);
    CHECK(a.app_ctx == &ctx_recv);
    CHECK(a.buffers[0].CloseStatus.pbReason == NULL);
    CHECK_EQ(a.buffers[0].CloseStatus.ulReasonLength, 0);
    CHECK_EQ(a.buffers[0].CloseStatus.usStatus, 1006);
    WebSocketCompleteAction(s, a.action_ctx, 0);
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_EQ(a.action, WS_INDICATE_RECEIVE);
    CHECK(a.app_ctx == &ctx_recv2);
    CHECK_EQ(a.buffers[0].CloseStatus.usStatus, 1006);
    WebSocketCompleteAction(s, a.action_ctx, 0);
    a = ws_get(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_NO_ACTION(a);
    a = ws_get(s, WEB_SOCKET_ALL_ACTION_QUEUE, 2);
    CHECK_NO_ACTION(a);

    /* The peer is unaffected. */
    CHECK_HR(WebSocketSend(c, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
    WebSocketDeleteHandle(c);
    WebSocketDeleteHandle(s);
}

/* An abort while a SEND_TO_NETWORK is outstanding: its completion (any count) ends the send. */
static void test_abort_with_send_outstanding(void) {
    WEB_SOCKET_HANDLE c = NULL, s = NULL;
    static unsigned char big[100000];
    WEB_SOCKET_BUFFER b = ws_data_buffer(big, sizeof big);
    int ctx = 7;
    ws_action a, out;
    CHECK(ws_open_pair(&c, &s));
    CHECK_HR(WebSocketSend(c, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, &ctx), S_OK);
    out = ws_get(c, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
    CHECK_EQ(out.action, WS_SEND_TO_NETWORK);
    WebSocketAbortHandle(c);
    a = ws_get(c, WEB_SOCKET_SEND_ACTION_QUEUE, 1);
    CHECK_NO_ACTION(a);
    WebSocketCompleteAction(c, out.action_ctx, 3);
    a = ws_get(c, WEB_SOCKET_SEND_ACTION_QUEUE, 1);
    CHECK_EQ(a.action, WS_INDICATE_SEND);
    CHECK(a.app_ctx == &ctx);
    WebSocketCompleteAction(c, a.action_ctx, 0);
    a = ws_get(c, WEB_SOCKET_SEND_ACTION_QUEUE, 1);
    CHECK_NO_ACTION(a);
    WebSocketDeleteHandle(c);
    WebSocketDeleteHandle(s);
}

/* Delete with operations and actions outstanding (§10.4): no leak, no crash (valgrind). */
static void test_delete_with_work_outstanding(void) {
    WEB_SOCKET_HANDLE c = NULL, s = NULL;
    static unsigned char big[70000];
    WEB_SOCKET_BUFFER b = ws_data_buffer(big, sizeof big);
    ws_action a;
    CHECK(ws_open_pair(&c, &s));
    CHECK_HR(WebSocketSend(c, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
    CHECK_HR(WebSocketSend(c, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &b, NULL), S_OK);
    CHECK_HR(WebSocketReceive(c, NULL, NULL), S_OK);
    CHECK_HR(WebSocketReceive(c, NULL, NULL), S_OK);
    a = ws_get(c, WEB_SOCKET_SEND_ACTION_QUEUE, 2);
    CHECK_EQ(a.action, WS_SEND_TO_NETWORK);
    a = ws_get(c, WEB_SOCKET_RECEIVE_ACTION_QUEUE, 1);
    CHECK_EQ(a.action, WS_RECEIVE_FROM_NETWORK);
    WebSocketDeleteHandle(c);
    WebSocketCompleteAction(c, a.action_ctx, 10);
    WebSocketDeleteHandle(s);
}

int main(int argc, char **argv) {
    ws_init(argc, argv);
    RUN(test_create_null_arguments);
    RUN(test_property_values);
    RUN(test_buffer_size_ranges);
    RUN(test_property_types);
    RUN(test_allocated_buffer);
    RUN(test_begin_client_arguments);
    RUN(test_begin_server_arguments);
    RUN(test_request_headers);
    RUN(test_response_headers);
    RUN(test_wrong_state);
    RUN(test_server_implicit_end);
    RUN(test_stale_handles);
    RUN(test_forged_handles);
    RUN(test_double_delete_and_reuse);
    RUN(test_global_property);
    RUN(test_send_arguments);
    RUN(test_fragment_kind_switch);
    RUN(test_receive_arguments);
    RUN(test_get_action_arguments);
    RUN(test_complete_action_wrong_tokens);
    RUN(test_complete_action_more_than_offered);
    RUN(test_close_rules);
    RUN(test_abort);
    RUN(test_abort_with_send_outstanding);
    RUN(test_delete_with_work_outstanding);
    return ws_finish("misuse");
}
