/*
 * handshake.c - handshakes between handles of the DLL in one process: spec §16.4 (Microsoft's
 * sample) with its "Hello World" frame, the accept vectors of §16.1, .NET's version probe and
 * fake server handshake (§12.1, §12.2), subprotocol/extension selection and the error codes of
 * the handshake functions.
 */
#include "wintest.h"

static WEB_SOCKET_HANDLE new_client(void) {
  WEB_SOCKET_HANDLE h = NULL;
  REQUIRE(WebSocketCreateClientHandle(NULL, 0, &h) == S_OK && h != NULL);
  return h;
}

static WEB_SOCKET_HANDLE new_server(void) {
  WEB_SOCKET_HANDLE h = NULL;
  REQUIRE(WebSocketCreateServerHandle(NULL, 0, &h) == S_OK && h != NULL);
  return h;
}

/* §16.4, step by step, with the exact actions and bytes. */
static void sample_round_trip(void) {
  WEB_SOCKET_HANDLE c = new_client(), s = new_server();
  WEB_SOCKET_HTTP_HEADER *ch = NULL, *sh = NULL, req[8];
  ULONG cn = 0, sn = 0;
  char v[128];

  CHECK_OK(WebSocketBeginClientHandshake(c, NULL, 0, NULL, 0, NULL, 0, &ch, &cn));
  REQUIRE(cn == 4);
  CHECK(t_find_header(ch, cn, "Connection", v, sizeof v) && strcmp(v, "Upgrade") == 0);
  CHECK(t_find_header(ch, cn, "Upgrade", v, sizeof v) && strcmp(v, "websocket") == 0);
  CHECK(t_find_header(ch, cn, "Sec-WebSocket-Version", v, sizeof v) && strcmp(v, "13") == 0);
  CHECK(t_find_header(ch, cn, "Sec-WebSocket-Key", v, sizeof v) && strlen(v) == 24 &&
        strcmp(v + 22, "==") == 0);
  for (ULONG i = 0; i < cn; i++) {
    CHECK(ch[i].pcName[ch[i].ulNameLength] == 0 && ch[i].pcValue[ch[i].ulValueLength] == 0);
  }
  memcpy(req, ch, cn * sizeof *req);
  req[cn] = t_hdr("Host", "localhost");
  CHECK_OK(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req, cn + 1, &sh, &sn));
  REQUIRE(sn == 3);
  CHECK(t_find_header(sh, sn, "Connection", v, sizeof v) && strcmp(v, "Upgrade") == 0);
  CHECK(t_find_header(sh, sn, "Upgrade", v, sizeof v) && strcmp(v, "websocket") == 0);
  CHECK(t_find_header(sh, sn, "Sec-WebSocket-Accept", v, sizeof v) && strlen(v) == 28);
  CHECK_OK(WebSocketEndClientHandshake(c, sh, sn, NULL, NULL, NULL));
  CHECK_OK(WebSocketEndServerHandshake(s));
  CHECK_OK(WebSocketEndServerHandshake(s)); /* already open: S_OK */

  /* The client's "Hello World" on the ALL queue: SEND_TO_NETWORK, INDICATE_SEND_COMPLETE,
   * NO_ACTION. */
  static const char hello[] = "Hello World";
  BYTE wire[64];
  ULONG wire_len = 0;
  CHECK_OK(t_send(c, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, hello, 11, (PVOID)0x1234));
  WEB_SOCKET_BUFFER b[2];
  ULONG count = 2;
  WEB_SOCKET_ACTION action;
  WEB_SOCKET_BUFFER_TYPE type;
  PVOID app = NULL, tok = NULL;
  CHECK_OK(WebSocketGetAction(c, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, &app, &tok));
  CHECK(action == WEB_SOCKET_SEND_TO_NETWORK_ACTION && (count == 1 || count == 2));
  CHECK(type == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE && app == (PVOID)0x1234 && tok != NULL);
  for (ULONG i = 0; i < count && i < 2; i++) {
    REQUIRE(wire_len + b[i].Data.ulBufferLength <= sizeof wire);
    memcpy(wire + wire_len, b[i].Data.pbBuffer, b[i].Data.ulBufferLength);
    wire_len += b[i].Data.ulBufferLength;
  }
  WebSocketCompleteAction(c, tok, wire_len);
  CHECK(wire_len == 2 + 4 + 11);
  CHECK(wire[0] == 0x81 && wire[1] == 0x8b);
  int unmasked_ok = 1;
  for (int i = 0; i < 11; i++) unmasked_ok &= (wire[6 + i] ^ wire[2 + (i & 3)]) == (BYTE)hello[i];
  CHECK(unmasked_ok);
  count = 2;
  CHECK_OK(WebSocketGetAction(c, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, &app, &tok));
  CHECK(action == WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION && app == (PVOID)0x1234);
  WebSocketCompleteAction(c, tok, 0);
  count = 2;
  CHECK_OK(WebSocketGetAction(c, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, &app, &tok));
  CHECK(action == WEB_SOCKET_NO_ACTION && count == 0 && tok == NULL);

  /* The server: RECEIVE_FROM_NETWORK, INDICATE_RECEIVE_COMPLETE "Hello World", NO_ACTION. */
  CHECK_OK(WebSocketReceive(s, NULL, (PVOID)0x5678));
  count = 2;
  CHECK_OK(WebSocketGetAction(s, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, &app, &tok));
  CHECK(action == WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION && count == 1 && app == (PVOID)0x5678);
  REQUIRE(b[0].Data.ulBufferLength >= wire_len);
  memcpy(b[0].Data.pbBuffer, wire, wire_len);
  WebSocketCompleteAction(s, tok, wire_len);
  count = 2;
  CHECK_OK(WebSocketGetAction(s, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, &app, &tok));
  CHECK(action == WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION && count == 1);
  CHECK(type == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE && app == (PVOID)0x5678);
  CHECK(b[0].Data.ulBufferLength == 11 && memcmp(b[0].Data.pbBuffer, hello, 11) == 0);
  WebSocketCompleteAction(s, tok, 0);
  count = 2;
  CHECK_OK(WebSocketGetAction(s, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, &app, &tok));
  CHECK(action == WEB_SOCKET_NO_ACTION);

  WebSocketDeleteHandle(c);
  WebSocketDeleteHandle(s);
}

/* §16.1 through BeginServerHandshake. */
static void accept_vectors(void) {
  static const char *const vec[][2] = {
      {"dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
      {"AAAAAAAAAAAAAAAAAAAAAA==", "ICX+Yqv66kxgM0FcWaLWlFLwTAI="},
  };
  for (int i = 0; i < 2; i++) {
    WEB_SOCKET_HANDLE s = new_server();
    /* .NET's fake request (§12.2): Host with an empty value. */
    WEB_SOCKET_HTTP_HEADER req[5] = {
        t_hdr("Connection", "Upgrade"), t_hdr("Upgrade", "websocket"), t_hdr("Host", ""),
        t_hdr("Sec-WebSocket-Version", "13"), t_hdr("Sec-WebSocket-Key", vec[i][0]),
    };
    WEB_SOCKET_HTTP_HEADER *sh = NULL;
    ULONG sn = 0;
    char v[64];
    CHECK_OK(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req, 5, &sh, &sn));
    CHECK(t_find_header(sh, sn, "Sec-WebSocket-Accept", v, sizeof v) && strcmp(v, vec[i][1]) == 0);
    CHECK_OK(WebSocketEndServerHandshake(s));
    WebSocketDeleteHandle(s);
  }
}

/* §12.1: create, Begin with Connection/Upgrade, read the version, delete without End. */
static void dotnet_probe(void) {
  for (int i = 0; i < 100; i++) {
    WEB_SOCKET_HANDLE c = new_client();
    WEB_SOCKET_HTTP_HEADER init[2] = {t_hdr("Connection", "Upgrade"), t_hdr("Upgrade", "websocket")};
    WEB_SOCKET_HTTP_HEADER *ch = NULL;
    ULONG cn = 0;
    char v[16];
    CHECK_OK(WebSocketBeginClientHandshake(c, NULL, 0, NULL, 0, init, 2, &ch, &cn));
    CHECK(t_find_header(ch, cn, "sec-websocket-version", v, sizeof v) && strcmp(v, "13") == 0);
    WebSocketDeleteHandle(c);
  }
}

/* Subprotocols and extensions offered, selected and reported. */
static void negotiation(void) {
  WEB_SOCKET_HANDLE c = new_client(), s = new_server();
  PCSTR protos[2] = {"chat", "superchat"};
  PCSTR exts[2] = {"x-foo", "x-bar; level=1"};
  WEB_SOCKET_HTTP_HEADER *ch = NULL, *sh = NULL;
  ULONG cn = 0, sn = 0;
  char v[128];
  CHECK_OK(WebSocketBeginClientHandshake(c, protos, 2, exts, 2, NULL, 0, &ch, &cn));
  CHECK(cn == 6);
  CHECK(t_find_header(ch, cn, "Sec-WebSocket-Protocol", v, sizeof v) && strcmp(v, "chat, superchat") == 0);
  CHECK(t_find_header(ch, cn, "Sec-WebSocket-Extensions", v, sizeof v) && strcmp(v, "x-foo, x-bar; level=1") == 0);
  PCSTR sel_ext[1] = {"x-bar; level=1"};
  CHECK_OK(WebSocketBeginServerHandshake(s, "superchat", sel_ext, 1, ch, cn, &sh, &sn));
  CHECK(t_find_header(sh, sn, "Sec-WebSocket-Protocol", v, sizeof v) && strcmp(v, "superchat") == 0);
  CHECK(t_find_header(sh, sn, "Sec-WebSocket-Extensions", v, sizeof v) && strcmp(v, "x-bar; level=1") == 0);
  ULONG proto = 99, ext_idx[4] = {99, 99, 99, 99}, ext_n = 4;
  CHECK_OK(WebSocketEndClientHandshake(c, sh, sn, ext_idx, &ext_n, &proto));
  CHECK(proto == 1);
  CHECK(ext_n == 1 && ext_idx[0] == 1);
  WebSocketDeleteHandle(c);
  WebSocketDeleteHandle(s);

  /* A subprotocol the client did not offer; then a retry with a good response succeeds. */
  c = new_client();
  s = new_server();
  CHECK_OK(WebSocketBeginClientHandshake(c, protos, 2, NULL, 0, NULL, 0, &ch, &cn));
  CHECK_OK(WebSocketBeginServerHandshake(s, "other", NULL, 0, ch, cn, &sh, &sn));
  CHECK_HR(WebSocketEndClientHandshake(c, sh, sn, NULL, NULL, NULL), E_SUBPROTOCOL_NOT_SUPPORTED);
  WEB_SOCKET_HTTP_HEADER good[3];
  char accept[64];
  REQUIRE(t_find_header(sh, sn, "Sec-WebSocket-Accept", accept, sizeof accept));
  good[0] = t_hdr("Connection", "Upgrade");
  good[1] = t_hdr("Upgrade", "websocket");
  good[2] = t_hdr("Sec-WebSocket-Accept", accept);
  CHECK_HR(WebSocketEndClientHandshake(c, good, 2, NULL, NULL, NULL), E_INVALID_PROTOCOL_FORMAT);
  good[2] = t_hdr("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK_HR(WebSocketEndClientHandshake(c, good, 3, NULL, NULL, NULL), E_INVALID_PROTOCOL_FORMAT);
  good[2] = t_hdr("Sec-WebSocket-Accept", accept);
  CHECK_OK(WebSocketEndClientHandshake(c, good, 3, NULL, NULL, NULL));
  CHECK_HR(WebSocketEndClientHandshake(c, good, 3, NULL, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);
  WebSocketDeleteHandle(c);
  WebSocketDeleteHandle(s);

  /* An extension the client did not offer. */
  c = new_client();
  s = new_server();
  CHECK_OK(WebSocketBeginClientHandshake(c, NULL, 0, exts, 1, NULL, 0, &ch, &cn));
  PCSTR bad_ext[1] = {"x-baz"};
  CHECK_OK(WebSocketBeginServerHandshake(s, NULL, bad_ext, 1, ch, cn, &sh, &sn));
  CHECK_HR(WebSocketEndClientHandshake(c, sh, sn, NULL, NULL, NULL), E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED);
  WebSocketDeleteHandle(c);
  WebSocketDeleteHandle(s);
}

/* Request errors of BeginServerHandshake (§8.2); a failed call leaves the handle usable. */
static void request_errors(void) {
  WEB_SOCKET_HANDLE s = new_server();
  WEB_SOCKET_HTTP_HEADER *sh = NULL;
  ULONG sn = 0;
  WEB_SOCKET_HTTP_HEADER req[4] = {
      t_hdr("Connection", "keep-alive, Upgrade"), t_hdr("upgrade", "WebSocket"),
      t_hdr("Sec-WebSocket-Version", "12"), t_hdr("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
  };
  CHECK_HR(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req, 4, &sh, &sn), E_PROTOCOL_VERSION_NOT_SUPPORTED);
  CHECK_HR(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req, 3, &sh, &sn), E_INVALID_PROTOCOL_FORMAT);
  CHECK_HR(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req + 1, 3, &sh, &sn), E_INVALID_PROTOCOL_FORMAT);
  req[2] = t_hdr("Sec-WebSocket-Version", "13");
  CHECK_HR(WebSocketEndServerHandshake(s), E_INVALID_PROTOCOL_OPERATION);
  CHECK_OK(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req, 4, &sh, &sn));
  CHECK_HR(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req, 4, &sh, &sn), E_INVALID_PROTOCOL_OPERATION);
  CHECK_OK(WebSocketEndServerHandshake(s));
  WebSocketDeleteHandle(s);
}

/* Many handshakes through the helper, with handles kept alive at once. */
static void many(void) {
  enum { N = 64 };
  WEB_SOCKET_HANDLE c[N], s[N];
  for (int i = 0; i < N; i++) {
    c[i] = new_client();
    s[i] = new_server();
    CHECK(t_handshake(c[i], s[i]));
  }
  for (int i = 0; i < N; i++) {
    for (int j = i + 1; j < N; j++) CHECK(c[i] != c[j] && s[i] != s[j]);
    WebSocketDeleteHandle(c[i]);
    WebSocketDeleteHandle(s[i]);
  }
}

int main(void) {
  t_begin("handshake");
  sample_round_trip();
  accept_vectors();
  dotnet_probe();
  negotiation();
  request_errors();
  many();
  return t_end();
}
