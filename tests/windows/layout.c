/*
 * layout.c - the ABI as mingw's compiler sees it through include/websocket.h (spec §1.3, §2, §3,
 * §4): sizes and offsets on x86-64 Windows (and i686 when built for it), enum and HRESULT values,
 * and that the values cross the DLL boundary intact.
 */
#include "wintest.h"

#define OFF(t, m) offsetof(t, m)

#if defined(_WIN64)
_Static_assert(sizeof(void *) == 8, "x64");
_Static_assert(sizeof(WEB_SOCKET_PROPERTY) == 24 && _Alignof(WEB_SOCKET_PROPERTY) == 8, "§2.2");
_Static_assert(OFF(WEB_SOCKET_PROPERTY, Type) == 0 && OFF(WEB_SOCKET_PROPERTY, pvValue) == 8 &&
               OFF(WEB_SOCKET_PROPERTY, ulValueSize) == 16, "§2.2 offsets");
_Static_assert(sizeof(WEB_SOCKET_HTTP_HEADER) == 32 && _Alignof(WEB_SOCKET_HTTP_HEADER) == 8, "§2.3");
_Static_assert(OFF(WEB_SOCKET_HTTP_HEADER, pcName) == 0 && OFF(WEB_SOCKET_HTTP_HEADER, ulNameLength) == 8 &&
               OFF(WEB_SOCKET_HTTP_HEADER, pcValue) == 16 && OFF(WEB_SOCKET_HTTP_HEADER, ulValueLength) == 24,
               "§2.3 offsets");
_Static_assert(sizeof(WEB_SOCKET_BUFFER) == 16 && _Alignof(WEB_SOCKET_BUFFER) == 8, "§2.4");
_Static_assert(OFF(WEB_SOCKET_BUFFER, Data.pbBuffer) == 0 && OFF(WEB_SOCKET_BUFFER, Data.ulBufferLength) == 8,
               "§2.4 Data");
_Static_assert(OFF(WEB_SOCKET_BUFFER, CloseStatus.pbReason) == 0 &&
               OFF(WEB_SOCKET_BUFFER, CloseStatus.ulReasonLength) == 8 &&
               OFF(WEB_SOCKET_BUFFER, CloseStatus.usStatus) == 12, "§2.4 CloseStatus");
_Static_assert(sizeof(WEB_SOCKET_HANDLE) == 8, "§2.1");
#else
_Static_assert(sizeof(void *) == 4, "x86");
_Static_assert(sizeof(WEB_SOCKET_PROPERTY) == 12 && _Alignof(WEB_SOCKET_PROPERTY) == 4, "§2.2");
_Static_assert(OFF(WEB_SOCKET_PROPERTY, pvValue) == 4 && OFF(WEB_SOCKET_PROPERTY, ulValueSize) == 8, "§2.2");
_Static_assert(sizeof(WEB_SOCKET_HTTP_HEADER) == 16, "§2.3");
_Static_assert(OFF(WEB_SOCKET_HTTP_HEADER, ulNameLength) == 4 && OFF(WEB_SOCKET_HTTP_HEADER, pcValue) == 8 &&
               OFF(WEB_SOCKET_HTTP_HEADER, ulValueLength) == 12, "§2.3");
_Static_assert(sizeof(WEB_SOCKET_BUFFER) == 12, "§2.4");
_Static_assert(OFF(WEB_SOCKET_BUFFER, Data.ulBufferLength) == 4 &&
               OFF(WEB_SOCKET_BUFFER, CloseStatus.usStatus) == 8, "§2.4");
_Static_assert(sizeof(WEB_SOCKET_HANDLE) == 4, "§2.1");
#endif

/* §1.3: the primitive types have Windows widths (these come from <windows.h> here). */
_Static_assert(sizeof(ULONG) == 4 && sizeof(USHORT) == 2 && sizeof(HRESULT) == 4 && sizeof(BOOL) == 4,
               "§1.3");
_Static_assert(sizeof(WEB_SOCKET_PROPERTY_TYPE) == 4 && sizeof(WEB_SOCKET_BUFFER_TYPE) == 4 &&
               sizeof(WEB_SOCKET_ACTION) == 4 && sizeof(WEB_SOCKET_ACTION_QUEUE) == 4 &&
               sizeof(WEB_SOCKET_CLOSE_STATUS) == 4, "§1.3 enums are 4 bytes");

/* §3 values. */
_Static_assert(WEB_SOCKET_NO_ACTION == 0 && WEB_SOCKET_SEND_TO_NETWORK_ACTION == 1 &&
               WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION == 2 && WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION == 3 &&
               WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION == 4, "§3.1");
_Static_assert(WEB_SOCKET_SEND_ACTION_QUEUE == 1 && WEB_SOCKET_RECEIVE_ACTION_QUEUE == 2 &&
               WEB_SOCKET_ALL_ACTION_QUEUE == 3, "§3.2");
_Static_assert((ULONG)WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE == 0x80000000u &&
               (ULONG)WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE == 0x80000001u &&
               (ULONG)WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE == 0x80000002u &&
               (ULONG)WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE == 0x80000003u &&
               (ULONG)WEB_SOCKET_CLOSE_BUFFER_TYPE == 0x80000004u &&
               (ULONG)WEB_SOCKET_PING_PONG_BUFFER_TYPE == 0x80000005u &&
               (ULONG)WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE == 0x80000006u, "§3.3");
_Static_assert(WEB_SOCKET_SUCCESS_CLOSE_STATUS == 1000 && WEB_SOCKET_ENDPOINT_UNAVAILABLE_CLOSE_STATUS == 1001 &&
               WEB_SOCKET_PROTOCOL_ERROR_CLOSE_STATUS == 1002 && WEB_SOCKET_INVALID_DATA_TYPE_CLOSE_STATUS == 1003 &&
               WEB_SOCKET_EMPTY_CLOSE_STATUS == 1005 && WEB_SOCKET_ABORTED_CLOSE_STATUS == 1006 &&
               WEB_SOCKET_INVALID_PAYLOAD_CLOSE_STATUS == 1007 && WEB_SOCKET_POLICY_VIOLATION_CLOSE_STATUS == 1008 &&
               WEB_SOCKET_MESSAGE_TOO_BIG_CLOSE_STATUS == 1009 &&
               WEB_SOCKET_UNSUPPORTED_EXTENSIONS_CLOSE_STATUS == 1010 &&
               WEB_SOCKET_SERVER_ERROR_CLOSE_STATUS == 1011 &&
               WEB_SOCKET_SECURE_HANDSHAKE_ERROR_CLOSE_STATUS == 1015, "§3.4");
_Static_assert(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE == 0 && WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE == 1 &&
               WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE == 2 && WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE == 3 &&
               WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE == 4 &&
               WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE == 5 && WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE == 6,
               "§3.5");
_Static_assert(WEB_SOCKET_MAX_CLOSE_REASON_LENGTH == 123, "§3.6");

/* §4.1: the header's codes agree with the SDK's <winerror.h> that mingw ships. */
_Static_assert(E_INVALID_PROTOCOL_OPERATION == (HRESULT)0x83760001L && E_INVALID_PROTOCOL_FORMAT == (HRESULT)0x83760002L &&
               E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED == (HRESULT)0x83760003L &&
               E_SUBPROTOCOL_NOT_SUPPORTED == (HRESULT)0x83760004L &&
               E_PROTOCOL_VERSION_NOT_SUPPORTED == (HRESULT)0x83760005L, "§4.1");
_Static_assert(E_INVALIDARG == (HRESULT)0x80070057L && E_OUTOFMEMORY == (HRESULT)0x8007000EL &&
               E_UNEXPECTED == (HRESULT)0x8000FFFFL && HR_INSUFFICIENT_BUFFER == (HRESULT)0x8007007AL, "§4.1");

int main(void) {
  t_begin("layout");

  /* Values survive the boundary: a ULONG global property comes back in 4 bytes, written
   * unaligned, and the size output is a 32-bit ULONG. */
  BYTE raw[16];
  memset(raw, 0xAA, sizeof raw);
  ULONG size = 4;
  CHECK_OK(WebSocketGetGlobalProperty(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, raw + 1, &size));
  CHECK(size == 4);
  CHECK(raw[0] == 0xAA && raw[1] == 13 && raw[2] == 0 && raw[3] == 0 && raw[4] == 0 && raw[5] == 0xAA);

  /* An ALLOCATED_BUFFER property whose value slot is unaligned (as .NET passes it), and an
   * array of headers walked with the 32-byte stride: the handshake output is read back with
   * this compiler's layout. */
  ULONG rbs = 256, sbs = 16;
  ULONG region_len = rbs + sbs + 144;
  BYTE *region = (BYTE *)malloc(region_len + 1);
  BYTE slot[sizeof(void *) + 1];
  void *addr = region + 1; /* unaligned buffer too */
  memcpy(slot + 1, &addr, sizeof addr);
  WEB_SOCKET_PROPERTY props[3] = {
      {WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &rbs, sizeof rbs},
      {WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &sbs, sizeof sbs},
      {WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, slot + 1, region_len},
  };
  WEB_SOCKET_HANDLE h = NULL;
  CHECK_OK(WebSocketCreateClientHandle(props, 3, &h));
  CHECK(h != NULL && h != (WEB_SOCKET_HANDLE)(INT_PTR)-1);
  WEB_SOCKET_HTTP_HEADER *hdrs = NULL;
  ULONG n = 0;
  CHECK_OK(WebSocketBeginClientHandshake(h, NULL, 0, NULL, 0, NULL, 0, &hdrs, &n));
  CHECK(n == 4);
  for (ULONG i = 0; hdrs && i < n; i++) {
    CHECK(hdrs[i].pcName != NULL && hdrs[i].pcValue != NULL);
    CHECK(strlen(hdrs[i].pcName) == hdrs[i].ulNameLength);
    CHECK(strlen(hdrs[i].pcValue) == hdrs[i].ulValueLength);
  }
  char v[64];
  CHECK(t_find_header(hdrs, n, "Sec-WebSocket-Version", v, sizeof v) && strcmp(v, "13") == 0);
  CHECK(t_find_header(hdrs, n, "Sec-WebSocket-Key", v, sizeof v) && strlen(v) == 24);
  WebSocketDeleteHandle(h);
  free(region);
  return t_end();
}
