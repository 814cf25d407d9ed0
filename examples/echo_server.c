/*
 * echo_server.c - a WebSocket echo server on top of websocket.h (libwebsocket.so / websocket.dll).
 *
 *   echo_server [--addr HOST:PORT] [--max-message BYTES] [--deflate] [--verbose]
 *
 * One thread per TCP connection. Each thread reads the HTTP request itself, hands the request
 * headers to WebSocketBeginServerHandshake, writes "101 Switching Protocols" with the headers the
 * library returns, and then drives the handle the way .NET's HttpListener does (spec §12):
 *
 *   receive: WebSocketReceive(h, NULL, NULL), then WebSocketGetAction on the RECEIVE queue with a
 *            one-slot array until NO_ACTION: read from the socket for RECEIVE_FROM_NETWORK, write
 *            the library's pong for SEND_TO_NETWORK, take the result of INDICATE_RECEIVE_COMPLETE;
 *   send:    WebSocketSend(h, type, &buffer, ctx), then WebSocketGetAction on the SEND queue with
 *            a two-slot array until NO_ACTION: write both buffers for SEND_TO_NETWORK, done at
 *            INDICATE_SEND_COMPLETE.
 *
 * Every message is echoed whole with its type (FRAGMENT pieces are reassembled first, up to
 * --max-message bytes; a longer message is answered with close 1009). A close from the peer is
 * answered with the same status and reason, then the server closes the TCP connection. When
 * WebSocketGetAction reports a protocol violation the handle is aborted, both queues are drained,
 * the handle is deleted and the TCP connection closed (no close frame, as .NET does).
 *
 * A plain GET of "/" returns a small HTML page whose script talks to this server; other paths 404.
 * Ctrl-C (SIGINT, SIGTERM) stops accepting, sends close 1001 on every open connection, waits a
 * little for the answers and exits with status 0.
 */
#include "wsloop.h" /* net.h, websocket.h and the action loops shared with client.c */

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A string literal and its length, for the (pointer, length) arguments of send_close. */
#define LITERAL(s) (s), (ULONG)(sizeof(s) - 1)
#define DEFAULT_ADDR "127.0.0.1:9001"
#define DEFAULT_MAX_MESSAGE (64u * 1024u * 1024u)
#define RECEIVE_BUFFER_SIZE 16384 /* .NET's default; the library's own default is 4096 */
#define MAX_REQUEST 16384         /* bytes of HTTP request head */
#define MAX_HEADERS 64
#define POLL_MS 200               /* how often a waiting reader looks at the stop flag */
#define CLOSE_WAIT_MS 5000        /* how long we wait for the peer's close after ours */
#define REQUEST_WAIT_MS 10000     /* how long a new connection may take to send its request */
#define SEND_WAIT_MS 2000         /* how long a write may make no progress (peer not reading) */

static const char INDEX_HTML[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<title>WebSocket echo</title>\n"
    "<style>\n"
    "  body { font: 16px/1.4 sans-serif; margin: 2em auto; max-width: 40em; color: #222; }\n"
    "  h1 { font-size: 1.4em; }\n"
    "  form, .row { display: flex; gap: .5em; margin: .5em 0; }\n"
    "  input { flex: 1; padding: .4em; font: inherit; }\n"
    "  button { padding: .4em 1em; font: inherit; }\n"
    "  #status { font-weight: bold; }\n"
    "  #log { list-style: none; padding: 0; border-top: 1px solid #ccc; }\n"
    "  #log li { padding: .3em 0; border-bottom: 1px solid #eee; white-space: pre-wrap; word-break: break-all; }\n"
    "  .sent::before { content: '\\2192  sent: '; color: #888; }\n"
    "  .echo::before { content: '\\2190  echo: '; color: #080; }\n"
    "  .info { color: #a50; }\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<h1>WebSocket echo</h1>\n"
    "<p>Server: <code id=\"url\"></code> &mdash; status: <span id=\"status\">connecting</span>"
    " &mdash; compression: <span id=\"compression\">?</span></p>\n"
    "<form id=\"form\">\n"
    "  <input id=\"message\" autocomplete=\"off\" placeholder=\"Type a message\" autofocus>\n"
    "  <button id=\"send\" type=\"submit\">Send</button>\n"
    "</form>\n"
    "<div class=\"row\">\n"
    "  <input id=\"reason\" value=\"bye\" placeholder=\"Close reason\">\n"
    "  <button id=\"close\" type=\"button\">Close</button>\n"
    "</div>\n"
    "<ul id=\"log\"></ul>\n"
    "<script>\n"
    "'use strict';\n"
    "const url = 'ws://' + location.host + '/';\n"
    "const $ = (id) => document.getElementById(id);\n"
    "$('url').textContent = url;\n"
    "function log(cls, text) {\n"
    "  const li = document.createElement('li');\n"
    "  li.className = cls;\n"
    "  li.textContent = text;\n"
    "  $('log').appendChild(li);\n"
    "}\n"
    "const ws = new WebSocket(url);\n"
    "ws.binaryType = 'arraybuffer';\n"
    "ws.onopen = () => {\n"
    "  $('status').textContent = 'open';\n"
    "  $('compression').textContent = ws.extensions || 'none';\n"
    "};\n"
    "ws.onerror = () => log('info', 'error');\n"
    "ws.onmessage = (e) => log('echo', typeof e.data === 'string' ? e.data\n"
    "                                  : '[' + e.data.byteLength + ' bytes]');\n"
    "ws.onclose = (e) => {\n"
    "  const text = 'closed, code ' + e.code + (e.reason ? ', reason \"' + e.reason + '\"' : '');\n"
    "  $('status').textContent = text;\n"
    "  log('info', text);\n"
    "};\n"
    "$('form').onsubmit = (e) => {\n"
    "  e.preventDefault();\n"
    "  const text = $('message').value;\n"
    "  if (ws.readyState !== WebSocket.OPEN) { log('info', 'not open'); return; }\n"
    "  ws.send(text);\n"
    "  log('sent', text);\n"
    "  $('message').value = '';\n"
    "};\n"
    "$('close').onclick = () => ws.close(1000, $('reason').value);\n"
    "</script>\n"
    "</body>\n"
    "</html>\n";

/* Set from the Ctrl-C / SIGTERM hook; every thread polls it. */
static volatile sig_atomic_t stopping = 0;

static void on_interrupt(void)
{
    stopping = 1;
}

struct server {
    size_t max_message;
    int verbose;
    int deflate; /* --deflate: negotiate permessage-deflate (an extension beyond Windows) */
    net_mutex lock; /* guards active and next_id */
    int active;     /* connection threads still running */
    int next_id;
};

struct conn {
    struct server *srv;
    int id;
    net_socket sock;
    struct ws_io io;                /* the handle and this connection's byte I/O */
    int close_sent;                 /* our close frame is queued */
    unsigned long long close_deadline;
    int eof;                        /* the socket ended or failed */
    /* the HTTP request; bytes after its head belong to the WebSocket stream */
    char head[MAX_REQUEST];
    size_t have;                    /* bytes in head[] */
    size_t head_len;                /* request head, including the blank line */
    size_t extra;                   /* next byte of head[] not yet given to the library */
    /* the message being reassembled */
    struct ws_message msg;
};

/* ---- network helpers -------------------------------------------------------------------- */

static int send_close(struct conn *c, USHORT status, const char *reason, ULONG reason_len);

/* Fills the buffer of a RECEIVE_FROM_NETWORK action: first the bytes that came in after the
 * HTTP request, then the socket. While it waits it watches the stop flag (and then starts the
 * close handshake with 1001) and, once our close is out, the deadline for the peer's answer.
 * Returns the number of bytes read, 0 at end of stream or when giving up. */
static ULONG conn_read(void *ctx, void *buf, ULONG len)
{
    struct conn *c = (struct conn *)ctx;
    int errors = 0;
    if (c->extra < c->have) {
        size_t n = c->have - c->extra;
        if (n > len)
            n = len;
        memcpy(buf, c->head + c->extra, n);
        c->extra += n;
        return (ULONG)n;
    }
    while (!c->eof) {
        int r;
        if (stopping && !c->close_sent && send_close(c, 1001, LITERAL("server shutting down")) != 0)
            break;
        if (c->close_sent && net_now_ms() > c->close_deadline)
            break; /* the peer never answered our close */
        r = net_wait_readable(c->sock, POLL_MS);
        if (r > 0) {
            long n = net_recv(c->sock, buf, len);
            if (n > 0)
                return (ULONG)n;
            break;
        }
        if (r < 0 && ++errors > 100)
            break; /* select keeps failing (EINTR is retried) */
    }
    c->eof = 1;
    return 0;
}

/* Writes the buffers of a SEND_TO_NETWORK action in order. Returns the byte total, or 0 if the
 * socket failed (which cancels the send). */
static ULONG conn_write(void *ctx, const WEB_SOCKET_BUFFER *buffers, ULONG count)
{
    struct conn *c = (struct conn *)ctx;
    ULONG total;
    if (c->eof)
        return 0; /* the socket already failed: write nothing more */
    if (ws_write_buffers(c->sock, buffers, count, &total) != 0) {
        c->eof = 1;
        return 0;
    }
    return total;
}

/* ---- the send loop ---------------------------------------------------------------------- */

/* Sends a close frame (status 1005: one without payload) and starts the wait for the answer. */
static int send_close(struct conn *c, USHORT status, const char *reason, ULONG reason_len)
{
    int r;
    c->close_sent = 1;
    c->close_deadline = net_now_ms() + CLOSE_WAIT_MS;
    r = ws_send_close_frame(&c->io, status, reason, reason_len);
    if (c->srv->verbose)
        fprintf(stderr, "echo_server: conn %d: sent close %u\n", c->id, (unsigned)status);
    return r;
}

/* ---- the receive loop ------------------------------------------------------------------- */

static int is_final(WEB_SOCKET_BUFFER_TYPE type)
{
    return type == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE || type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE;
}

/* The WebSocket part of a connection, after the 101 response. Returns 1 when the close
 * handshake completed, 0 when the connection was aborted. */
static int run_session(struct conn *c)
{
    static BYTE empty[1];
    for (;;) {
        struct ws_rx_result r;
        enum ws_rx k;
        memset(&r, 0, sizeof r);
        k = ws_receive_one(&c->io, &c->msg, &r);
        if (k == WS_RX_FAILED) {
            fprintf(stderr, "echo_server: conn %d: receive failed: 0x%08lx; aborting\n", c->id,
                    (unsigned long)(ULONG)r.hr);
            return 0;
        }
        if (k == WS_RX_PONG)
            continue;
        if (k == WS_RX_CLOSE) {
            if (c->eof && r.status == WEB_SOCKET_ABORTED_CLOSE_STATUS) {
                if (c->srv->verbose || !c->close_sent)
                    fprintf(stderr, "echo_server: conn %d: connection lost without a close\n",
                            c->id);
                return 0;
            }
            if (c->srv->verbose)
                fprintf(stderr, "echo_server: conn %d: close %u \"%s\" received\n", c->id,
                        (unsigned)r.status, r.reason);
            if (!c->close_sent) {
                /* Echo the peer's status and reason (1005: a close frame without payload). */
                if (send_close(c, r.status, r.has_reason ? r.reason : "", r.has_reason ? r.reason_len : 0) != 0)
                    return 0;
            }
            return 1;
        }
        /* WS_RX_DATA: a message over the limit is refused at once, not read to its end. */
        if (c->msg.too_big && !c->close_sent) {
            fprintf(stderr, "echo_server: conn %d: message over %lu bytes; closing with 1009\n",
                    c->id, (unsigned long)c->srv->max_message);
            if (send_close(c, WEB_SOCKET_MESSAGE_TOO_BIG_CLOSE_STATUS, LITERAL("message too big")) != 0)
                return 0;
        }
        if (!is_final(r.type))
            continue;
        if (!c->msg.too_big && !c->close_sent) {
            WEB_SOCKET_BUFFER b;
            b.Data.pbBuffer = c->msg.len > 0 ? c->msg.data : empty;
            b.Data.ulBufferLength = (ULONG)c->msg.len;
            if (ws_send_op(&c->io, c->msg.binary ? WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE
                                         : WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE,
                        &b) != 0)
                return 0;
        }
        c->msg.len = 0;
        c->msg.too_big = 0;
        if (c->msg.cap > 1024 * 1024) { /* do not keep a large buffer for an idle connection */
            free(c->msg.data);
            c->msg.data = NULL;
            c->msg.cap = 0;
        }
    }
}

/* ---- HTTP ------------------------------------------------------------------------------- */

struct request {
    char method[16];
    char path[1024];
    WEB_SOCKET_HTTP_HEADER headers[MAX_HEADERS];
    ULONG count;
};

/* Reads until the end of the request head. Returns 0, or -1 (closed, too long, too slow). */
static int read_request(struct conn *c)
{
    unsigned long long deadline = net_now_ms() + REQUEST_WAIT_MS;
    while (!stopping && net_now_ms() < deadline) {
        char *end;
        int r;
        long n;
        c->head[c->have] = '\0';
        end = strstr(c->head, "\r\n\r\n");
        if (end != NULL) {
            c->head_len = (size_t)(end - c->head) + 4;
            c->extra = c->head_len;
            return 0;
        }
        if (c->have >= sizeof c->head - 1)
            return -1;
        r = net_wait_readable(c->sock, POLL_MS);
        if (r <= 0)
            continue;
        n = net_recv(c->sock, c->head + c->have, sizeof c->head - 1 - c->have);
        if (n <= 0)
            return -1;
        c->have += (size_t)n;
    }
    return -1;
}

static int ci_equal(const char *a, size_t alen, const char *b)
{
    size_t i;
    if (alen != strlen(b))
        return 0;
    for (i = 0; i < alen; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* Splits the request head into method, path and headers (pointing into c->head). */
static int parse_request(struct conn *c, struct request *req)
{
    char *line = c->head, *eol = strstr(line, "\r\n");
    char *sp1, *sp2;
    memset(req, 0, sizeof *req);
    if (eol == NULL)
        return -1;
    *eol = '\0';
    sp1 = strchr(line, ' ');
    sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 == NULL || sp2 == NULL || (size_t)(sp1 - line) >= sizeof req->method ||
        (size_t)(sp2 - sp1 - 1) >= sizeof req->path || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return -1;
    memcpy(req->method, line, (size_t)(sp1 - line));
    memcpy(req->path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    for (line = eol + 2; line < c->head + c->head_len - 2; line = eol + 2) {
        char *colon, *value, *value_end;
        WEB_SOCKET_HTTP_HEADER *h;
        eol = strstr(line, "\r\n");
        colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL || colon == line || line[0] == ' ' || line[0] == '\t')
            return -1; /* no name, or an obsolete folded line */
        if (req->count == MAX_HEADERS)
            return -1;
        value = colon + 1;
        value_end = eol;
        while (value < value_end && (*value == ' ' || *value == '\t'))
            value++;
        while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
            value_end--;
        h = &req->headers[req->count++];
        h->pcName = line;
        h->ulNameLength = (ULONG)(colon - line);
        h->pcValue = value;
        h->ulValueLength = (ULONG)(value_end - value);
    }
    return 0;
}

/* Does a header (comma list, possibly repeated) contain the token? */
static int has_token(const struct request *req, const char *name, const char *token)
{
    ULONG i;
    for (i = 0; i < req->count; i++) {
        const WEB_SOCKET_HTTP_HEADER *h = &req->headers[i];
        const char *p = h->pcValue, *end = h->pcValue + h->ulValueLength;
        if (!ci_equal(h->pcName, h->ulNameLength, name))
            continue;
        while (p < end) {
            const char *item_end = memchr(p, ',', (size_t)(end - p));
            const char *a = p, *b;
            if (item_end == NULL)
                item_end = end;
            b = item_end;
            while (a < b && (*a == ' ' || *a == '\t'))
                a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                b--;
            if (ci_equal(a, (size_t)(b - a), token))
                return 1;
            p = item_end + 1;
        }
    }
    return 0;
}

static void send_text_response(struct conn *c, const char *status, const char *extra_headers,
                               const char *content_type, const char *body, int with_body)
{
    char head[512];
    size_t body_len = strlen(body);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %lu\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
                     status, content_type, (unsigned long)body_len, extra_headers);
    if (net_send_all(c->sock, head, (size_t)n) == 0 && with_body)
        net_send_all(c->sock, body, body_len);
}

/* Writes "101 Switching Protocols" and the library's response headers. */
static int send_101(struct conn *c, const WEB_SOCKET_HTTP_HEADER *headers, ULONG count)
{
    char out[4096];
    size_t len = 0;
    ULONG i;
    int n = snprintf(out, sizeof out, "HTTP/1.1 101 Switching Protocols\r\n");
    len = (size_t)n;
    for (i = 0; i < count; i++) {
        n = snprintf(out + len, sizeof out - len, "%.*s: %.*s\r\n", (int)headers[i].ulNameLength,
                     headers[i].pcName, (int)headers[i].ulValueLength, headers[i].pcValue);
        if (n < 0 || (size_t)n >= sizeof out - len)
            return -1;
        len += (size_t)n;
    }
    if (len + 2 >= sizeof out)
        return -1;
    memcpy(out + len, "\r\n", 2);
    return net_send_all(c->sock, out, len + 2);
}

/* Closes the TCP connection after the close handshake: the server closes first (RFC 6455 §7.1.1).
 * FIN first, then a short wait for the client's FIN so that nothing is reset. */
static void close_gracefully(struct conn *c)
{
    unsigned long long deadline = net_now_ms() + 2000;
    char sink[4096];
    net_shutdown_send(c->sock);
    while (net_now_ms() < deadline) {
        int r = net_wait_readable(c->sock, 100);
        if (r < 0 || (r > 0 && net_recv(c->sock, sink, sizeof sink) <= 0))
            break;
    }
    net_close(c->sock);
}

static void handle_connection(struct conn *c)
{
    struct request req;
    WEB_SOCKET_HTTP_HEADER *response = NULL;
    ULONG response_count = 0;
    ULONG rbs = RECEIVE_BUFFER_SIZE;
    WEB_SOCKET_PROPERTY props[2];
    WEB_SOCKET_DEFLATE_SETTINGS deflate;
    ULONG nprops = 1;
    HRESULT hr;
    int clean;

    if (read_request(c) != 0 || parse_request(c, &req) != 0) {
        send_text_response(c, "400 Bad Request", "", "text/plain", "bad request\n", 1);
        close_gracefully(c);
        return;
    }
    if (!has_token(&req, "Upgrade", "websocket")) {
        int get = strcmp(req.method, "GET") == 0, head = strcmp(req.method, "HEAD") == 0;
        if (!get && !head)
            send_text_response(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n", "text/plain",
                               "method not allowed\n", 1);
        else if (strcmp(req.path, "/") == 0 || strcmp(req.path, "/index.html") == 0)
            send_text_response(c, "200 OK", "", "text/html; charset=utf-8", INDEX_HTML, get);
        else
            send_text_response(c, "404 Not Found", "", "text/plain", "not found\n", get);
        close_gracefully(c);
        return;
    }
    if (strcmp(req.method, "GET") != 0) {
        send_text_response(c, "405 Method Not Allowed", "Allow: GET\r\n", "text/plain",
                           "method not allowed\n", 1);
        close_gracefully(c);
        return;
    }

    props[0].Type = WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE;
    props[0].pvValue = &rbs;
    props[0].ulValueSize = sizeof rbs;
    if (c->srv->deflate) {
        /* Accept the first valid permessage-deflate offer as it is (32 KiB windows, context
         * takeover unless the client asks otherwise). */
        memset(&deflate, 0, sizeof deflate);
        props[1].Type = WEB_SOCKET_PERMESSAGE_DEFLATE_PROPERTY_TYPE;
        props[1].pvValue = &deflate;
        props[1].ulValueSize = sizeof deflate;
        nprops = 2;
    }
    hr = WebSocketCreateServerHandle(props, nprops, &c->io.h);
    if (FAILED(hr)) {
        fprintf(stderr, "echo_server: WebSocketCreateServerHandle failed: 0x%08lx\n",
                (unsigned long)(ULONG)hr);
        send_text_response(c, "500 Internal Server Error", "", "text/plain", "error\n", 1);
        close_gracefully(c);
        return;
    }
    /* No subprotocol and no application extension is selected. Without --deflate a browser's
     * permessage-deflate offer is declined by not answering it; with it the library answers. */
    hr = WebSocketBeginServerHandshake(c->io.h, NULL, NULL, 0, req.headers, req.count, &response,
                                       &response_count);
    if (FAILED(hr)) {
        if (hr == E_PROTOCOL_VERSION_NOT_SUPPORTED)
            send_text_response(c, "426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n",
                               "text/plain", "unsupported WebSocket version\n", 1);
        else
            send_text_response(c, "400 Bad Request", "", "text/plain",
                               "bad WebSocket handshake\n", 1);
        if (c->srv->verbose)
            fprintf(stderr, "echo_server: conn %d: handshake refused: 0x%08lx\n", c->id,
                    (unsigned long)(ULONG)hr);
        WebSocketDeleteHandle(c->io.h);
        close_gracefully(c);
        return;
    }
    if (send_101(c, response, response_count) != 0) {
        WebSocketDeleteHandle(c->io.h);
        net_close(c->sock);
        return;
    }
    hr = WebSocketEndServerHandshake(c->io.h);
    if (FAILED(hr)) {
        fprintf(stderr, "echo_server: WebSocketEndServerHandshake failed: 0x%08lx\n",
                (unsigned long)(ULONG)hr);
        WebSocketDeleteHandle(c->io.h);
        net_close(c->sock);
        return;
    }
    if (c->srv->verbose)
        fprintf(stderr, "echo_server: conn %d: open %s\n", c->id, req.path);

    clean = run_session(c);
    if (!clean)
        ws_abort_and_drain(c->io.h);
    WebSocketDeleteHandle(c->io.h);
    c->io.h = NULL;
    if (clean)
        close_gracefully(c);
    else
        net_close(c->sock);
    if (c->srv->verbose)
        fprintf(stderr, "echo_server: conn %d: %s\n", c->id, clean ? "closed" : "aborted");
}

static void connection_thread(void *arg)
{
    struct conn *c = (struct conn *)arg;
    struct server *srv = c->srv;
    handle_connection(c);
    free(c->msg.data);
    free(c);
    net_mutex_lock(&srv->lock);
    srv->active--;
    net_mutex_unlock(&srv->lock);
}

/* ---- main ------------------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: echo_server [--addr HOST:PORT] [--max-message BYTES] [--deflate] [--verbose]\n"
            "  --addr HOST:PORT      address to listen on (default " DEFAULT_ADDR
            "; port 0 picks a free port)\n"
            "  --max-message BYTES   longest message echoed; longer ones get close 1009\n"
            "                        (default %u)\n"
            "  --deflate             negotiate permessage-deflate (RFC 7692) when offered\n"
            "  --verbose             log connections to stderr\n"
            "Prints \"listening on http://HOST:PORT/\" when ready; Ctrl-C stops it.\n",
            DEFAULT_MAX_MESSAGE);
}

int main(int argc, char **argv)
{
    struct server srv;
    const char *addr = DEFAULT_ADDR;
    char bound[300];
    net_socket listener;
    unsigned long long deadline;
    int i;

    memset(&srv, 0, sizeof srv);
    srv.max_message = DEFAULT_MAX_MESSAGE;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--addr") == 0 && i + 1 < argc) {
            addr = argv[++i];
        } else if (strcmp(argv[i], "--max-message") == 0 && i + 1 < argc) {
            char *end;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (*end != '\0' || v == 0 || v > 0xFFFFFFFFUL) {
                fprintf(stderr, "echo_server: bad --max-message\n");
                return 2;
            }
            srv.max_message = (size_t)v;
        } else if (strcmp(argv[i], "--deflate") == 0) {
            srv.deflate = 1;
        } else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            srv.verbose = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }

    if (net_init() != 0) {
        fprintf(stderr, "echo_server: socket start-up failed\n");
        return 1;
    }
    listener = net_listen(addr, bound, sizeof bound);
    if (listener == NET_INVALID_SOCKET) {
        fprintf(stderr, "echo_server: cannot listen on %s\n", addr);
        net_cleanup();
        return 1;
    }
    net_mutex_init(&srv.lock);
    net_on_interrupt(on_interrupt);
    printf("listening on http://%s/\n", bound);
    fflush(stdout);

    while (!stopping) {
        struct conn *c;
        net_socket s;
        if (net_wait_readable(listener, POLL_MS) <= 0)
            continue;
        s = net_accept(listener);
        if (s == NET_INVALID_SOCKET)
            continue;
        /* A peer that stops reading fails its connection instead of pinning its thread. */
        net_set_send_timeout(s, SEND_WAIT_MS);
        c = (struct conn *)calloc(1, sizeof *c);
        if (c == NULL) {
            net_close(s);
            continue;
        }
        c->srv = &srv;
        c->sock = s;
        net_mutex_lock(&srv.lock);
        c->id = ++srv.next_id;
        srv.active++;
        net_mutex_unlock(&srv.lock);
        c->io.ctx = c;
        c->io.read = conn_read;
        c->io.write = conn_write;
        snprintf(c->io.who, sizeof c->io.who, "echo_server: conn %d", c->id);
        c->msg.max = srv.max_message;
        if (net_thread_start(NULL, connection_thread, c) != 0) {
            net_mutex_lock(&srv.lock);
            srv.active--;
            net_mutex_unlock(&srv.lock);
            net_close(s);
            free(c);
        }
    }

    /* Each connection thread sees the flag, sends close 1001 and waits for the answer. */
    net_close(listener);
    fprintf(stderr, "echo_server: shutting down\n");
    deadline = net_now_ms() + CLOSE_WAIT_MS + 5000;
    for (;;) {
        int active;
        net_mutex_lock(&srv.lock);
        active = srv.active;
        net_mutex_unlock(&srv.lock);
        if (active == 0)
            break;
        if (net_now_ms() > deadline) {
            fprintf(stderr, "echo_server: %d connection(s) still open; exiting anyway\n", active);
            return 1;
        }
        net_sleep_ms(20);
    }
    net_mutex_destroy(&srv.lock);
    net_cleanup();
    return 0;
}
