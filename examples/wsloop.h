/*
 * wsloop.h - the action loops both examples run on a handle, the way .NET drives websocket.dll
 * (spec §12): one send operation through the SEND queue (two-slot array), one receive operation
 * through the RECEIVE queue (one-slot array), abort-and-drain after a failure, and reassembly of
 * a message from its delivered pieces. The programs supply the byte I/O.
 */
#ifndef WSLOOP_H
#define WSLOOP_H

#include "net.h" /* before websocket.h: on Windows it includes winsock2.h before windows.h */
#include "websocket.h"

#include <stddef.h>

/* One handle and the program's connection it moves bytes for. */
struct ws_io {
    WEB_SOCKET_HANDLE h;
    void *ctx; /* passed to the callbacks */
    /* RECEIVE_FROM_NETWORK: reads up to len bytes; 0 at end of stream (cancels the receive). */
    ULONG (*read)(void *ctx, void *buf, ULONG len);
    /* SEND_TO_NETWORK: writes the buffers in order; the byte total, or 0 on failure. */
    ULONG (*write)(void *ctx, const WEB_SOCKET_BUFFER *buffers, ULONG count);
    /* NO_ACTION on the SEND queue before the operation completed (another thread is writing a
     * pong), for the attempt-th time in this operation: nonzero to look again, 0 to give up.
     * NULL: nothing else drives the handle, so this is an error. */
    int (*send_busy)(void *ctx, int attempt);
    char who[64]; /* prefix of error messages, e.g. "client" */
};

/* A message reassembled from its pieces, at most max bytes (then too_big is set and the rest
 * of the message is dropped). One byte more is kept free, for a terminating NUL. */
struct ws_message {
    unsigned char *data;
    size_t len, cap, max;
    int binary, too_big;
};

void ws_message_append(struct ws_message *m, WEB_SOCKET_BUFFER_TYPE type, const BYTE *data, ULONG len);

enum ws_rx { WS_RX_DATA, WS_RX_PONG, WS_RX_CLOSE, WS_RX_FAILED };

struct ws_rx_result {
    WEB_SOCKET_BUFFER_TYPE type;
    USHORT status;
    int has_reason; /* the close frame carried a status (reason pointer non-NULL) */
    char reason[WEB_SOCKET_MAX_CLOSE_REASON_LENGTH + 1];
    ULONG reason_len;
    HRESULT hr;
};

/* One receive operation: WebSocketReceive, then the RECEIVE queue until NO_ACTION. Data pieces
 * are appended to m (they must be copied before CompleteAction); a close is copied to r. */
enum ws_rx ws_receive_one(struct ws_io *io, struct ws_message *m, struct ws_rx_result *r);

/* One send operation: WebSocketSend, then the SEND queue until the operation completed and
 * the queue says NO_ACTION. 0 on success, -1 on failure. */
int ws_send_op(struct ws_io *io, WEB_SOCKET_BUFFER_TYPE type, WEB_SOCKET_BUFFER *buffer);

/* Sends a close frame: status 1005 sends one without payload. */
int ws_send_close_frame(struct ws_io *io, USHORT status, const char *reason, ULONG reason_len);

/* Writes the buffers of a SEND_TO_NETWORK action to s in order and stores their byte total.
 * Returns 0, or -1 if the socket failed. */
int ws_write_buffers(net_socket s, const WEB_SOCKET_BUFFER *buffers, ULONG count, ULONG *total);

/* After a failure: abort, then drain both queues with one-slot arrays (as .NET does). */
void ws_abort_and_drain(WEB_SOCKET_HANDLE h);

#endif
