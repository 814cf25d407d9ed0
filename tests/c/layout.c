/*
 * layout.c - the ABI of include/websocket.h (spec §1.3, §2, §3, §4): type sizes, structure
 * layouts, enumeration values, HRESULT values and constants. Almost everything here is a
 * compile-time assertion, so a wrong header does not even build; the run-time part checks the
 * same facts once more through real objects and calls one export through a function pointer of
 * the SDK's exact type.
 */
#include "common.h"

/* ---- primitive types (§1.3) ---------------------------------------------------------------- */
WS_STATIC_ASSERT(sizeof(ULONG) == 4, "ULONG is 32 bits on every platform");
WS_STATIC_ASSERT((ULONG)-1 > 0, "ULONG is unsigned");
WS_STATIC_ASSERT(sizeof(USHORT) == 2, "USHORT is 16 bits");
WS_STATIC_ASSERT(sizeof(HRESULT) == 4, "HRESULT is 32 bits");
WS_STATIC_ASSERT((HRESULT)-1 < 0, "HRESULT is signed");
WS_STATIC_ASSERT(sizeof(BOOL) == 4, "BOOL is 32 bits");
WS_STATIC_ASSERT(sizeof(PVOID) == sizeof(void *), "PVOID is a pointer");
WS_STATIC_ASSERT(sizeof(PBYTE) == sizeof(void *), "PBYTE is a pointer");
WS_STATIC_ASSERT(sizeof(PCHAR) == sizeof(void *), "PCHAR is a pointer");
WS_STATIC_ASSERT(sizeof(PCSTR) == sizeof(void *), "PCSTR is a pointer");
WS_STATIC_ASSERT(sizeof(WEB_SOCKET_HANDLE) == sizeof(void *), "handles are pointer-sized");
WS_STATIC_ASSERT(sizeof(WEB_SOCKET_PROPERTY_TYPE) == 4, "enums travel as 4 bytes");
WS_STATIC_ASSERT(sizeof(WEB_SOCKET_ACTION_QUEUE) == 4, "enums travel as 4 bytes");
WS_STATIC_ASSERT(sizeof(WEB_SOCKET_BUFFER_TYPE) == 4, "enums travel as 4 bytes");
WS_STATIC_ASSERT(sizeof(WEB_SOCKET_ACTION) == 4, "enums travel as 4 bytes");
WS_STATIC_ASSERT(sizeof(WEB_SOCKET_CLOSE_STATUS) == 4, "enums travel as 4 bytes");

/* ---- structure layouts (§2) ----------------------------------------------------------------- */
#if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
WS_STATIC_ASSERT(sizeof(WEB_SOCKET_PROPERTY) == 24, "WEB_SOCKET_PROPERTY x64 size");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_PROPERTY, Type) == 0, "Type");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_PROPERTY, pvValue) == 8, "pvValue");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_PROPERTY, ulValueSize) == 16, "ulValueSize");

WS_STATIC_ASSERT(sizeof(WEB_SOCKET_HTTP_HEADER) == 32, "WEB_SOCKET_HTTP_HEADER x64 size");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, pcName) == 0, "pcName");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, ulNameLength) == 8, "ulNameLength");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, pcValue) == 16, "pcValue");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, ulValueLength) == 24, "ulValueLength");

WS_STATIC_ASSERT(sizeof(WEB_SOCKET_BUFFER) == 16, "WEB_SOCKET_BUFFER x64 size");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, Data.pbBuffer) == 0, "Data.pbBuffer");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, Data.ulBufferLength) == 8, "Data.ulBufferLength");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, CloseStatus.pbReason) == 0, "CloseStatus.pbReason");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, CloseStatus.ulReasonLength) == 8,
                 "CloseStatus.ulReasonLength");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, CloseStatus.usStatus) == 12, "CloseStatus.usStatus");
#define WS_ALIGN 8
#elif UINTPTR_MAX == 0xFFFFFFFFu
WS_STATIC_ASSERT(sizeof(WEB_SOCKET_PROPERTY) == 12, "WEB_SOCKET_PROPERTY x86 size");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_PROPERTY, Type) == 0, "Type");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_PROPERTY, pvValue) == 4, "pvValue");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_PROPERTY, ulValueSize) == 8, "ulValueSize");

WS_STATIC_ASSERT(sizeof(WEB_SOCKET_HTTP_HEADER) == 16, "WEB_SOCKET_HTTP_HEADER x86 size");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, pcName) == 0, "pcName");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, ulNameLength) == 4, "ulNameLength");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, pcValue) == 8, "pcValue");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_HTTP_HEADER, ulValueLength) == 12, "ulValueLength");

WS_STATIC_ASSERT(sizeof(WEB_SOCKET_BUFFER) == 12, "WEB_SOCKET_BUFFER x86 size");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, Data.pbBuffer) == 0, "Data.pbBuffer");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, Data.ulBufferLength) == 4, "Data.ulBufferLength");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, CloseStatus.pbReason) == 0, "CloseStatus.pbReason");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, CloseStatus.ulReasonLength) == 4,
                 "CloseStatus.ulReasonLength");
WS_STATIC_ASSERT(offsetof(WEB_SOCKET_BUFFER, CloseStatus.usStatus) == 8, "CloseStatus.usStatus");
#define WS_ALIGN 4
#else
#error "unsupported pointer size"
#endif

/* ---- enumerations (§3) ---------------------------------------------------------------------- */
WS_STATIC_ASSERT(WEB_SOCKET_NO_ACTION == 0, "action");
WS_STATIC_ASSERT(WEB_SOCKET_SEND_TO_NETWORK_ACTION == 1, "action");
WS_STATIC_ASSERT(WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION == 2, "action");
WS_STATIC_ASSERT(WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION == 3, "action");
WS_STATIC_ASSERT(WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION == 4, "action");

WS_STATIC_ASSERT(WEB_SOCKET_SEND_ACTION_QUEUE == 1, "queue");
WS_STATIC_ASSERT(WEB_SOCKET_RECEIVE_ACTION_QUEUE == 2, "queue");
WS_STATIC_ASSERT(WEB_SOCKET_ALL_ACTION_QUEUE == 3, "queue");
WS_STATIC_ASSERT((WEB_SOCKET_SEND_ACTION_QUEUE | WEB_SOCKET_RECEIVE_ACTION_QUEUE) ==
                     WEB_SOCKET_ALL_ACTION_QUEUE,
                 "ALL = SEND | RECEIVE");

WS_STATIC_ASSERT((uint32_t)WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE == 0x80000000u, "buffer type");
WS_STATIC_ASSERT((uint32_t)WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE == 0x80000001u, "buffer type");
WS_STATIC_ASSERT((uint32_t)WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE == 0x80000002u, "buffer type");
WS_STATIC_ASSERT((uint32_t)WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE == 0x80000003u, "buffer type");
WS_STATIC_ASSERT((uint32_t)WEB_SOCKET_CLOSE_BUFFER_TYPE == 0x80000004u, "buffer type");
WS_STATIC_ASSERT((uint32_t)WEB_SOCKET_PING_PONG_BUFFER_TYPE == 0x80000005u, "buffer type");
WS_STATIC_ASSERT((uint32_t)WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE == 0x80000006u, "buffer type");

WS_STATIC_ASSERT(WEB_SOCKET_SUCCESS_CLOSE_STATUS == 1000, "close status");
WS_STATIC_ASSERT(WEB_SOCKET_ENDPOINT_UNAVAILABLE_CLOSE_STATUS == 1001, "close status");
WS_STATIC_ASSERT(WEB_SOCKET_PROTOCOL_ERROR_CLOSE_STATUS == 1002, "close status");
WS_STATIC_ASSERT(WEB_SOCKET_INVALID_DATA_TYPE_CLOSE_STATUS == 1003, "close status");
WS_STATIC_ASSERT(WEB_SOCKET_EMPTY_CLOSE_STATUS == 1005, "close status");
WS_STATIC_ASSERT(WEB_SOCKET_ABORTED_CLOSE_STATUS == 1006, "close status");
WS_STATIC_ASSERT(WEB_SOCKET_INVALID_PAYLOAD_CLOSE_STATUS == 1007, "close status");
WS_STATIC_ASSERT(WEB_SOCKET_POLICY_VIOLATION_CLOSE_STATUS == 1008, "close status");
WS_STATIC_ASSERT(WEB_SOCKET_MESSAGE_TOO_BIG_CLOSE_STATUS == 1009, "close status");
WS_STATIC_ASSERT(WEB_SOCKET_UNSUPPORTED_EXTENSIONS_CLOSE_STATUS == 1010, "close status");
WS_STATIC_ASSERT(WEB_SOCKET_SERVER_ERROR_CLOSE_STATUS == 1011, "close status");
WS_STATIC_ASSERT(WEB_SOCKET_SECURE_HANDSHAKE_ERROR_CLOSE_STATUS == 1015, "close status");

WS_STATIC_ASSERT(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE == 0, "property type");
WS_STATIC_ASSERT(WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE == 1, "property type");
WS_STATIC_ASSERT(WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE == 2, "property type");
WS_STATIC_ASSERT(WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE == 3, "property type");
WS_STATIC_ASSERT(WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE == 4, "property type");
WS_STATIC_ASSERT(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE == 5, "property type");
WS_STATIC_ASSERT(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE == 6, "property type");

WS_STATIC_ASSERT(WEB_SOCKET_MAX_CLOSE_REASON_LENGTH == 123, "max close reason");

/* ---- HRESULTs (§4.1) ------------------------------------------------------------------------ */
WS_STATIC_ASSERT(S_OK == 0, "S_OK");
WS_STATIC_ASSERT((uint32_t)E_INVALID_PROTOCOL_OPERATION == 0x83760001u, "hresult");
WS_STATIC_ASSERT((uint32_t)E_INVALID_PROTOCOL_FORMAT == 0x83760002u, "hresult");
WS_STATIC_ASSERT((uint32_t)E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED == 0x83760003u, "hresult");
WS_STATIC_ASSERT((uint32_t)E_SUBPROTOCOL_NOT_SUPPORTED == 0x83760004u, "hresult");
WS_STATIC_ASSERT((uint32_t)E_PROTOCOL_VERSION_NOT_SUPPORTED == 0x83760005u, "hresult");
WS_STATIC_ASSERT((uint32_t)E_INVALIDARG == 0x80070057u, "hresult");
WS_STATIC_ASSERT((uint32_t)E_OUTOFMEMORY == 0x8007000Eu, "hresult");
WS_STATIC_ASSERT((uint32_t)E_UNEXPECTED == 0x8000FFFFu, "hresult");
WS_STATIC_ASSERT((uint32_t)HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER) == 0x8007007Au, "hresult");
WS_STATIC_ASSERT(ERROR_INSUFFICIENT_BUFFER == 122, "win32 error");
WS_STATIC_ASSERT(E_INVALID_PROTOCOL_OPERATION == -2089418751, "as i32");
WS_STATIC_ASSERT(E_INVALID_PROTOCOL_FORMAT == -2089418750, "as i32");
WS_STATIC_ASSERT(E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED == -2089418749, "as i32");
WS_STATIC_ASSERT(E_SUBPROTOCOL_NOT_SUPPORTED == -2089418748, "as i32");
WS_STATIC_ASSERT(E_PROTOCOL_VERSION_NOT_SUPPORTED == -2089418747, "as i32");
WS_STATIC_ASSERT(E_INVALIDARG == -2147024809, "as i32");
WS_STATIC_ASSERT(E_OUTOFMEMORY == -2147024882, "as i32");
WS_STATIC_ASSERT(E_UNEXPECTED == -2147418113, "as i32");
WS_STATIC_ASSERT(HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER) == -2147024774, "as i32");
WS_STATIC_ASSERT(FAILED(E_INVALIDARG) && SUCCEEDED(S_OK), "FAILED / SUCCEEDED");
WS_STATIC_ASSERT(FAILED(E_INVALID_PROTOCOL_FORMAT) && !SUCCEEDED(E_INVALID_PROTOCOL_FORMAT),
                 "facility codes are failures");

/* ---- prototypes (§1.1): each export assigned to a pointer of the SDK's exact type ------------ */
typedef HRESULT(WINAPI *pfn_create)(const WEB_SOCKET_PROPERTY *, ULONG, WEB_SOCKET_HANDLE *);
typedef HRESULT(WINAPI *pfn_begin_client)(WEB_SOCKET_HANDLE, PCSTR *, ULONG, PCSTR *, ULONG,
                                          const WEB_SOCKET_HTTP_HEADER *, ULONG,
                                          WEB_SOCKET_HTTP_HEADER **, ULONG *);
typedef HRESULT(WINAPI *pfn_end_client)(WEB_SOCKET_HANDLE, const WEB_SOCKET_HTTP_HEADER *, ULONG,
                                        ULONG *, ULONG *, ULONG *);
typedef HRESULT(WINAPI *pfn_begin_server)(WEB_SOCKET_HANDLE, PCSTR, PCSTR *, ULONG,
                                          const WEB_SOCKET_HTTP_HEADER *, ULONG,
                                          WEB_SOCKET_HTTP_HEADER **, ULONG *);
typedef HRESULT(WINAPI *pfn_end_server)(WEB_SOCKET_HANDLE);
typedef HRESULT(WINAPI *pfn_send)(WEB_SOCKET_HANDLE, WEB_SOCKET_BUFFER_TYPE, WEB_SOCKET_BUFFER *,
                                  PVOID);
typedef HRESULT(WINAPI *pfn_receive)(WEB_SOCKET_HANDLE, WEB_SOCKET_BUFFER *, PVOID);
typedef HRESULT(WINAPI *pfn_get_action)(WEB_SOCKET_HANDLE, WEB_SOCKET_ACTION_QUEUE,
                                        WEB_SOCKET_BUFFER *, ULONG *, WEB_SOCKET_ACTION *,
                                        WEB_SOCKET_BUFFER_TYPE *, PVOID *, PVOID *);
typedef VOID(WINAPI *pfn_complete)(WEB_SOCKET_HANDLE, PVOID, ULONG);
typedef VOID(WINAPI *pfn_handle)(WEB_SOCKET_HANDLE);
typedef HRESULT(WINAPI *pfn_global)(WEB_SOCKET_PROPERTY_TYPE, PVOID, ULONG *);

static void test_prototypes_match_the_sdk(void) {
    pfn_create create_client = WebSocketCreateClientHandle;
    pfn_create create_server = WebSocketCreateServerHandle;
    pfn_begin_client begin_client = WebSocketBeginClientHandshake;
    pfn_end_client end_client = WebSocketEndClientHandshake;
    pfn_begin_server begin_server = WebSocketBeginServerHandshake;
    pfn_end_server end_server = WebSocketEndServerHandshake;
    pfn_send send = WebSocketSend;
    pfn_receive receive = WebSocketReceive;
    pfn_get_action get_action = WebSocketGetAction;
    pfn_complete complete = WebSocketCompleteAction;
    pfn_handle abort_handle = WebSocketAbortHandle;
    pfn_handle delete_handle = WebSocketDeleteHandle;
    pfn_global global = WebSocketGetGlobalProperty;
    WEB_SOCKET_HANDLE h = NULL;
    ULONG value = 0, size = sizeof value;

    CHECK(create_client && create_server && begin_client && end_client && begin_server &&
          end_server && send && receive && get_action && complete && abort_handle &&
          delete_handle && global);
    /* One real call through a pointer of the SDK's type. */
    CHECK_HR(create_client(NULL, 0, &h), S_OK);
    CHECK(h != NULL);
    abort_handle(h);
    delete_handle(h);
    CHECK_HR(global(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, &value, &size), S_OK);
    CHECK_EQ(value, 30000);
}

/* ---- the same facts at run time, through real objects --------------------------------------- */

static void test_runtime_layout(void) {
    WEB_SOCKET_BUFFER bufs[2];
    WEB_SOCKET_HTTP_HEADER hdrs[2];
    WEB_SOCKET_PROPERTY props[2];
    unsigned char *raw;

    CHECK_EQ((char *)&bufs[1] - (char *)&bufs[0], sizeof(void *) == 8 ? 16 : 12);
    CHECK_EQ((char *)&hdrs[1] - (char *)&hdrs[0], 4 * sizeof(void *));
    CHECK_EQ((char *)&props[1] - (char *)&props[0], sizeof(void *) == 8 ? 24 : 12);

    /* The pointer and length of both arms share their offsets. */
    memset(&bufs[0], 0, sizeof bufs[0]);
    bufs[0].CloseStatus.pbReason = (PBYTE)&bufs[1];
    bufs[0].CloseStatus.ulReasonLength = 77;
    bufs[0].CloseStatus.usStatus = 1000;
    CHECK(bufs[0].Data.pbBuffer == (PBYTE)&bufs[1]);
    CHECK_EQ(bufs[0].Data.ulBufferLength, 77);
    raw = (unsigned char *)&bufs[0];
    /* little-endian x86 / x86-64: usStatus bytes right after the 32-bit length */
    CHECK_EQ(raw[sizeof(void *) + 4] | (raw[sizeof(void *) + 5] << 8), 1000);

    /* .NET reads header lengths as 32-bit values at +ptr and +3*ptr (§2.3). */
    memset(hdrs, 0, sizeof hdrs);
    hdrs[0].ulNameLength = 0x11223344u;
    hdrs[0].ulValueLength = 0x55667788u;
    raw = (unsigned char *)&hdrs[0];
    {
        uint32_t a, b;
        memcpy(&a, raw + sizeof(void *), 4);
        memcpy(&b, raw + 3 * sizeof(void *), 4);
        CHECK_EQ(a, 0x11223344u);
        CHECK_EQ(b, 0x55667788u);
    }
    CHECK_EQ(WS_ALIGN, sizeof(void *));
}

static void test_enum_values_at_runtime(void) {
    /* Values as the library sees them: the buffer types are negative as i32 (§1.3). */
    CHECK_EQ((int32_t)WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, (int32_t)-2147483647 - 1);
    CHECK_EQ((int32_t)WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE, (int32_t)-2147483642);
    CHECK_EQ((uint32_t)E_INVALID_PROTOCOL_FORMAT, 0x83760002u);
    CHECK_EQ((uint32_t)HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER), 0x8007007Au);
    CHECK_EQ(HRESULT_FROM_WIN32(0), 0);
}

int main(int argc, char **argv) {
    ws_init(argc, argv);
    RUN(test_prototypes_match_the_sdk);
    RUN(test_runtime_layout);
    RUN(test_enum_values_at_runtime);
    return ws_finish("layout");
}
