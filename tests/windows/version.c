/*
 * version.c - reads the VERSIONINFO resource of the loaded websocket.dll the way Windows' file
 * properties and installers do (GetFileVersionInfoA + VerQueryValueA, version.dll) and checks it:
 * the fixed file and product versions and the FileVersion / ProductVersion strings equal the
 * version given on the command line (the crate version), OriginalFilename is websocket.dll, the
 * file type is VFT_DLL, and ProductName / FileDescription are present.
 *
 * Usage: version.exe X.Y.Z
 */
#include "wintest.h"

static const char *query_string(const BYTE *info, const char *key) {
  char path[128];
  void *value = NULL;
  UINT len = 0;
  snprintf(path, sizeof path, "\\StringFileInfo\\040904b0\\%s", key);
  if (!VerQueryValueA(info, path, &value, &len) || len == 0) return NULL;
  return (const char *)value;
}

int main(int argc, char **argv) {
  t_begin("version");
  if (argc != 2) {
    fprintf(stderr, "usage: version.exe X.Y.Z\n");
    return 2;
  }
  const char *want = argv[1];
  unsigned major = 0, minor = 0, patch = 0;
  CHECK(sscanf(want, "%u.%u.%u", &major, &minor, &patch) == 3);

  HMODULE m = GetModuleHandleA("websocket.dll");
  char path[MAX_PATH];
  CHECK(m != NULL && GetModuleFileNameA(m, path, sizeof path) > 0);
  DWORD ignored = 0;
  DWORD size = GetFileVersionInfoSizeA(path, &ignored);
  CHECK(size > 0);
  BYTE *info = malloc(size ? size : 1);
  CHECK(info && GetFileVersionInfoA(path, 0, size, info));

  VS_FIXEDFILEINFO *fixed = NULL;
  UINT len = 0;
  CHECK(VerQueryValueA(info, "\\", (void **)&fixed, &len) && len >= sizeof *fixed);
  if (fixed) {
    CHECK(fixed->dwSignature == 0xFEEF04BD);
    CHECK(fixed->dwFileVersionMS == ((major << 16) | minor));
    CHECK(fixed->dwFileVersionLS == (patch << 16));
    CHECK(fixed->dwProductVersionMS == ((major << 16) | minor));
    CHECK(fixed->dwProductVersionLS == (patch << 16));
    CHECK(fixed->dwFileType == VFT_DLL);
    printf("fixed: %u.%u.%u.%u, type %lu\n", (unsigned)HIWORD(fixed->dwFileVersionMS),
           (unsigned)LOWORD(fixed->dwFileVersionMS), (unsigned)HIWORD(fixed->dwFileVersionLS),
           (unsigned)LOWORD(fixed->dwFileVersionLS), (unsigned long)fixed->dwFileType);
  }
  static const char *const keys[] = {"FileVersion", "ProductVersion", "OriginalFilename",
                                     "ProductName", "FileDescription"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    const char *v = query_string(info, keys[i]);
    CHECK(v != NULL);
    printf("%s: %s\n", keys[i], v ? v : "(missing)");
  }
  const char *fv = query_string(info, "FileVersion");
  const char *pv = query_string(info, "ProductVersion");
  const char *of = query_string(info, "OriginalFilename");
  CHECK(fv && strcmp(fv, want) == 0);
  CHECK(pv && strcmp(pv, want) == 0);
  CHECK(of && strcmp(of, "websocket.dll") == 0);
  const char *fd = query_string(info, "FileDescription");
  CHECK(fd && strstr(fd, sizeof(void *) == 8 ? "(64-bit)" : "(32-bit)") != NULL);
  free(info);
  return t_end();
}
