/*
 * global.c - WebSocketGetGlobalProperty on Windows (spec §6.12, §7.6, §15 Q30): the supported
 * versions, and the keep-alive interval read from
 * HKLM\SOFTWARE\Microsoft\WebSocket\KeepaliveInterval (DWORD; below 15000 raised to 15000;
 * absent or not a DWORD: 30000). Writes that registry value (Wine's prefix allows it; on a real
 * Windows machine without administrator rights the registry part is skipped) and restores it.
 */
#include "wintest.h"

#define KEY "SOFTWARE\\Microsoft\\WebSocket"

static ULONG keepalive(void) {
  ULONG v = 0, size = sizeof v;
  HRESULT hr = WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, &v, &size);
  CHECK_OK(hr);
  CHECK(size == 4);
  return hr == S_OK ? v : 0;
}

static DWORD WINAPI hammer(LPVOID arg) {
  (void)arg;
  for (int i = 0; i < 2000; i++) {
    ULONG v[2] = {0, 0}, size = sizeof v;
    if (WebSocketGetGlobalProperty(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, v, &size) != S_OK || v[0] != 13 ||
        size != 4)
      return 1;
  }
  return 0;
}

int main(void) {
  t_begin("global");
  ULONG v[4] = {0, 0, 0, 0}, size = sizeof v;
  CHECK_OK(WebSocketGetGlobalProperty(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, v, &size));
  CHECK(size == 4 && v[0] == 13 && v[1] == 0);

  HKEY key;
  DWORD disp;
  LONG rc = RegCreateKeyExA(HKEY_LOCAL_MACHINE, KEY, 0, NULL, 0, KEY_SET_VALUE | KEY_QUERY_VALUE, NULL, &key, &disp);
  if (rc != ERROR_SUCCESS) {
    printf("global: cannot write HKLM\\%s (error %ld): registry cases skipped\n", KEY, (long)rc);
    CHECK(keepalive() >= 15000);
  } else {
    /* Save and remove a value left by someone else. */
    DWORD saved = 0, saved_size = sizeof saved, saved_type = 0;
    int had = RegQueryValueExA(key, "KeepaliveInterval", NULL, &saved_type, (BYTE *)&saved, &saved_size) ==
              ERROR_SUCCESS;
    RegDeleteValueA(key, "KeepaliveInterval");
    CHECK(keepalive() == 30000);

    static const DWORD in[] = {20000, 15000, 14999, 5000, 0, 600000, 0xFFFFFFFFu};
    static const DWORD out[] = {20000, 15000, 15000, 15000, 15000, 600000, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
      CHECK(RegSetValueExA(key, "KeepaliveInterval", 0, REG_DWORD, (const BYTE *)&in[i], 4) == ERROR_SUCCESS);
      ULONG got = keepalive();
      if (got != out[i]) fprintf(stderr, "global: registry %lu gave %lu\n", (unsigned long)in[i], (unsigned long)got);
      CHECK(got == out[i]);
    }
    /* Not a DWORD: ignored. */
    CHECK(RegSetValueExA(key, "KeepaliveInterval", 0, REG_SZ, (const BYTE *)"20000", 6) == ERROR_SUCCESS);
    CHECK(keepalive() == 30000);
    RegDeleteValueA(key, "KeepaliveInterval");
    CHECK(keepalive() == 30000);
    if (had) RegSetValueExA(key, "KeepaliveInterval", 0, saved_type, (const BYTE *)&saved, saved_size);
    RegCloseKey(key);
    if (disp == REG_CREATED_NEW_KEY && !had) RegDeleteKeyA(HKEY_LOCAL_MACHINE, KEY);
  }

  /* Thread-safe, from several threads at once. */
  HANDLE th[4];
  for (int i = 0; i < 4; i++) th[i] = CreateThread(NULL, 0, hammer, NULL, 0, NULL);
  WaitForMultipleObjects(4, th, TRUE, INFINITE);
  for (int i = 0; i < 4; i++) {
    DWORD code = 1;
    GetExitCodeThread(th[i], &code);
    CHECK(code == 0);
    CloseHandle(th[i]);
  }
  return t_end();
}
