/*
 * ours.h - proves that the websocket.dll a test program runs against is this project's DLL,
 * copied next to the exe, and not Wine's builtin websocket.dll (whose exports are stubs that
 * abort the process) nor any other copy on the search path.
 *
 * Checks, on the module handle of "websocket.dll":
 *   - GetModuleFileNameA is <directory of the exe>\websocket.dll, or the path in the environment
 *     variable WS_EXPECTED_DLL when set (a DLL installed into the Wine prefix's system
 *     directory, scripts/install.sh --wine);
 *   - the image is not a Wine builtin PE ("Wine builtin DLL" signature after the DOS header);
 *   - its export directory names the module "websocket.dll" and holds exactly the 13 names;
 *   - GetProcAddress finds all 13 names, inside the image;
 *   - when the exe imports websocket.dll (linked with -lwebsocket), every import slot of that
 *     DLL points into this module.
 *
 * A constructor runs the checks before main and exits with status 3 if they fail, so this file
 * can be force-included (gcc -include) into programs that do not know about it. In loader mode
 * (-DWS_USE_LOADER, see loader.h) the DLL is loaded by loader.h's constructor first.
 */
#ifndef WS_TESTS_WINDOWS_OURS_H
#define WS_TESTS_WINDOWS_OURS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include "loader.h"

struct ws_module_info {
  char path[MAX_PATH];
  int exports;        /* names in the export directory */
  int resolved;       /* names found with GetProcAddress */
  int imports_bound;  /* import slots of the exe that point into the module (-lwebsocket) */
};

static inline int ws_in_image(const void *p, HMODULE m, DWORD size) {
  return (const BYTE *)p >= (const BYTE *)m && (const BYTE *)p < (const BYTE *)m + size;
}

/* Returns 1 if the loaded websocket.dll is ours; prints the reason to stderr otherwise. */
static inline int ws_check_ours(struct ws_module_info *info) {
  static const char *const names[WS_EXPORT_COUNT] = {
#define WS_NAME(name) #name,
      WS_EXPORTS(WS_NAME)
#undef WS_NAME
  };
  char exe[MAX_PATH], expected[MAX_PATH + 32];
  memset(info, 0, sizeof *info);

  HMODULE m = GetModuleHandleA("websocket.dll");
  /* A program that calls none of the functions has no import to bind: load it for the check. */
  if (!m) m = LoadLibraryA("websocket.dll");
  if (!m) {
    fprintf(stderr, "ours: websocket.dll cannot be loaded: %lu\n", (unsigned long)GetLastError());
    return 0;
  }
  DWORD n = GetModuleFileNameA(m, info->path, sizeof info->path);
  DWORD e = GetModuleFileNameA(NULL, exe, sizeof exe);
  if (n == 0 || n >= sizeof info->path || e == 0 || e >= sizeof exe) {
    fprintf(stderr, "ours: GetModuleFileNameA failed\n");
    return 0;
  }
  char *slash = strrchr(exe, '\\');
  if (!slash) {
    fprintf(stderr, "ours: odd exe path %s\n", exe);
    return 0;
  }
  *slash = 0;
  const char *want = getenv("WS_EXPECTED_DLL");
  if (want && *want)
    snprintf(expected, sizeof expected, "%s", want);
  else
    snprintf(expected, sizeof expected, "%s\\websocket.dll", exe);
  if (lstrcmpiA(info->path, expected) != 0) {
    fprintf(stderr, "ours: websocket.dll loaded from %s, expected %s\n", info->path, expected);
    return 0;
  }

  const BYTE *base = (const BYTE *)m;
  if (memcmp(base + 0x40, "Wine builtin DLL", 16) == 0) {
    fprintf(stderr, "ours: %s is a Wine builtin DLL\n", info->path);
    return 0;
  }
  const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)base;
  const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
  if (dos->e_magic != IMAGE_DOS_SIGNATURE || nt->Signature != IMAGE_NT_SIGNATURE) {
    fprintf(stderr, "ours: not a PE image\n");
    return 0;
  }
  DWORD image_size = nt->OptionalHeader.SizeOfImage;
  const IMAGE_DATA_DIRECTORY *dir = &nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT];
  if (dir->VirtualAddress == 0) {
    fprintf(stderr, "ours: no export directory\n");
    return 0;
  }
  const IMAGE_EXPORT_DIRECTORY *exp = (const IMAGE_EXPORT_DIRECTORY *)(base + dir->VirtualAddress);
  const char *dll_name = (const char *)(base + exp->Name);
  if (lstrcmpiA(dll_name, "websocket.dll") != 0) {
    fprintf(stderr, "ours: export directory names the module %s\n", dll_name);
    return 0;
  }
  if (exp->NumberOfNames != WS_EXPORT_COUNT || exp->NumberOfFunctions != WS_EXPORT_COUNT) {
    fprintf(stderr, "ours: %lu names / %lu functions exported, expected 13\n",
            (unsigned long)exp->NumberOfNames, (unsigned long)exp->NumberOfFunctions);
    return 0;
  }
  const DWORD *name_rvas = (const DWORD *)(base + exp->AddressOfNames);
  for (int i = 0; i < WS_EXPORT_COUNT; i++) {
    const char *got = (const char *)(base + name_rvas[i]);
    if (strcmp(got, names[i]) != 0) {
      fprintf(stderr, "ours: export #%d is %s, expected %s\n", i, got, names[i]);
      return 0;
    }
    info->exports++;
  }

  for (int i = 0; i < WS_EXPORT_COUNT; i++) {
    FARPROC p = GetProcAddress(m, names[i]);
    if (!p || !ws_in_image((const void *)p, m, image_size)) {
      fprintf(stderr, "ours: GetProcAddress(%s) = %p, not in the image\n", names[i], (void *)p);
      return 0;
    }
    info->resolved++;
  }

  /* The exe's own import table: if it imports websocket.dll, every slot must point into m. */
  const BYTE *xbase = (const BYTE *)GetModuleHandleA(NULL);
  const IMAGE_NT_HEADERS *xnt =
      (const IMAGE_NT_HEADERS *)(xbase + ((const IMAGE_DOS_HEADER *)xbase)->e_lfanew);
  const IMAGE_DATA_DIRECTORY *idir = &xnt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
  if (idir->VirtualAddress) {
    const IMAGE_IMPORT_DESCRIPTOR *d = (const IMAGE_IMPORT_DESCRIPTOR *)(xbase + idir->VirtualAddress);
    for (; d->Name; d++) {
      if (lstrcmpiA((const char *)(xbase + d->Name), "websocket.dll") != 0) continue;
      const IMAGE_THUNK_DATA *t = (const IMAGE_THUNK_DATA *)(xbase + d->FirstThunk);
      for (; t->u1.Function; t++) {
        if (!ws_in_image((const void *)(ULONG_PTR)t->u1.Function, m, image_size)) {
          fprintf(stderr, "ours: an import slot of websocket.dll points outside %s\n", info->path);
          return 0;
        }
        info->imports_bound++;
      }
    }
  }
  return 1;
}

/* Prints one line describing the module, for the test logs. Returns 1 if ours. */
static inline int ws_report_module(void) {
  struct ws_module_info info;
  if (!ws_check_ours(&info)) return 0;
  printf("module: %s (ours: %d exports, %d resolved, %d import slots bound)\n", info.path,
         info.exports, info.resolved, info.imports_bound);
  return 1;
}

__attribute__((constructor(102))) static void ws_ours_ctor(void) {
  struct ws_module_info info;
  if (!ws_check_ours(&info)) {
    fprintf(stderr, "ours: refusing to run against a websocket.dll that is not ours\n");
    fflush(stderr);
    exit(3);
  }
}

#endif /* WS_TESTS_WINDOWS_OURS_H */
