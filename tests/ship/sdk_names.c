/*
 * sdk_names.c - code written the way programs written against the Windows SDK's websocket.h
 * spell the types: the struct, union and enum tags `struct _WEB_SOCKET_PROPERTY`,
 * `struct _WEB_SOCKET_HTTP_HEADER`, `union _WEB_SOCKET_BUFFER`, `enum _WEB_SOCKET_ACTION`, ...
 * next to the typedef names (WEB_SOCKET_BUFFER, PWEB_SOCKET_HTTP_HEADER, ...). It must compile as
 * C and as C++ with our header, for Linux and for both Windows architectures, and it runs a
 * client-server exchange: the handshake, then the server sends "hello", which travels through
 * the client's receive queue as wire bytes and arrives as one UTF-8 message.
 *
 * Used by tests/ship/run.sh: built with nothing but `pkg-config --cflags --libs websocket` from
 * an installed tree and from the release archive, and with mingw against the Windows archive.
 * Exit status 0 when every check passed.
 */
#include <stdio.h>
#include <string.h>
#if defined(_WIN32)
#include <windows.h>
#endif
#include "websocket.h"

static int failures;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      failures++;                                                     \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                 \
  } while (0)

static struct _WEB_SOCKET_HTTP_HEADER header(const char *name, const char *value) {
  struct _WEB_SOCKET_HTTP_HEADER h;
  h.pcName = (PCHAR)name;
  h.ulNameLength = (ULONG)strlen(name);
  h.pcValue = (PCHAR)value;
  h.ulValueLength = (ULONG)strlen(value);
  return h;
}

int main(void) {
  ULONG keepalive_size = sizeof(ULONG), keepalive = 0;
  enum _WEB_SOCKET_PROPERTY_TYPE keepalive_type = WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE;
  CHECK(WebSocketGetGlobalProperty((WEB_SOCKET_PROPERTY_TYPE)keepalive_type, &keepalive,
                                   &keepalive_size) == S_OK);

  ULONG rbs = 4096;
  struct _WEB_SOCKET_PROPERTY props[1];
  props[0].Type = WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE;
  props[0].pvValue = &rbs;
  props[0].ulValueSize = sizeof rbs;
  const WEB_SOCKET_PROPERTY *typed = props; /* the tag and the typedef name are one type */
  PWEB_SOCKET_PROPERTY pointer = props;
  CHECK(typed == pointer);

  WEB_SOCKET_HANDLE client = NULL, server = NULL;
  CHECK(WebSocketCreateClientHandle(props, 1, &client) == S_OK);
  CHECK(WebSocketCreateServerHandle(NULL, 0, &server) == S_OK);
  if (!client || !server) return 1;

  /* Handshake (spec §16.4): the client's request headers plus Host go to the server. */
  struct _WEB_SOCKET_HTTP_HEADER *request = NULL, request_all[16];
  PWEB_SOCKET_HTTP_HEADER response = NULL;
  ULONG nrequest = 0, nresponse = 0;
  CHECK(WebSocketBeginClientHandshake(client, NULL, 0, NULL, 0, NULL, 0, &request, &nrequest) == S_OK);
  CHECK(nrequest > 0 && nrequest < 16);
  if (nrequest == 0 || nrequest >= 16) return 1;
  memcpy(request_all, request, nrequest * sizeof *request);
  request_all[nrequest] = header("Host", "localhost");
  CHECK(WebSocketBeginServerHandshake(server, NULL, NULL, 0, request_all, nrequest + 1, &response,
                                      &nresponse) == S_OK);
  CHECK(WebSocketEndClientHandshake(client, response, nresponse, NULL, NULL, NULL) == S_OK);
  CHECK(WebSocketEndServerHandshake(server) == S_OK);

  /* The server sends "hello": one unmasked frame, 81 05 'hello'. */
  union _WEB_SOCKET_BUFFER message;
  message.Data.pbBuffer = (PBYTE) "hello";
  message.Data.ulBufferLength = 5;
  CHECK(WebSocketSend(server, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &message, NULL) == S_OK);

  WEB_SOCKET_BUFFER buffers[2];
  ULONG count = 2;
  WEB_SOCKET_ACTION action;
  WEB_SOCKET_BUFFER_TYPE type;
  PVOID app = NULL, act = NULL;
  unsigned char wire[64];
  ULONG wire_len = 0;
  CHECK(WebSocketGetAction(server, WEB_SOCKET_SEND_ACTION_QUEUE, buffers, &count, &action, &type,
                           &app, &act) == S_OK);
  enum _WEB_SOCKET_ACTION expected = WEB_SOCKET_SEND_TO_NETWORK_ACTION;
  CHECK(action == (WEB_SOCKET_ACTION)expected);
  for (ULONG i = 0; i < count && i < 2; i++) {
    union _WEB_SOCKET_BUFFER *b = &buffers[i];
    if (wire_len + b->Data.ulBufferLength <= sizeof wire) {
      memcpy(wire + wire_len, b->Data.pbBuffer, b->Data.ulBufferLength);
      wire_len += b->Data.ulBufferLength;
    }
  }
  WebSocketCompleteAction(server, act, wire_len);
  CHECK(wire_len == 7 && memcmp(wire, "\x81\x05hello", 7) == 0);
  count = 2;
  CHECK(WebSocketGetAction(server, WEB_SOCKET_SEND_ACTION_QUEUE, buffers, &count, &action, &type,
                           &app, &act) == S_OK);
  CHECK(action == WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION);
  WebSocketCompleteAction(server, act, 0);

  /* The client receives it: the wire bytes go into the buffer it asks for. */
  CHECK(WebSocketReceive(client, NULL, NULL) == S_OK);
  count = 2;
  CHECK(WebSocketGetAction(client, WEB_SOCKET_RECEIVE_ACTION_QUEUE, buffers, &count, &action,
                           &type, &app, &act) == S_OK);
  CHECK(action == WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION && count == 1);
  CHECK(buffers[0].Data.ulBufferLength >= wire_len);
  if (action != WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION || buffers[0].Data.ulBufferLength < wire_len)
    return 1;
  memcpy(buffers[0].Data.pbBuffer, wire, wire_len);
  WebSocketCompleteAction(client, act, wire_len);
  count = 2;
  CHECK(WebSocketGetAction(client, WEB_SOCKET_RECEIVE_ACTION_QUEUE, buffers, &count, &action,
                           &type, &app, &act) == S_OK);
  enum _WEB_SOCKET_BUFFER_TYPE utf8 = WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE;
  CHECK(action == WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION && count == 1);
  CHECK(type == (WEB_SOCKET_BUFFER_TYPE)utf8);
  CHECK(buffers[0].Data.ulBufferLength == 5 && memcmp(buffers[0].Data.pbBuffer, "hello", 5) == 0);
  WebSocketCompleteAction(client, act, buffers[0].Data.ulBufferLength);

  WebSocketDeleteHandle(client);
  WebSocketDeleteHandle(server);
  printf("sdk_names: keepalive %lu ms, handshake, \"hello\" server -> client: %s\n",
         (unsigned long)keepalive, failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
