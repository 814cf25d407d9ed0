/*
 * builtin.c - the opposite of ours.h: checks that "websocket.dll" resolves to Wine's own builtin
 * DLL in the prefix's system directory, as it does in a prefix where this project's DLL is not
 * installed (or was uninstalled by scripts/install.sh --wine --uninstall). Calls nothing: the
 * builtin's exports are stubs.
 *
 * Usage: builtin.exe EXPECTED-PATH     exit 0 if the builtin is loaded from EXPECTED-PATH
 */
#include <stdio.h>
#include <string.h>
#include <windows.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: builtin.exe EXPECTED-PATH\n");
    return 2;
  }
  HMODULE m = LoadLibraryA("websocket.dll");
  if (!m) {
    fprintf(stderr, "builtin: websocket.dll cannot be loaded: %lu\n", (unsigned long)GetLastError());
    return 1;
  }
  char path[MAX_PATH];
  DWORD n = GetModuleFileNameA(m, path, sizeof path);
  if (n == 0 || n >= sizeof path) {
    fprintf(stderr, "builtin: GetModuleFileNameA failed\n");
    return 1;
  }
  int is_builtin = memcmp((const BYTE *)m + 0x40, "Wine builtin DLL", 16) == 0;
  printf("module: %s (%s)\n", path, is_builtin ? "Wine builtin" : "not Wine's builtin");
  if (lstrcmpiA(path, argv[1]) != 0) {
    fprintf(stderr, "builtin: loaded from %s, expected %s\n", path, argv[1]);
    return 1;
  }
  return is_builtin ? 0 : 1;
}
