/*
 * wsloop.c - the action loops shared by client.c and echo_server.c (see wsloop.h).
 */
#include "wsloop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ws_message_append(struct ws_message *m, WEB_SOCKET_BUFFER_TYPE type, const BYTE *data, ULONG len)
{
    m->binary = type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE ||
                type == WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE;
    if (m->too_big)
        return;
    if (len > m->max - m->len) {
        m->too_big = 1;
        return;
    }
    if (m->len + len + 1 > m->cap) { /* + 1: room for a terminating NUL */
        size_t cap = m->cap ? m->cap : 4096;
        unsigned char *p;
        while (cap < m->len + len + 1)
            cap *= 2;
        if (cap > m->max + 1)
            cap = m->max + 1;
        p = (unsigned char *)realloc(m->data, cap);
        if (p == NULL) {
            m->too_big = 1;
            return;
        }
        m->data = p;
        m->cap = cap;
    }
    if (len > 0)
        memcpy(m->data + m->len, data, len);
    m->len += len;
}

enum ws_rx ws_receive_one(struct ws_io *io, struct ws_message *m, struct ws_rx_result *r)
{
    enum ws_rx result = WS_RX_FAILED;
    int indicated = 0;
    HRESULT hr = WebSocketReceive(io->h, NULL, io->ctx);
    if (FAILED(hr)) {
        r->hr = hr;
        return WS_RX_FAILED;
    }
    for (;;) {
        WEB_SOCKET_BUFFER buffer[1];
        ULONG count = 1;
        WEB_SOCKET_ACTION action;
        WEB_SOCKET_BUFFER_TYPE type;
        PVOID app_ctx = NULL, action_ctx = NULL;
        hr = WebSocketGetAction(io->h, WEB_SOCKET_RECEIVE_ACTION_QUEUE, buffer, &count, &action,
                                &type, &app_ctx, &action_ctx);
        if (FAILED(hr)) {
            r->hr = hr;
            return WS_RX_FAILED;
        }
        switch (action) {
        case WEB_SOCKET_NO_ACTION:
            if (!indicated)
                r->hr = E_UNEXPECTED; /* spec §9.2 rule 6: must not happen mid-receive */
            return result;
        case WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION: {
            /* 0 bytes (end of stream) cancels the receive: it completes as close 1006. */
            ULONG n = io->read(io->ctx, buffer[0].Data.pbBuffer, buffer[0].Data.ulBufferLength);
            WebSocketCompleteAction(io->h, action_ctx, n);
            break;
        }
        case WEB_SOCKET_SEND_TO_NETWORK_ACTION: /* the library's answer to a ping */
            WebSocketCompleteAction(io->h, action_ctx, io->write(io->ctx, buffer, count));
            break;
        case WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION:
            indicated = 1;
            r->type = type;
            if (type == WEB_SOCKET_CLOSE_BUFFER_TYPE) {
                ULONG n = buffer[0].CloseStatus.ulReasonLength;
                if (n > WEB_SOCKET_MAX_CLOSE_REASON_LENGTH)
                    n = WEB_SOCKET_MAX_CLOSE_REASON_LENGTH;
                r->status = buffer[0].CloseStatus.usStatus;
                r->has_reason = buffer[0].CloseStatus.pbReason != NULL;
                if (n > 0)
                    memcpy(r->reason, buffer[0].CloseStatus.pbReason, n);
                r->reason[n] = '\0';
                r->reason_len = n;
                result = WS_RX_CLOSE;
            } else if (type == WEB_SOCKET_PING_PONG_BUFFER_TYPE) {
                result = WS_RX_PONG;
            } else {
                ws_message_append(m, type, buffer[0].Data.pbBuffer, buffer[0].Data.ulBufferLength);
                result = WS_RX_DATA;
            }
            WebSocketCompleteAction(io->h, action_ctx, 0);
            break;
        default:
            WebSocketCompleteAction(io->h, action_ctx, 0);
            break;
        }
    }
}

int ws_send_op(struct ws_io *io, WEB_SOCKET_BUFFER_TYPE type, WEB_SOCKET_BUFFER *buffer)
{
    int completed = 0, ok = 1, idle = 0;
    HRESULT hr = WebSocketSend(io->h, type, buffer, io->ctx);
    if (FAILED(hr)) {
        fprintf(stderr, "%s: WebSocketSend failed: 0x%08lx\n", io->who, (unsigned long)(ULONG)hr);
        return -1;
    }
    for (;;) {
        WEB_SOCKET_BUFFER buffers[2];
        ULONG count = 2;
        WEB_SOCKET_ACTION action;
        WEB_SOCKET_BUFFER_TYPE buffer_type;
        PVOID app_ctx = NULL, action_ctx = NULL;
        hr = WebSocketGetAction(io->h, WEB_SOCKET_SEND_ACTION_QUEUE, buffers, &count, &action,
                                &buffer_type, &app_ctx, &action_ctx);
        if (FAILED(hr)) {
            fprintf(stderr, "%s: WebSocketGetAction(SEND) failed: 0x%08lx\n", io->who,
                    (unsigned long)(ULONG)hr);
            return -1;
        }
        switch (action) {
        case WEB_SOCKET_NO_ACTION:
            if (completed)
                return ok ? 0 : -1;
            if (io->send_busy == NULL) {
                fprintf(stderr, "%s: NO_ACTION before INDICATE_SEND_COMPLETE\n", io->who);
                return -1;
            }
            /* The outgoing channel is busy: another thread is writing a pong. */
            if (!io->send_busy(io->ctx, ++idle))
                return -1;
            break;
        case WEB_SOCKET_SEND_TO_NETWORK_ACTION: {
            ULONG n = io->write(io->ctx, buffers, count);
            if (n == 0 && count > 0)
                ok = 0;
            WebSocketCompleteAction(io->h, action_ctx, n);
            break;
        }
        case WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION:
            completed = 1;
            WebSocketCompleteAction(io->h, action_ctx, 0);
            break;
        default:
            WebSocketCompleteAction(io->h, action_ctx, 0);
            break;
        }
    }
}

int ws_send_close_frame(struct ws_io *io, USHORT status, const char *reason, ULONG reason_len)
{
    WEB_SOCKET_BUFFER b;
    if (status == WEB_SOCKET_EMPTY_CLOSE_STATUS)
        return ws_send_op(io, WEB_SOCKET_CLOSE_BUFFER_TYPE, NULL);
    memset(&b, 0, sizeof b);
    b.CloseStatus.usStatus = status;
    b.CloseStatus.pbReason = (PBYTE)reason;
    b.CloseStatus.ulReasonLength = reason_len;
    return ws_send_op(io, WEB_SOCKET_CLOSE_BUFFER_TYPE, &b);
}

int ws_write_buffers(net_socket s, const WEB_SOCKET_BUFFER *buffers, ULONG count, ULONG *total)
{
    ULONG i;
    *total = 0;
    for (i = 0; i < count; i++) {
        if (net_send_all(s, buffers[i].Data.pbBuffer, buffers[i].Data.ulBufferLength) != 0)
            return -1;
        *total += buffers[i].Data.ulBufferLength;
    }
    return 0;
}

void ws_abort_and_drain(WEB_SOCKET_HANDLE h)
{
    static const WEB_SOCKET_ACTION_QUEUE queues[2] = {WEB_SOCKET_SEND_ACTION_QUEUE,
                                                      WEB_SOCKET_RECEIVE_ACTION_QUEUE};
    int q, i;
    WebSocketAbortHandle(h);
    for (q = 0; q < 2; q++) {
        for (i = 0; i < 1000; i++) {
            WEB_SOCKET_BUFFER buffer[1];
            ULONG count = 1;
            WEB_SOCKET_ACTION action;
            WEB_SOCKET_BUFFER_TYPE type;
            PVOID action_ctx = NULL;
            HRESULT hr = WebSocketGetAction(h, queues[q], buffer, &count, &action, &type, NULL,
                                            &action_ctx);
            if (FAILED(hr) || action == WEB_SOCKET_NO_ACTION)
                break;
            WebSocketCompleteAction(h, action_ctx, 0);
        }
    }
}
