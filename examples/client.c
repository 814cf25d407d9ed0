/*
 * client.c - a WebSocket client on top of websocket.h (libwebsocket.so / websocket.dll).
 *
 *   client [--binary] [--close CODE[:REASON]] [--echo] [--deflate] ws://HOST[:PORT][/PATH] [MESSAGE...]
 *
 * Connects, performs the opening handshake (WebSocketBeginClientHandshake gives the headers to
 * add to the HTTP request; the 101 status line is checked here; the response headers go to
 * WebSocketEndClientHandshake), then sends every MESSAGE (or, with none, every line of standard
 * input) and prints every message that comes back, one line each:
 *
 *   text: <the text>
 *   binary: <N> bytes
 *
 * At the end of the input it waits until as many messages came back as were sent (at most 10 s:
 * an echo server's replies), then closes with status 1000 (or --close CODE[:REASON]; CODE 1005 sends
 * a close frame without payload) and prints the close the server answered with:
 *
 *   close: <status> <reason>
 *
 * With --echo it sends nothing of its own: every message received is sent back with the same
 * type until the server closes (the "client role" of a conformance test harness). A close
 * started by the server is answered with the same status and reason.
 *
 * Exit status: 0 when the close handshake completed, 1 otherwise, 2 for bad arguments.
 *
 * Two threads drive the handle, like .NET's ClientWebSocket over websocket.dll (spec §12): the
 * receiver runs WebSocketReceive + GetAction(RECEIVE queue, one slot) and writes the library's
 * pongs; the main thread sends with WebSocketSend + GetAction(SEND queue, two slots). Only one
 * send operation runs at a time (send_gate), as in .NET. The library lets only one
 * SEND_TO_NETWORK be outstanding, so the two threads never write to the socket at once.
 */
#include "wsloop.h" /* net.h, websocket.h and the action loops shared with echo_server.c */

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUFFER_SIZE 16384      /* receive and send buffer size (.NET's defaults) */
#define MAX_RESPONSE 16384     /* bytes of HTTP response head */
#define MAX_HEADERS 64
#define MAX_MESSAGE (256u * 1024u * 1024u)
#define POLL_MS 200
#define CLOSE_WAIT_MS 5000     /* how long we wait for the server's close after ours */
#define REPLY_WAIT_MS 10000    /* how long we wait for the replies before closing */

static volatile sig_atomic_t stopping = 0;

static void on_interrupt(void)
{
    stopping = 1;
}

struct client {
    net_socket sock;
    struct ws_io io; /* the handle and this client's byte I/O */
    int echo;
    int deflate; /* --deflate: offer permessage-deflate */

    net_mutex send_gate;  /* one send operation at a time */
    net_mutex state;      /* guards close_sent and close_deadline */
    int close_sent;
    unsigned long long close_deadline;

    /* written by the receiver thread, read by main after it finished */
    volatile int receiver_done;
    volatile int failed;
    volatile unsigned long received; /* whole messages received */
    int eof;
    int close_received;

    /* the HTTP response; bytes after its head belong to the WebSocket stream */
    char head[MAX_RESPONSE];
    size_t have, head_len, extra;

    /* the message being reassembled by the receiver */
    struct ws_message msg;
};

static void lock(net_mutex *m) { net_mutex_lock(m); }
static void unlock(net_mutex *m) { net_mutex_unlock(m); }

/* ---- network helpers -------------------------------------------------------------------- */

/* Fills a RECEIVE_FROM_NETWORK buffer: first the bytes that followed the HTTP response, then
 * the socket. Gives up (returns 0) when the server does not answer our close in time. */
static ULONG conn_read(void *ctx, void *buf, ULONG len)
{
    struct client *c = (struct client *)ctx;
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
        int r, late;
        lock(&c->state);
        late = c->close_sent && net_now_ms() > c->close_deadline;
        unlock(&c->state);
        if (late)
            break;
        r = net_wait_readable(c->sock, POLL_MS);
        if (r > 0) {
            long n = net_recv(c->sock, buf, len);
            if (n > 0)
                return (ULONG)n;
            break;
        }
        if (r < 0 && ++errors > 100)
            break;
    }
    c->eof = 1;
    return 0;
}

/* Writes the buffers of a SEND_TO_NETWORK action in order: the byte total, or 0 on failure. */
static ULONG conn_write(void *ctx, const WEB_SOCKET_BUFFER *buffers, ULONG count)
{
    ULONG total;
    return ws_write_buffers(((struct client *)ctx)->sock, buffers, count, &total) == 0 ? total : 0;
}

/* NO_ACTION before our send completed: the receiver is writing a pong, so the outgoing channel
 * is busy. Retry (as .NET does) for up to about 30 s. */
static int send_busy(void *ctx, int attempt)
{
    if (((struct client *)ctx)->failed || attempt > 30000)
        return 0;
    net_sleep_ms(1);
    return 1;
}

/* ---- sending (caller holds send_gate) --------------------------------------------------- */

/* Sends our close frame unless one was sent already. Caller holds send_gate. */
static int send_close(struct client *c, USHORT status, const char *reason, size_t reason_len)
{
    lock(&c->state);
    if (c->close_sent) {
        unlock(&c->state);
        return 0;
    }
    c->close_sent = 1;
    c->close_deadline = net_now_ms() + CLOSE_WAIT_MS;
    unlock(&c->state);
    return ws_send_close_frame(&c->io, status, reason, (ULONG)reason_len);
}

static int close_was_sent(struct client *c)
{
    int sent;
    lock(&c->state);
    sent = c->close_sent;
    unlock(&c->state);
    return sent;
}

/* ---- receiving (receiver thread) -------------------------------------------------------- */

static void print_message(struct client *c)
{
    if (c->msg.too_big) {
        printf("%s: over %u bytes (dropped)\n", c->msg.binary ? "binary" : "text", MAX_MESSAGE);
    } else if (c->msg.binary) {
        printf("binary: %lu bytes\n", (unsigned long)c->msg.len);
    } else {
        fputs("text: ", stdout);
        if (c->msg.len > 0)
            fwrite(c->msg.data, 1, c->msg.len, stdout);
        fputc('\n', stdout);
    }
    fflush(stdout);
}

static void fail(struct client *c)
{
    /* Stop all network actions; the main thread drains and deletes the handle at the end. */
    c->failed = 1;
    WebSocketAbortHandle(c->io.h);
    net_shutdown_both(c->sock);
}

static void receiver_thread(void *arg)
{
    struct client *c = (struct client *)arg;
    static BYTE empty[1];
    for (;;) {
        struct ws_rx_result r;
        enum ws_rx k;
        memset(&r, 0, sizeof r);
        k = ws_receive_one(&c->io, &c->msg, &r);
        if (k == WS_RX_FAILED) {
            fprintf(stderr, "client: receive failed: 0x%08lx\n", (unsigned long)(ULONG)r.hr);
            fail(c);
            break;
        }
        if (k == WS_RX_PONG)
            continue;
        if (k == WS_RX_CLOSE) {
            if (c->eof && r.status == WEB_SOCKET_ABORTED_CLOSE_STATUS) {
                fprintf(stderr, "client: connection closed without a close frame\n");
                fail(c);
                break;
            }
            c->close_received = 1;
            printf("close: %u %s\n", (unsigned)r.status, r.reason);
            fflush(stdout);
            /* A close started by the server: answer with its status and reason. */
            lock(&c->send_gate);
            if (send_close(c, r.status, r.reason, r.reason_len) != 0)
                c->failed = 1;
            unlock(&c->send_gate);
            break;
        }
        if (r.type != WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE &&
            r.type != WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE)
            continue; /* a FRAGMENT piece: the message goes on */
        print_message(c);
        c->received++;
        if (c->echo && !c->msg.too_big) {
            WEB_SOCKET_BUFFER b;
            int rc = 0;
            b.Data.pbBuffer = c->msg.len > 0 ? c->msg.data : empty;
            b.Data.ulBufferLength = (ULONG)c->msg.len;
            lock(&c->send_gate);
            if (!close_was_sent(c))
                rc = ws_send_op(&c->io, c->msg.binary ? WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE
                                              : WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE,
                             &b);
            unlock(&c->send_gate);
            if (rc != 0) {
                fail(c);
                break;
            }
        }
        c->msg.len = 0;
        c->msg.too_big = 0;
    }
    c->receiver_done = 1;
}

struct url {
    char host[256];   /* without brackets */
    char port[8];
    char hostport[300]; /* for the Host header */
    char path[1024];
};

static int parse_url(const char *s, struct url *u)
{
    const char *p, *host_end, *port = NULL, *path;
    size_t hlen;
    memset(u, 0, sizeof *u);
    if (strncmp(s, "ws://", 5) != 0)
        return -1; /* wss:// needs TLS, which this example does not do */
    p = s + 5;
    path = p + strcspn(p, "/?#");
    if (*p == '[') {
        host_end = strchr(p, ']');
        if (host_end == NULL || host_end > path)
            return -1;
        hlen = (size_t)(host_end - p - 1);
        if (hlen >= sizeof u->host)
            return -1;
        memcpy(u->host, p + 1, hlen);
        if (host_end[1] == ':')
            port = host_end + 2;
    } else {
        const char *colon = memchr(p, ':', (size_t)(path - p));
        host_end = colon ? colon : path;
        hlen = (size_t)(host_end - p);
        if (hlen == 0 || hlen >= sizeof u->host)
            return -1;
        memcpy(u->host, p, hlen);
        if (colon)
            port = colon + 1;
    }
    if (port != NULL) {
        size_t plen = (size_t)(path - port);
        if (plen == 0 || plen >= sizeof u->port || strspn(port, "0123456789") < plen)
            return -1;
        memcpy(u->port, port, plen);
    } else {
        strcpy(u->port, "80");
    }
    if (*path == '\0')
        strcpy(u->path, "/");
    else if (*path == '/' && strlen(path) < sizeof u->path)
        strcpy(u->path, path);
    else if (*path == '?' && strlen(path) + 1 < sizeof u->path)
        snprintf(u->path, sizeof u->path, "/%s", path);
    else
        return -1;
    { /* a fragment is never sent */
        char *hash = strchr(u->path, '#');
        if (hash)
            *hash = '\0';
    }
    if (strchr(u->host, ':') != NULL)
        snprintf(u->hostport, sizeof u->hostport, "[%s]", u->host);
    else
        snprintf(u->hostport, sizeof u->hostport, "%s", u->host);
    if (strcmp(u->port, "80") != 0)
        snprintf(u->hostport + strlen(u->hostport), sizeof u->hostport - strlen(u->hostport),
                 ":%s", u->port);
    return 0;
}

/* Sends the upgrade request with the library's headers and checks the response. */
static int handshake(struct client *c, const struct url *u)
{
    WEB_SOCKET_HTTP_HEADER initial[1], *extra = NULL, headers[MAX_HEADERS];
    ULONG extra_count = 0, count = 0, i;
    char request[4096], *line, *eol, *end;
    size_t len;
    HRESULT hr;

    /* Informational only (the library requires no initial header). */
    initial[0].pcName = (PCHAR) "Host";
    initial[0].ulNameLength = 4;
    initial[0].pcValue = (PCHAR)u->hostport;
    initial[0].ulValueLength = (ULONG)strlen(u->hostport);
    hr = WebSocketBeginClientHandshake(c->io.h, NULL, 0, NULL, 0, initial, 1, &extra, &extra_count);
    if (FAILED(hr)) {
        fprintf(stderr, "client: WebSocketBeginClientHandshake failed: 0x%08lx\n",
                (unsigned long)(ULONG)hr);
        return -1;
    }
    len = (size_t)snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s\r\n", u->path,
                           u->hostport);
    for (i = 0; i < extra_count && len < sizeof request; i++)
        len += (size_t)snprintf(request + len, sizeof request - len, "%.*s: %.*s\r\n",
                                (int)extra[i].ulNameLength, extra[i].pcName,
                                (int)extra[i].ulValueLength, extra[i].pcValue);
    if (len < sizeof request)
        len += (size_t)snprintf(request + len, sizeof request - len,
                                "User-Agent: websocket-example-client\r\n\r\n");
    if (len >= sizeof request || net_send_all(c->sock, request, len) != 0) {
        fprintf(stderr, "client: cannot send the request\n");
        return -1;
    }

    /* Read the response head; what follows it is WebSocket data. */
    for (;;) {
        long n;
        c->head[c->have] = '\0';
        end = strstr(c->head, "\r\n\r\n");
        if (end != NULL)
            break;
        if (c->have >= sizeof c->head - 1) {
            fprintf(stderr, "client: response head too long\n");
            return -1;
        }
        n = net_recv(c->sock, c->head + c->have, sizeof c->head - 1 - c->have);
        if (n <= 0) {
            fprintf(stderr, "client: connection closed during the handshake\n");
            return -1;
        }
        c->have += (size_t)n;
    }
    c->head_len = (size_t)(end - c->head) + 4;
    c->extra = c->head_len;

    eol = strstr(c->head, "\r\n");
    *eol = '\0';
    if (strncmp(c->head, "HTTP/1.1 101", 12) != 0 ||
        (c->head[12] != ' ' && c->head[12] != '\0')) {
        fprintf(stderr, "client: server refused the upgrade: %s\n", c->head);
        return -1;
    }
    for (line = eol + 2; line < end; line = eol + 2) {
        char *colon, *value, *value_end;
        eol = strstr(line, "\r\n");
        colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL || count == MAX_HEADERS) {
            fprintf(stderr, "client: malformed response header\n");
            return -1;
        }
        value = colon + 1;
        value_end = eol;
        while (value < value_end && (*value == ' ' || *value == '\t'))
            value++;
        while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
            value_end--;
        headers[count].pcName = line;
        headers[count].ulNameLength = (ULONG)(colon - line);
        headers[count].pcValue = value;
        headers[count].ulValueLength = (ULONG)(value_end - value);
        count++;
    }
    {
        /* With --deflate the library's permessage-deflate has index 0 (no application
         * extensions were offered); its selection is reported on stderr. */
        ULONG selected[4], nselected = 4;
        hr = WebSocketEndClientHandshake(c->io.h, headers, count, selected, &nselected, NULL);
        if (FAILED(hr)) {
            fprintf(stderr, "client: WebSocketEndClientHandshake rejected the response: 0x%08lx\n",
                    (unsigned long)(ULONG)hr);
            return -1;
        }
        if (c->deflate)
            fprintf(stderr, "client: permessage-deflate %s\n",
                    nselected == 1 && selected[0] == 0 ? "negotiated" : "not negotiated");
    }
    return 0;
}

/* Reads one line of any length from stdin (without the line end). NULL at end of input. */
static char *read_line(size_t *out_len)
{
    size_t len = 0, cap = 256;
    char *line = (char *)malloc(cap);
    int ch = EOF;
    if (line == NULL)
        return NULL;
    while ((ch = getchar()) != EOF && ch != '\n') {
        if (len + 1 >= cap) {
            char *p = (char *)realloc(line, cap * 2);
            if (p == NULL) {
                free(line);
                return NULL;
            }
            line = p;
            cap *= 2;
        }
        line[len++] = (char)ch;
    }
    if (ch == EOF && len == 0) {
        free(line);
        return NULL;
    }
    if (len > 0 && line[len - 1] == '\r')
        len--;
    line[len] = '\0';
    *out_len = len;
    return line;
}

static int send_message(struct client *c, WEB_SOCKET_BUFFER_TYPE type, char *data, size_t len)
{
    WEB_SOCKET_BUFFER b;
    int rc = -1;
    b.Data.pbBuffer = (PBYTE)data;
    b.Data.ulBufferLength = (ULONG)len;
    lock(&c->send_gate);
    if (!close_was_sent(c) && !c->failed)
        rc = ws_send_op(&c->io, type, &b);
    unlock(&c->send_gate);
    return rc;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: client [options] ws://HOST[:PORT][/PATH] [MESSAGE...]\n"
            "Sends each MESSAGE (or each line of standard input when none is given), prints\n"
            "what comes back (\"text: ...\" / \"binary: N bytes\"), waits (at most 10 s) for\n"
            "one reply per message, then closes and prints \"close: STATUS REASON\" as answered\n"
            "by the server. Exit status 0 when the close handshake completed.\n"
            "  --binary              send the messages as binary messages\n"
            "  --close CODE[:REASON] close status and reason to send (default 1000; 1005 sends\n"
            "                        a close frame without payload)\n"
            "  --echo                send nothing; echo every message received until the\n"
            "                        server closes\n"
            "  --deflate             offer permessage-deflate (RFC 7692; an extension beyond\n"
            "                        Windows)\n");
}

int main(int argc, char **argv)
{
    struct client *c;
    struct url u;
    const char *url = NULL;
    WEB_SOCKET_BUFFER_TYPE type = WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE;
    unsigned close_status = WEB_SOCKET_SUCCESS_CLOSE_STATUS;
    const char *close_reason = "";
    int echo = 0, first_message, i, exit_code, from_stdin;
    unsigned long sent = 0;
    unsigned long long deadline;
    ULONG size = BUFFER_SIZE;
    WEB_SOCKET_PROPERTY props[3];
    WEB_SOCKET_DEFLATE_SETTINGS deflate;
    int use_deflate = 0;
    net_thread receiver;
    HRESULT hr;

    argv = net_utf8_argv(argc, argv);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--binary") == 0) {
            type = WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE;
        } else if (strcmp(argv[i], "--echo") == 0) {
            echo = 1;
        } else if (strcmp(argv[i], "--deflate") == 0) {
            use_deflate = 1;
        } else if (strcmp(argv[i], "--close") == 0 && i + 1 < argc) {
            char *end;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if ((*end != '\0' && *end != ':') || v > 65535) {
                fprintf(stderr, "client: bad --close\n");
                return 2;
            }
            close_status = (unsigned)v;
            close_reason = *end == ':' ? end + 1 : "";
            if (strlen(close_reason) > WEB_SOCKET_MAX_CLOSE_REASON_LENGTH) {
                fprintf(stderr, "client: close reason over 123 bytes\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strncmp(argv[i], "--", 2) == 0 && argv[i][2] != '\0') {
            usage(stderr);
            return 2;
        } else {
            if (strcmp(argv[i], "--") == 0)
                i++;
            if (i < argc)
                url = argv[i];
            break;
        }
    }
    if (url == NULL || parse_url(url, &u) != 0) {
        if (url != NULL)
            fprintf(stderr, "client: not a ws:// URL: %s\n", url);
        usage(stderr);
        return 2;
    }
    first_message = echo ? argc : i + 1;
    from_stdin = !echo && first_message >= argc;

    c = (struct client *)calloc(1, sizeof *c);
    if (c == NULL || net_init() != 0)
        return 1;
    c->echo = echo;
    c->io.ctx = c;
    c->io.read = conn_read;
    c->io.write = conn_write;
    c->io.send_busy = send_busy;
    strcpy(c->io.who, "client");
    c->msg.max = MAX_MESSAGE;
    net_mutex_init(&c->send_gate);
    net_mutex_init(&c->state);
    net_on_interrupt(on_interrupt);

    c->sock = net_connect(u.host, u.port);
    if (c->sock == NET_INVALID_SOCKET) {
        fprintf(stderr, "client: cannot connect to %s:%s\n", u.host, u.port);
        return 1;
    }
    props[0].Type = WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE;
    props[0].pvValue = &size;
    props[0].ulValueSize = sizeof size;
    props[1].Type = WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE;
    props[1].pvValue = &size;
    props[1].ulValueSize = sizeof size;
    memset(&deflate, 0, sizeof deflate); /* offer "permessage-deflate; client_max_window_bits" */
    props[2].Type = WEB_SOCKET_PERMESSAGE_DEFLATE_PROPERTY_TYPE;
    props[2].pvValue = &deflate;
    props[2].ulValueSize = sizeof deflate;
    c->deflate = use_deflate;
    hr = WebSocketCreateClientHandle(props, use_deflate ? 3 : 2, &c->io.h);
    if (FAILED(hr)) {
        fprintf(stderr, "client: WebSocketCreateClientHandle failed: 0x%08lx\n",
                (unsigned long)(ULONG)hr);
        return 1;
    }
    if (handshake(c, &u) != 0) {
        WebSocketDeleteHandle(c->io.h);
        net_close(c->sock);
        return 1;
    }
    if (net_thread_start(&receiver, receiver_thread, c) != 0) {
        fprintf(stderr, "client: cannot start a thread\n");
        return 1;
    }

    if (from_stdin) {
        char *line;
        size_t len;
        while (!stopping && !c->receiver_done && (line = read_line(&len)) != NULL) {
            int rc = send_message(c, type, line, len);
            free(line);
            if (rc != 0)
                break;
            sent++;
        }
    } else {
        for (i = first_message; i < argc && !stopping && !c->receiver_done; i++) {
            if (send_message(c, type, argv[i], strlen(argv[i])) != 0)
                break;
            sent++;
        }
    }
    /* Give the server time to answer every message before closing: a peer may stop sending
     * as soon as our close arrives (it need not flush its replies first). */
    deadline = net_now_ms() + REPLY_WAIT_MS;
    while (!echo && c->received < sent && !c->receiver_done && !stopping && net_now_ms() < deadline)
        net_sleep_ms(5);
    /* In --echo mode the server decides when to close; otherwise we close now. */
    while (c->echo && !c->receiver_done && !stopping)
        net_sleep_ms(50);
    if (!c->failed) {
        lock(&c->send_gate);
        if (stopping && c->echo)
            send_close(c, WEB_SOCKET_ENDPOINT_UNAVAILABLE_CLOSE_STATUS, "", 0);
        else
            send_close(c, (USHORT)close_status, close_reason, strlen(close_reason));
        unlock(&c->send_gate);
    }
    net_thread_join(receiver);

    exit_code = c->close_received && !c->failed ? 0 : 1;
    if (exit_code != 0)
        ws_abort_and_drain(c->io.h);
    WebSocketDeleteHandle(c->io.h);
    if (exit_code == 0) {
        /* The server closes the TCP connection first (RFC 6455 §7.1.1): wait briefly for it. */
        char sink[4096];
        deadline = net_now_ms() + 2000;
        while (net_now_ms() < deadline) {
            int r = net_wait_readable(c->sock, 100);
            if (r < 0 || (r > 0 && net_recv(c->sock, sink, sizeof sink) <= 0))
                break;
        }
    }
    net_close(c->sock);
    net_mutex_destroy(&c->send_gate);
    net_mutex_destroy(&c->state);
    free(c->msg.data);
    free(c);
    net_cleanup();
    return exit_code;
}
