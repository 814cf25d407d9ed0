/*
 * reload.c - the DLL loaded and unloaded repeatedly at run time (LoadLibraryA / FreeLibrary),
 * as a plug-in host or .NET's lazy binding would: each round binds the 13 names, checks the
 * module is ours, runs a handshake and one message between two handles (also from a second
 * thread, so the DLL sees thread attach/detach), deletes them and unloads the DLL; after
 * FreeLibrary the module must be gone. Built in loader mode only.
 */
#include "wintest.h"

enum { ROUNDS = 25 };

static DWORD WINAPI worker(LPVOID arg) {
  struct ws_api *api = (struct ws_api *)arg;
  WEB_SOCKET_HANDLE c = NULL, s = NULL;
  if (api->pWebSocketCreateClientHandle(NULL, 0, &c) != S_OK) return 1;
  if (api->pWebSocketCreateServerHandle(NULL, 0, &s) != S_OK) return 1;
  WEB_SOCKET_HTTP_HEADER *h = NULL;
  ULONG n = 0;
  if (api->pWebSocketBeginClientHandshake(c, NULL, 0, NULL, 0, NULL, 0, &h, &n) != S_OK) return 1;
  api->pWebSocketDeleteHandle(c);
  api->pWebSocketDeleteHandle(s);
  return 0;
}

int main(void) {
  t_begin("reload");
  /* The constructor of loader.h holds one reference; drop it so that each round really loads. */
  FreeLibrary(ws_api.module);
  CHECK(GetModuleHandleA("websocket.dll") == NULL);
  for (int round = 0; round < ROUNDS; round++) {
    HMODULE m = LoadLibraryA("websocket.dll");
    REQUIRE(m != NULL);
    CHECK(ws_bind_module(m, &ws_api) == WS_EXPORT_COUNT);
    struct ws_module_info info;
    CHECK(ws_check_ours(&info));

    WEB_SOCKET_HANDLE c = NULL, s = NULL;
    CHECK_OK(WebSocketCreateClientHandle(NULL, 0, &c));
    CHECK_OK(WebSocketCreateServerHandle(NULL, 0, &s));
    CHECK(t_handshake(c, s));
    t_pipe c2s = {0}, s2c = {0};
    t_peer pc, ps;
    t_peer_init(&pc, "client", c, &c2s, &s2c);
    t_peer_init(&ps, "server", s, &s2c, &c2s);
    CHECK_OK(WebSocketReceive(s, NULL, NULL));
    CHECK_OK(t_send(c, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, "round", 5, NULL));
    t_pump(&pc, &ps);
    CHECK(ps.msgs == 1 && ps.msg[0].len == 5 && memcmp(ps.msg[0].data, "round", 5) == 0);
    t_peer_free(&pc);
    t_peer_free(&ps);
    free(c2s.data);
    free(s2c.data);

    HANDLE th = CreateThread(NULL, 0, worker, &ws_api, 0, NULL);
    REQUIRE(th != NULL);
    WaitForSingleObject(th, INFINITE);
    DWORD code = 1;
    GetExitCodeThread(th, &code);
    CHECK(code == 0);
    CloseHandle(th);

    WebSocketDeleteHandle(c);
    WebSocketDeleteHandle(s);
    CHECK(FreeLibrary(m));
    CHECK(GetModuleHandleA("websocket.dll") == NULL);
  }
  /* Leave it loaded for the exit path, as the loader constructor had it. */
  ws_api.module = LoadLibraryA("websocket.dll");
  CHECK(ws_api.module != NULL);
  printf("reload: %d load/unload rounds\n", ROUNDS);
  return t_end();
}
