/*
 * loader.h - run-time binding of websocket.dll: LoadLibraryA + GetProcAddress for the 13 exports.
 *
 * The function-pointer types are written out from the prototypes of include/websocket.h and
 * checked against them at compile time (__builtin_types_compatible_p on the declared functions,
 * which references no symbol), so a drift between the header and these typedefs, including the
 * WINAPI calling convention on i686, fails the build.
 *
 * Without WS_USE_LOADER this header only declares the types. With -DWS_USE_LOADER the 13 names
 * are redirected (after websocket.h has been read) to pointers filled by a constructor that runs
 * before main: the same test source then runs linked through mingw's import library
 * (-lwebsocket) or bound at run time. A program may also call ws_loader_bind() itself.
 */
#ifndef WS_TESTS_WINDOWS_LOADER_H
#define WS_TESTS_WINDOWS_LOADER_H

#include <stdio.h>
#include <stdlib.h>
#include <windows.h>
#include "websocket.h"

typedef HRESULT(WINAPI *PFN_WebSocketGetGlobalProperty)(WEB_SOCKET_PROPERTY_TYPE eType,
                                                        PVOID pvValue, ULONG *ulSize);
typedef HRESULT(WINAPI *PFN_WebSocketCreateClientHandle)(const WEB_SOCKET_PROPERTY *pProperties,
                                                         ULONG ulPropertyCount,
                                                         WEB_SOCKET_HANDLE *phWebSocket);
typedef HRESULT(WINAPI *PFN_WebSocketCreateServerHandle)(const WEB_SOCKET_PROPERTY *pProperties,
                                                         ULONG ulPropertyCount,
                                                         WEB_SOCKET_HANDLE *phWebSocket);
typedef VOID(WINAPI *PFN_WebSocketDeleteHandle)(WEB_SOCKET_HANDLE hWebSocket);
typedef VOID(WINAPI *PFN_WebSocketAbortHandle)(WEB_SOCKET_HANDLE hWebSocket);
typedef HRESULT(WINAPI *PFN_WebSocketBeginClientHandshake)(
    WEB_SOCKET_HANDLE hWebSocket, PCSTR *pszSubprotocols, ULONG ulSubprotocolCount,
    PCSTR *pszExtensions, ULONG ulExtensionCount,
    const WEB_SOCKET_HTTP_HEADER *pInitialHeaders, ULONG ulInitialHeaderCount,
    WEB_SOCKET_HTTP_HEADER **pAdditionalHeaders, ULONG *pulAdditionalHeaderCount);
typedef HRESULT(WINAPI *PFN_WebSocketEndClientHandshake)(
    WEB_SOCKET_HANDLE hWebSocket, const WEB_SOCKET_HTTP_HEADER *pResponseHeaders,
    ULONG ulReponseHeaderCount, ULONG *pulSelectedExtensions, ULONG *pulSelectedExtensionCount,
    ULONG *pulSelectedSubprotocol);
typedef HRESULT(WINAPI *PFN_WebSocketBeginServerHandshake)(
    WEB_SOCKET_HANDLE hWebSocket, PCSTR pszSubprotocolSelected, PCSTR *pszExtensionSelected,
    ULONG ulExtensionSelectedCount, const WEB_SOCKET_HTTP_HEADER *pRequestHeaders,
    ULONG ulRequestHeaderCount, WEB_SOCKET_HTTP_HEADER **pResponseHeaders,
    ULONG *pulResponseHeaderCount);
typedef HRESULT(WINAPI *PFN_WebSocketEndServerHandshake)(WEB_SOCKET_HANDLE hWebSocket);
typedef HRESULT(WINAPI *PFN_WebSocketSend)(WEB_SOCKET_HANDLE hWebSocket,
                                           WEB_SOCKET_BUFFER_TYPE BufferType,
                                           WEB_SOCKET_BUFFER *pBuffer, PVOID Context);
typedef HRESULT(WINAPI *PFN_WebSocketReceive)(WEB_SOCKET_HANDLE hWebSocket,
                                              WEB_SOCKET_BUFFER *pBuffer, PVOID pvContext);
typedef HRESULT(WINAPI *PFN_WebSocketGetAction)(
    WEB_SOCKET_HANDLE hWebSocket, WEB_SOCKET_ACTION_QUEUE eActionQueue,
    WEB_SOCKET_BUFFER *pDataBuffers, ULONG *pulDataBufferCount, WEB_SOCKET_ACTION *pAction,
    WEB_SOCKET_BUFFER_TYPE *pBufferType, PVOID *pvApplicationContext, PVOID *pvActionContext);
typedef VOID(WINAPI *PFN_WebSocketCompleteAction)(WEB_SOCKET_HANDLE hWebSocket,
                                                  PVOID pvActionContext, ULONG ulBytesTransferred);

/* The list of exports: X(name). Alphabetical, as in the DLL's export table. */
#define WS_EXPORTS(X)                  \
  X(WebSocketAbortHandle)              \
  X(WebSocketBeginClientHandshake)     \
  X(WebSocketBeginServerHandshake)     \
  X(WebSocketCompleteAction)           \
  X(WebSocketCreateClientHandle)       \
  X(WebSocketCreateServerHandle)       \
  X(WebSocketDeleteHandle)             \
  X(WebSocketEndClientHandshake)       \
  X(WebSocketEndServerHandshake)       \
  X(WebSocketGetAction)                \
  X(WebSocketGetGlobalProperty)        \
  X(WebSocketReceive)                  \
  X(WebSocketSend)

#define WS_EXPORT_COUNT 13

/* Each typedef has exactly the type of the header's prototype (return, parameters, convention). */
#define WS_CHECK_TYPE(name)                                                                     \
  _Static_assert(__builtin_types_compatible_p(__typeof__(&name), PFN_##name),                   \
                 "loader.h: PFN_" #name " differs from the prototype in websocket.h");
WS_EXPORTS(WS_CHECK_TYPE)
#undef WS_CHECK_TYPE

/* The bound entry points. */
struct ws_api {
  HMODULE module;
#define WS_FIELD(name) PFN_##name p##name;
  WS_EXPORTS(WS_FIELD)
#undef WS_FIELD
};

static struct ws_api ws_api __attribute__((unused));

/*
 * Fills `api` from an already loaded module. Returns the number of exports found (13 when all
 * are there); prints the missing names to stderr.
 */
static inline int ws_bind_module(HMODULE module, struct ws_api *api) {
  int found = 0;
  api->module = module;
#define WS_BIND(name)                                                        \
  api->p##name = (PFN_##name)(void (*)(void))GetProcAddress(module, #name); \
  if (api->p##name) {                                                        \
    found++;                                                                 \
  } else {                                                                   \
    fprintf(stderr, "loader: GetProcAddress(%s) failed: %lu\n", #name,       \
            (unsigned long)GetLastError());                                  \
  }
  WS_EXPORTS(WS_BIND)
#undef WS_BIND
  return found;
}

#ifdef WS_USE_LOADER

/* LoadLibraryA("websocket.dll") and bind all 13 names into ws_api; exits with 3 on failure. */
static inline void ws_loader_bind(void) {
  if (ws_api.module) return;
  HMODULE m = LoadLibraryA("websocket.dll");
  if (!m) {
    fprintf(stderr, "loader: LoadLibraryA(websocket.dll) failed: %lu\n",
            (unsigned long)GetLastError());
    exit(3);
  }
  if (ws_bind_module(m, &ws_api) != WS_EXPORT_COUNT) exit(3);
}

__attribute__((constructor(101))) static void ws_loader_ctor(void) { ws_loader_bind(); }

#define WebSocketAbortHandle (ws_api.pWebSocketAbortHandle)
#define WebSocketBeginClientHandshake (ws_api.pWebSocketBeginClientHandshake)
#define WebSocketBeginServerHandshake (ws_api.pWebSocketBeginServerHandshake)
#define WebSocketCompleteAction (ws_api.pWebSocketCompleteAction)
#define WebSocketCreateClientHandle (ws_api.pWebSocketCreateClientHandle)
#define WebSocketCreateServerHandle (ws_api.pWebSocketCreateServerHandle)
#define WebSocketDeleteHandle (ws_api.pWebSocketDeleteHandle)
#define WebSocketEndClientHandshake (ws_api.pWebSocketEndClientHandshake)
#define WebSocketEndServerHandshake (ws_api.pWebSocketEndServerHandshake)
#define WebSocketGetAction (ws_api.pWebSocketGetAction)
#define WebSocketGetGlobalProperty (ws_api.pWebSocketGetGlobalProperty)
#define WebSocketReceive (ws_api.pWebSocketReceive)
#define WebSocketSend (ws_api.pWebSocketSend)
#endif /* WS_USE_LOADER */

#endif /* WS_TESTS_WINDOWS_LOADER_H */
