/*
 * deflate.c - permessage-deflate (an extension of this library beyond the SDK) on the Windows
 * DLL: a client and a server handle created with WEB_SOCKET_PERMESSAGE_DEFLATE_PROPERTY_TYPE
 * negotiate it (the response header is checked), then exchange text and binary messages of
 * 0 B .. 1 MiB both ways through the in-memory network, delivered in pieces of at most the
 * receive buffer size; the compressed bytes on the wire are fewer than the payload.
 */
#include "wintest.h"

static void exchange(t_peer *from, t_peer *to, int text, size_t n, ULONG to_rbs) {
  BYTE *buf = (BYTE *)malloc(n + 1);
  REQUIRE(buf != NULL);
  for (size_t i = 0; i < n; i++) buf[i] = (BYTE)("{\"id\":42,\"name\":\"deflate\"}\n"[i % 27]);
  size_t out0 = from->bytes_out;
  int msgs0 = to->msgs;
  CHECK_OK(t_send(from->h, text ? WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE : WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE,
                  buf, (ULONG)n, (PVOID)(INT_PTR)7));
  t_pump(from, to);
  CHECK(from->error == S_OK && to->error == S_OK);
  CHECK(to->msgs == msgs0 + 1);
  if (to->msgs == msgs0 + 1) {
    t_msg *m = &to->msg[msgs0];
    CHECK(m->len == n);
    if (m->len == n) CHECK(memcmp(m->data, buf, n) == 0);
  }
  if (n >= 65536) CHECK(from->bytes_out - out0 < n / 10);
  CHECK(to->max_indication <= to_rbs);
  free(buf);
  t_peer_free(to);
}

int main(void) {
  static const size_t sizes[] = {0, 1, 125, 126, 4096, 65536, 1 << 20};
  WEB_SOCKET_DEFLATE_SETTINGS settings;
  ULONG rbs = 1024;
  WEB_SOCKET_HANDLE ch = NULL, sh = NULL;
  WEB_SOCKET_HTTP_HEADER *req = NULL, *resp = NULL;
  ULONG nreq = 0, nresp = 0, selected[2], nselected = 2;
  t_pipe c2s, s2c;
  t_peer c, s;
  char value[128];

  t_begin("deflate");
  memset(&settings, 0, sizeof settings);
  WEB_SOCKET_PROPERTY props[2] = {
      {WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &rbs, sizeof rbs},
      {(WEB_SOCKET_PROPERTY_TYPE)WEB_SOCKET_PERMESSAGE_DEFLATE_PROPERTY_TYPE, &settings, sizeof settings},
  };
  CHECK_OK(WebSocketCreateClientHandle(props, 2, &ch));
  CHECK_OK(WebSocketCreateServerHandle(props, 2, &sh));
  CHECK_OK(WebSocketBeginClientHandshake(ch, NULL, 0, NULL, 0, NULL, 0, &req, &nreq));
  CHECK(t_find_header(req, nreq, "Sec-WebSocket-Extensions", value, sizeof value) &&
        strcmp(value, "permessage-deflate; client_max_window_bits") == 0);
  CHECK_OK(WebSocketBeginServerHandshake(sh, NULL, NULL, 0, req, nreq, &resp, &nresp));
  CHECK(t_find_header(resp, nresp, "Sec-WebSocket-Extensions", value, sizeof value) &&
        strcmp(value, "permessage-deflate") == 0);
  CHECK_OK(WebSocketEndClientHandshake(ch, resp, nresp, selected, &nselected, NULL));
  CHECK(nselected == 1 && selected[0] == 0);
  CHECK_OK(WebSocketEndServerHandshake(sh));

  memset(&c2s, 0, sizeof c2s);
  memset(&s2c, 0, sizeof s2c);
  t_peer_init(&c, "client", ch, &c2s, &s2c);
  t_peer_init(&s, "server", sh, &s2c, &c2s);
  CHECK_OK(WebSocketReceive(c.h, NULL, NULL));
  CHECK_OK(WebSocketReceive(s.h, NULL, NULL));
  t_pump(&c, &s);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    exchange(&c, &s, 1, sizes[i], rbs);
    exchange(&s, &c, 0, sizes[i], rbs);
  }
  /* A bad window size is E_INVALIDARG. */
  settings.ulServerMaxWindowBits = 7;
  WEB_SOCKET_HANDLE bad = NULL;
  CHECK_HR(WebSocketCreateServerHandle(props, 2, &bad), E_INVALIDARG);
  WebSocketDeleteHandle(ch);
  WebSocketDeleteHandle(sh);
  free(c2s.data);
  free(s2c.data);
  return t_end();
}
