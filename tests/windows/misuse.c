/*
 * misuse.c - what a careless or hostile caller gets: NULL pointers, bad property lists, stale
 * and forged handles, double delete, calls in the wrong state, bad GetAction/Send/Receive
 * arguments, forged action tokens, abort with work outstanding, delete with actions in flight.
 * Every case must return the documented HRESULT (spec §4.2, §5, §6) and never crash.
 */
#include "wintest.h"

static WEB_SOCKET_HANDLE client(void) {
  WEB_SOCKET_HANDLE h = NULL;
  REQUIRE(WebSocketCreateClientHandle(NULL, 0, &h) == S_OK);
  return h;
}

static WEB_SOCKET_HANDLE server(void) {
  WEB_SOCKET_HANDLE h = NULL;
  REQUIRE(WebSocketCreateServerHandle(NULL, 0, &h) == S_OK);
  return h;
}

static void global_property(void) {
  BYTE v[8];
  ULONG size = sizeof v;
  CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, NULL, &size), E_INVALIDARG);
  CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, v, NULL), E_INVALIDARG);
  CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, v, &size), E_INVALIDARG);
  CHECK_HR(WebSocketGetGlobalProperty((WEB_SOCKET_PROPERTY_TYPE)7, v, &size), E_INVALIDARG);
  CHECK_HR(WebSocketGetGlobalProperty((WEB_SOCKET_PROPERTY_TYPE)-1, v, &size), E_INVALIDARG);
  size = 0;
  CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, v, &size), HR_INSUFFICIENT_BUFFER);
  CHECK(size == 4);
  size = 3;
  CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, v, &size), HR_INSUFFICIENT_BUFFER);
  CHECK(size == 4);
}

static void create(void) {
  WEB_SOCKET_HANDLE h = (WEB_SOCKET_HANDLE)(INT_PTR)0x1111;
  ULONG small = 255, big = 65537, ok = 4096, tiny = 15;
  BOOL yes = TRUE;
  WEB_SOCKET_PROPERTY p;
  CHECK_HR(WebSocketCreateClientHandle(NULL, 0, NULL), E_INVALIDARG);
  CHECK_HR(WebSocketCreateServerHandle(NULL, 0, NULL), E_INVALIDARG);
  CHECK_HR(WebSocketCreateClientHandle(NULL, 1, &h), E_INVALIDARG);
  p = (WEB_SOCKET_PROPERTY){WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &small, 4};
  CHECK_HR(WebSocketCreateClientHandle(&p, 1, &h), E_INVALIDARG);
  p = (WEB_SOCKET_PROPERTY){WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &big, 4};
  CHECK_HR(WebSocketCreateServerHandle(&p, 1, &h), E_INVALIDARG);
  p = (WEB_SOCKET_PROPERTY){WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &tiny, 4};
  CHECK_HR(WebSocketCreateServerHandle(&p, 1, &h), E_INVALIDARG);
  p = (WEB_SOCKET_PROPERTY){WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, NULL, 4};
  CHECK_HR(WebSocketCreateClientHandle(&p, 1, &h), E_INVALIDARG);
  p = (WEB_SOCKET_PROPERTY){WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &ok, 2};
  CHECK_HR(WebSocketCreateClientHandle(&p, 1, &h), E_INVALIDARG);
  p = (WEB_SOCKET_PROPERTY){WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, &ok, 4};
  CHECK_HR(WebSocketCreateClientHandle(&p, 1, &h), E_INVALIDARG);
  p = (WEB_SOCKET_PROPERTY){(WEB_SOCKET_PROPERTY_TYPE)99, &ok, 4};
  CHECK_HR(WebSocketCreateClientHandle(&p, 1, &h), E_INVALIDARG);
  /* ALLOCATED_BUFFER: NULL address, and one byte short of RBS + SBS + 144. */
  void *addr = NULL;
  p = (WEB_SOCKET_PROPERTY){WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, &addr, 4096 + 4096 + 144};
  CHECK_HR(WebSocketCreateClientHandle(&p, 1, &h), E_INVALIDARG);
  static BYTE region[4096 + 16 + 144];
  addr = region;
  p = (WEB_SOCKET_PROPERTY){WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, &addr, sizeof region - 1};
  CHECK_HR(WebSocketCreateServerHandle(&p, 1, &h), E_INVALIDARG);
  CHECK(h == (WEB_SOCKET_HANDLE)(INT_PTR)0x1111); /* written only on success */
  p = (WEB_SOCKET_PROPERTY){WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, &addr, sizeof region};
  CHECK_OK(WebSocketCreateServerHandle(&p, 1, &h));
  WebSocketDeleteHandle(h);
  p = (WEB_SOCKET_PROPERTY){WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE, &yes, 4};
  CHECK_OK(WebSocketCreateClientHandle(&p, 1, &h));
  CHECK(h != NULL && h != (WEB_SOCKET_HANDLE)(INT_PTR)-1);
  WebSocketDeleteHandle(h);
}

/* Every entry point with a handle value that is not (or no longer) a handle. */
static void bad_handle(WEB_SOCKET_HANDLE h) {
  WEB_SOCKET_HTTP_HEADER *hdrs = NULL, req[1] = {t_hdr("Host", "x")};
  ULONG n = 0, count = 1;
  WEB_SOCKET_BUFFER b[1];
  WEB_SOCKET_ACTION action = WEB_SOCKET_SEND_TO_NETWORK_ACTION;
  WEB_SOCKET_BUFFER_TYPE type;
  PVOID app, tok = (PVOID)1;
  CHECK_HR(WebSocketBeginClientHandshake(h, NULL, 0, NULL, 0, NULL, 0, &hdrs, &n), E_INVALIDARG);
  CHECK_HR(WebSocketEndClientHandshake(h, req, 1, NULL, NULL, NULL), E_INVALIDARG);
  CHECK_HR(WebSocketBeginServerHandshake(h, NULL, NULL, 0, req, 1, &hdrs, &n), E_INVALIDARG);
  CHECK_HR(WebSocketEndServerHandshake(h), E_INVALIDARG);
  CHECK_HR(t_send(h, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, "x", 1, NULL), E_INVALIDARG);
  CHECK_HR(WebSocketReceive(h, NULL, NULL), E_INVALIDARG);
  CHECK_HR(WebSocketGetAction(h, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, &app, &tok), E_INVALIDARG);
  CHECK(action == WEB_SOCKET_NO_ACTION && count == 0 && tok == NULL);
  WebSocketCompleteAction(h, (PVOID)1, 10);
  WebSocketAbortHandle(h);
  WebSocketDeleteHandle(h);
}

static void handles(void) {
  bad_handle(NULL);
  bad_handle((WEB_SOCKET_HANDLE)(INT_PTR)-1);
  bad_handle((WEB_SOCKET_HANDLE)(INT_PTR)1);
  bad_handle((WEB_SOCKET_HANDLE)(INT_PTR)0x12345678);
  bad_handle((WEB_SOCKET_HANDLE)(INT_PTR)0x7ffffffffff0LL);
  /* Stale: deleted handles, deleted twice, and neighbours of a live handle's value. */
  WEB_SOCKET_HANDLE live = client(), dead = client(), dead2 = server();
  WebSocketDeleteHandle(dead);
  WebSocketDeleteHandle(dead2);
  bad_handle(dead);
  bad_handle(dead2);
  WebSocketDeleteHandle(dead);
  bad_handle((WEB_SOCKET_HANDLE)((UINT_PTR)live + 1));
  bad_handle((WEB_SOCKET_HANDLE)((UINT_PTR)live ^ ((UINT_PTR)1 << (sizeof(void *) * 8 - 4))));
  /* A new handle does not revive the old value. */
  WEB_SOCKET_HANDLE again = client();
  if (again == dead) {
    /* The same value may come back only as a working new handle. */
    WEB_SOCKET_HTTP_HEADER *hdrs;
    ULONG n;
    CHECK_OK(WebSocketBeginClientHandshake(again, NULL, 0, NULL, 0, NULL, 0, &hdrs, &n));
  }
  /* The live handle still works. */
  WEB_SOCKET_HTTP_HEADER *hdrs = NULL;
  ULONG n = 0;
  CHECK_OK(WebSocketBeginClientHandshake(live, NULL, 0, NULL, 0, NULL, 0, &hdrs, &n));
  WebSocketDeleteHandle(live);
  WebSocketDeleteHandle(again);
  WebSocketDeleteHandle(live);
}

static void wrong_state(void) {
  WEB_SOCKET_HANDLE c = client(), s = server();
  WEB_SOCKET_HTTP_HEADER *hdrs = NULL, req[1] = {t_hdr("Host", "x")};
  ULONG n = 0, count = 1;
  WEB_SOCKET_BUFFER b[2];
  WEB_SOCKET_ACTION action;
  WEB_SOCKET_BUFFER_TYPE type;
  PVOID app, tok;

  /* Created: no session calls; role mismatches are E_INVALIDARG. */
  CHECK_HR(t_send(c, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, "x", 1, NULL), E_INVALID_PROTOCOL_OPERATION);
  CHECK_HR(WebSocketReceive(s, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);
  CHECK_HR(WebSocketGetAction(c, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, &app, &tok),
           E_INVALID_PROTOCOL_OPERATION);
  CHECK_HR(WebSocketEndClientHandshake(c, req, 1, NULL, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);
  CHECK_HR(WebSocketEndServerHandshake(s), E_INVALID_PROTOCOL_OPERATION);
  CHECK_HR(WebSocketBeginServerHandshake(c, NULL, NULL, 0, req, 1, &hdrs, &n), E_INVALIDARG);
  CHECK_HR(WebSocketBeginClientHandshake(s, NULL, 0, NULL, 0, NULL, 0, &hdrs, &n), E_INVALIDARG);
  CHECK_HR(WebSocketEndServerHandshake(c), E_INVALIDARG);
  CHECK_HR(WebSocketEndClientHandshake(s, req, 1, NULL, NULL, NULL), E_INVALIDARG);
  WebSocketAbortHandle(c); /* no-op before the handshake */
  WebSocketAbortHandle(s);

  /* NULL outputs and arrays with counts. */
  CHECK_HR(WebSocketBeginClientHandshake(c, NULL, 0, NULL, 0, NULL, 0, NULL, &n), E_INVALIDARG);
  CHECK_HR(WebSocketBeginClientHandshake(c, NULL, 0, NULL, 0, NULL, 0, &hdrs, NULL), E_INVALIDARG);
  CHECK_HR(WebSocketBeginClientHandshake(c, NULL, 1, NULL, 0, NULL, 0, &hdrs, &n), E_INVALIDARG);
  CHECK_HR(WebSocketBeginClientHandshake(c, NULL, 0, NULL, 1, NULL, 0, &hdrs, &n), E_INVALIDARG);
  CHECK_HR(WebSocketBeginClientHandshake(c, NULL, 0, NULL, 0, NULL, 1, &hdrs, &n), E_INVALIDARG);
  PCSTR bad_proto[1] = {"not a token"};
  CHECK_HR(WebSocketBeginClientHandshake(c, bad_proto, 1, NULL, 0, NULL, 0, &hdrs, &n), E_INVALIDARG);
  PCSTR empty_proto[1] = {""};
  CHECK_HR(WebSocketBeginClientHandshake(c, empty_proto, 1, NULL, 0, NULL, 0, &hdrs, &n), E_INVALIDARG);
  PCSTR bad_ext[1] = {"x\r\ny"};
  CHECK_HR(WebSocketBeginClientHandshake(c, NULL, 0, bad_ext, 1, NULL, 0, &hdrs, &n), E_INVALIDARG);
  CHECK_HR(WebSocketBeginServerHandshake(s, NULL, NULL, 0, NULL, 1, &hdrs, &n), E_INVALIDARG);
  CHECK_HR(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req, 1, NULL, &n), E_INVALIDARG);
  WEB_SOCKET_HTTP_HEADER null_name = {NULL, 4, (PCHAR) "x", 1};
  CHECK_HR(WebSocketBeginServerHandshake(s, NULL, NULL, 0, &null_name, 1, &hdrs, &n), E_INVALIDARG);

  /* Handshaking: Begin twice; then a full handshake. */
  CHECK_OK(WebSocketBeginClientHandshake(c, NULL, 0, NULL, 0, NULL, 0, &hdrs, &n));
  CHECK_HR(WebSocketBeginClientHandshake(c, NULL, 0, NULL, 0, NULL, 0, &hdrs, &n), E_INVALID_PROTOCOL_OPERATION);
  CHECK_HR(t_send(c, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, "x", 1, NULL), E_INVALID_PROTOCOL_OPERATION);
  CHECK_HR(WebSocketEndClientHandshake(c, NULL, 1, NULL, NULL, NULL), E_INVALIDARG);
  WebSocketDeleteHandle(c);
  WebSocketDeleteHandle(s);

  c = client();
  s = server();
  REQUIRE(t_handshake(c, s));
  CHECK_HR(WebSocketBeginClientHandshake(c, NULL, 0, NULL, 0, NULL, 0, &hdrs, &n), E_INVALID_PROTOCOL_OPERATION);
  CHECK_HR(WebSocketBeginServerHandshake(s, NULL, NULL, 0, req, 1, &hdrs, &n), E_INVALID_PROTOCOL_OPERATION);

  /* GetAction arguments. */
  count = 1;
  CHECK_HR(WebSocketGetAction(c, (WEB_SOCKET_ACTION_QUEUE)0, b, &count, &action, &type, &app, &tok), E_INVALIDARG);
  count = 1;
  CHECK_HR(WebSocketGetAction(c, (WEB_SOCKET_ACTION_QUEUE)4, b, &count, &action, &type, &app, &tok), E_INVALIDARG);
  count = 0;
  action = WEB_SOCKET_SEND_TO_NETWORK_ACTION;
  tok = (PVOID)1;
  CHECK_HR(WebSocketGetAction(c, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, &app, &tok), E_INVALIDARG);
  CHECK(action == WEB_SOCKET_NO_ACTION && count == 0 && tok == NULL);
  count = 1;
  CHECK_HR(WebSocketGetAction(c, WEB_SOCKET_ALL_ACTION_QUEUE, NULL, &count, &action, &type, &app, &tok), E_INVALIDARG);
  count = 1;
  CHECK_HR(WebSocketGetAction(c, WEB_SOCKET_ALL_ACTION_QUEUE, b, NULL, &action, &type, &app, &tok), E_INVALIDARG);
  CHECK_HR(WebSocketGetAction(c, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, NULL, &type, &app, &tok), E_INVALIDARG);
  count = 1;
  CHECK_OK(WebSocketGetAction(c, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, NULL, &tok));
  CHECK(action == WEB_SOCKET_NO_ACTION && tok == NULL);

  /* Send arguments. */
  CHECK_HR(t_send(c, (WEB_SOCKET_BUFFER_TYPE)0x80000007u, "x", 1, NULL), E_INVALIDARG);
  CHECK_HR(t_send(c, (WEB_SOCKET_BUFFER_TYPE)0, "x", 1, NULL), E_INVALIDARG);
  CHECK_HR(t_send(c, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, NULL, 5, NULL), E_INVALIDARG);
  char reason[127];
  memset(reason, 'r', sizeof reason);
  reason[124] = 0;
  CHECK_HR(t_send_close(c, 1000, reason), E_INVALIDARG); /* 124 bytes */
  CHECK_HR(t_send_close(c, 1005, "x"), E_INVALIDARG);
  CHECK_HR(t_send(c, WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE, reason, 126, NULL), E_INVALIDARG);
  CHECK_HR(t_send(c, WEB_SOCKET_PING_PONG_BUFFER_TYPE, reason, 126, NULL), E_INVALIDARG);
  /* Receive arguments. */
  WEB_SOCKET_BUFFER rb;
  rb.Data.pbBuffer = (PBYTE)reason;
  rb.Data.ulBufferLength = 0;
  CHECK_HR(WebSocketReceive(c, &rb, NULL), E_INVALIDARG);
  rb.Data.pbBuffer = NULL;
  rb.Data.ulBufferLength = 10;
  CHECK_HR(WebSocketReceive(c, &rb, NULL), E_INVALIDARG);

  /* Forged and repeated action tokens are ignored. */
  WebSocketCompleteAction(c, NULL, 0);
  WebSocketCompleteAction(c, (PVOID)1, 100);
  WebSocketCompleteAction(c, (PVOID)&rb, 100);
  WebSocketCompleteAction(c, (PVOID)(INT_PTR)-1, 100);

  /* A real action completed with a foreign handle (ignored), then for real, then twice. */
  CHECK_OK(t_send(c, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, "abc", 3, NULL));
  count = 2;
  CHECK_OK(WebSocketGetAction(c, WEB_SOCKET_SEND_ACTION_QUEUE, b, &count, &action, &type, &app, &tok));
  CHECK(action == WEB_SOCKET_SEND_TO_NETWORK_ACTION);
  ULONG total = 0;
  for (ULONG i = 0; i < count; i++) total += b[i].Data.ulBufferLength;
  CHECK(total == 2 + 4 + 3);
  PVOID send_tok = tok;
  WebSocketCompleteAction(s, send_tok, total); /* the server does not know this token */
  count = 2;
  CHECK_OK(WebSocketGetAction(c, WEB_SOCKET_SEND_ACTION_QUEUE, b, &count, &action, &type, &app, &tok));
  CHECK(action == WEB_SOCKET_NO_ACTION); /* still outstanding */
  WebSocketCompleteAction(c, send_tok, total);
  count = 2;
  CHECK_OK(WebSocketGetAction(c, WEB_SOCKET_SEND_ACTION_QUEUE, b, &count, &action, &type, &app, &tok));
  CHECK(action == WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION);
  WebSocketCompleteAction(c, tok, 0);
  WebSocketCompleteAction(c, tok, 0);           /* twice */
  WebSocketCompleteAction(c, send_tok, total);  /* stale */
  count = 2;
  CHECK_OK(WebSocketGetAction(c, WEB_SOCKET_SEND_ACTION_QUEUE, b, &count, &action, &type, &app, &tok));
  CHECK(action == WEB_SOCKET_NO_ACTION);
  CHECK_OK(t_send(c, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, "abc", 3, NULL)); /* still usable */
  WebSocketAbortHandle(c);
  WebSocketAbortHandle(c); /* idempotent */
  CHECK_HR(t_send(c, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, "x", 1, NULL), E_INVALID_PROTOCOL_OPERATION);
  CHECK_HR(WebSocketReceive(c, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);
  WebSocketDeleteHandle(c);

  /* Abort with a receive pending: the drain gives an aborted close indication, then NO_ACTION. */
  CHECK_OK(WebSocketReceive(s, NULL, (PVOID)7));
  CHECK_OK(t_send(s, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, "abc", 3, (PVOID)8));
  WebSocketAbortHandle(s);
  int send_done = 0, recv_done = 0;
  for (int i = 0; i < 10; i++) {
    count = 1;
    HRESULT hr = WebSocketGetAction(s, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, &app, &tok);
    CHECK_OK(hr);
    if (hr != S_OK || action == WEB_SOCKET_NO_ACTION) break;
    CHECK(action == WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION || action == WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION);
    if (action == WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION) {
      send_done++;
      CHECK(app == (PVOID)8);
    } else if (action == WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION) {
      recv_done++;
      CHECK(app == (PVOID)7 && type == WEB_SOCKET_CLOSE_BUFFER_TYPE && count == 1);
      CHECK(b[0].CloseStatus.usStatus == 1006 && b[0].CloseStatus.pbReason == NULL);
    }
    WebSocketCompleteAction(s, tok, 12345);
  }
  CHECK(send_done == 1 && recv_done == 1);
  WebSocketDeleteHandle(s);
}

/* Delete with actions in flight: the caller's memory is not touched afterwards. */
static void delete_in_flight(void) {
  WEB_SOCKET_HANDLE c = client(), s = server();
  REQUIRE(t_handshake(c, s));
  static BYTE payload[100000];
  CHECK_OK(t_send(c, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, payload, sizeof payload, NULL));
  CHECK_OK(WebSocketReceive(s, NULL, NULL));
  WEB_SOCKET_BUFFER b[2];
  ULONG count = 2;
  WEB_SOCKET_ACTION action;
  WEB_SOCKET_BUFFER_TYPE type;
  PVOID app, tok;
  CHECK_OK(WebSocketGetAction(c, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, &app, &tok));
  CHECK(action == WEB_SOCKET_SEND_TO_NETWORK_ACTION);
  count = 1;
  CHECK_OK(WebSocketGetAction(s, WEB_SOCKET_RECEIVE_ACTION_QUEUE, b, &count, &action, &type, &app, &tok));
  CHECK(action == WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION);
  WebSocketDeleteHandle(c);
  WebSocketDeleteHandle(s);
  WebSocketCompleteAction(s, tok, 10); /* after delete: ignored */
}

int main(void) {
  t_begin("misuse");
  global_property();
  create();
  handles();
  wrong_state();
  delete_in_flight();
  return t_end();
}
