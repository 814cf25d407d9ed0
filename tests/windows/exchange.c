/*
 * exchange.c - messages between a client handle and a server handle through the in-memory
 * network of wintest.h: text and binary of many sizes (up to 1 MiB) both ways, several queued
 * sends, fragmented sends, UTF-8 split across reads, ping/pong, unsolicited pong, and the close
 * handshake started by either side. Runs under several handle configurations: the defaults; the
 * .NET layout (caller-provided ALLOCATED_BUFFER at an unaligned address, server SBS 16, one
 * buffer slot, tiny network reads); and DISABLE_MASKING.
 */
#include "wintest.h"

typedef struct config {
  const char *name;
  ULONG c_rbs, c_sbs, s_rbs, s_sbs; /* 0 = default */
  int allocated;                    /* give both handles an ALLOCATED_BUFFER */
  int no_masking;
  ULONG slots;
  ULONG max_chunk;
} config;

typedef struct side {
  WEB_SOCKET_HANDLE h;
  BYTE *region_mem;
  BYTE *region;
  size_t region_len;
} side;

static void make_side(side *sd, int server, ULONG rbs, ULONG sbs, const config *cf) {
  WEB_SOCKET_PROPERTY props[4];
  ULONG n = 0;
  static BYTE slots[2][sizeof(void *) + 3];
  BOOL yes = TRUE;
  memset(sd, 0, sizeof *sd);
  ULONG r = rbs ? rbs : 4096, s = sbs ? sbs : (server ? 16 : 4096);
  if (rbs) props[n++] = (WEB_SOCKET_PROPERTY){WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &rbs, sizeof rbs};
  if (sbs) props[n++] = (WEB_SOCKET_PROPERTY){WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &sbs, sizeof sbs};
  if (cf->allocated) {
    sd->region_len = r + s + 144;
    sd->region_mem = (BYTE *)malloc(sd->region_len + 3);
    REQUIRE(sd->region_mem != NULL);
    sd->region = sd->region_mem + 3; /* deliberately unaligned, like a slice of a byte[] */
    BYTE *slot = slots[server] + 3;
    void *addr = sd->region;
    memcpy(slot, &addr, sizeof addr);
    props[n++] = (WEB_SOCKET_PROPERTY){WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, slot, (ULONG)sd->region_len};
  }
  if (cf->no_masking) props[n++] = (WEB_SOCKET_PROPERTY){WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE, &yes, sizeof yes};
  HRESULT hr = server ? WebSocketCreateServerHandle(n ? props : NULL, n, &sd->h)
                      : WebSocketCreateClientHandle(n ? props : NULL, n, &sd->h);
  REQUIRE(hr == S_OK && sd->h != NULL);
}

static ULONG rbs_of(ULONG rbs) { return rbs ? rbs : 4096; }

/* Sends `count` messages from `from` to `to` and checks what arrives. */
static void transfer(t_peer *from, t_peer *to, const size_t *sizes, int count, int text, ULONG to_rbs) {
  BYTE *bufs[16];
  REQUIRE(count <= 16);
  int sends0 = from->sends_done, msgs0 = to->msgs;
  for (int i = 0; i < count; i++) {
    bufs[i] = (BYTE *)malloc(sizes[i] ? sizes[i] : 1);
    REQUIRE(bufs[i] != NULL);
    if (text) {
      /* UTF-8 with 1- to 4-byte sequences, cut at a sequence boundary. */
      static const char unit[] = "ab\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e"; /* a b é € 𝄞 */
      static const BYTE lens[] = {1, 1, 2, 3, 4};
      size_t n = 0, u = 0, k = 0;
      while (n < sizes[i]) {
        size_t len = lens[k];
        if (n + len > sizes[i]) {
          bufs[i][n++] = 'x';
          continue;
        }
        memcpy(bufs[i] + n, unit + u, len);
        n += len;
        u += len;
        if (++k == sizeof lens) k = u = 0;
      }
    } else {
      t_fill(bufs[i], sizes[i], (unsigned)(i * 7919 + sizes[i]));
    }
    CHECK_OK(t_send(from->h, text ? WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE : WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE,
                    bufs[i], (ULONG)sizes[i], (PVOID)(INT_PTR)(1000 + i)));
  }
  t_pump(from, to);
  CHECK(from->error == S_OK && to->error == S_OK);
  CHECK(from->sends_done - sends0 == count);
  for (int i = 0; i < count && sends0 + i < T_MAX_MSGS; i++) CHECK(from->send_ctx[sends0 + i] == (PVOID)(INT_PTR)(1000 + i));
  CHECK(to->msgs - msgs0 == count);
  for (int i = 0; i < count && msgs0 + i < to->msgs; i++) {
    t_msg *m = &to->msg[msgs0 + i];
    CHECK(m->type == (text ? WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE : WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE));
    CHECK(m->len == sizes[i]);
    if (m->len == sizes[i]) CHECK(memcmp(m->data, bufs[i], sizes[i]) == 0);
  }
  CHECK(to->max_indication <= to_rbs);
  for (int i = 0; i < count; i++) free(bufs[i]);
  t_peer_free(to);
}

static void run(const config *cf) {
  side cs, ss;
  t_pipe c2s = {0}, s2c = {0};
  t_peer c, s;
  int checks0 = t_checks, failures0 = t_failures;

  make_side(&cs, 0, cf->c_rbs, cf->c_sbs, cf);
  make_side(&ss, 1, cf->s_rbs, cf->s_sbs, cf);
  REQUIRE(t_handshake(cs.h, ss.h));
  t_peer_init(&c, "client", cs.h, &c2s, &s2c);
  t_peer_init(&s, "server", ss.h, &s2c, &c2s);
  c.slots = s.slots = cf->slots;
  c.max_chunk = s.max_chunk = cf->max_chunk;
  c.region = cs.region; c.region_len = cs.region_len;
  s.region = ss.region; s.region_len = ss.region_len;
  CHECK_OK(WebSocketReceive(c.h, NULL, NULL));
  CHECK_OK(WebSocketReceive(s.h, NULL, NULL));
  t_pump(&c, &s);
  CHECK(c.bytes_out == 0 && s.bytes_out == 0);

  /* Data of many sizes, both ways, several queued at once. */
  static const size_t small[] = {0, 1, 125, 126, 127, 200, 4095, 4096, 4097, 65535, 65536, 70000};
  static const size_t large[] = {1u << 20, 100000, 0};
  transfer(&c, &s, small, 12, 0, rbs_of(cf->s_rbs));
  transfer(&s, &c, small, 12, 0, rbs_of(cf->c_rbs));
  transfer(&c, &s, small, 12, 1, rbs_of(cf->s_rbs));
  transfer(&s, &c, small, 12, 1, rbs_of(cf->c_rbs));
  transfer(&c, &s, large, 3, 0, rbs_of(cf->s_rbs));
  transfer(&s, &c, large, 3, 0, rbs_of(cf->c_rbs));
  transfer(&c, &s, large, 2, 1, rbs_of(cf->s_rbs));
  transfer(&s, &c, large, 2, 1, rbs_of(cf->c_rbs));
  c.max_fragments = 0;

  /* Fragmented sends arrive as one message (text split inside a UTF-8 sequence). */
  static const char euro[] = "price: \xe2\x82\xac" "5";
  CHECK_OK(t_send(c.h, WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE, euro, 8, NULL));
  CHECK_OK(t_send(c.h, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, 0, NULL)); /* control frame in between */
  CHECK_OK(t_send(c.h, WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE, euro + 8, 2, NULL));
  CHECK_OK(t_send(c.h, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, euro + 10, 1, NULL));
  CHECK_HR(t_send(c.h, WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE, "x", 1, NULL), S_OK);
  CHECK_HR(t_send(c.h, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, "x", 1, NULL), E_INVALID_PROTOCOL_OPERATION);
  CHECK_OK(t_send(c.h, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, "yz", 2, NULL));
  t_pump(&c, &s);
  CHECK(s.msgs == 2 && c.pongs == 1 && c.pong_len == 0);
  if (s.msgs == 2) {
    CHECK(s.msg[0].type == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE && s.msg[0].len == 11 &&
          memcmp(s.msg[0].data, euro, 11) == 0);
    CHECK(s.msg[1].type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE && s.msg[1].len == 3 &&
          memcmp(s.msg[1].data, "xyz", 3) == 0);
  }
  t_peer_free(&s);

  /* Pings with payload are answered automatically; pongs are indicated as PING_PONG. */
  CHECK_OK(t_send(c.h, WEB_SOCKET_PING_PONG_BUFFER_TYPE, "abc", 3, NULL));
  CHECK_OK(t_send(s.h, WEB_SOCKET_PING_PONG_BUFFER_TYPE, "server ping", 11, NULL));
  t_pump(&c, &s);
  CHECK(c.pongs == 2 && c.pong_len == 3 && memcmp(c.pong, "abc", 3) == 0);
  CHECK(s.pongs == 1 && s.pong_len == 11 && memcmp(s.pong, "server ping", 11) == 0);
  CHECK_OK(WebSocketSend(s.h, WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE, NULL, NULL));
  t_pump(&c, &s);
  CHECK(c.pongs == 3 && c.pong_len == 0 && s.pongs == 1);
  BYTE big[126] = {0};
  CHECK_HR(t_send(c.h, WEB_SOCKET_PING_PONG_BUFFER_TYPE, big, 126, NULL), E_INVALIDARG);
  CHECK(c.msgs == 0 && s.msgs == 0 && c.closes == 0 && s.closes == 0);

  /* Close started by the client; the server may still send data before its own close. */
  CHECK_OK(t_send_close(c.h, 1000, "bye"));
  CHECK_HR(t_send(c.h, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, "x", 1, NULL), E_INVALID_PROTOCOL_OPERATION);
  CHECK_HR(t_send_close(c.h, 1000, NULL), E_INVALID_PROTOCOL_OPERATION);
  t_pump(&c, &s);
  CHECK(s.closes == 1 && s.close_status == 1000 && !s.close_reason_null && s.close_reason_len == 3 &&
        strcmp(s.close_reason, "bye") == 0);
  CHECK_HR(WebSocketReceive(s.h, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);
  CHECK_OK(t_send(s.h, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, "late", 4, NULL));
  CHECK_OK(t_send_close(s.h, 1001, ""));
  t_pump(&c, &s);
  CHECK(c.msgs == 1 && c.msg[0].len == 4 && memcmp(c.msg[0].data, "late", 4) == 0);
  CHECK(c.closes == 1 && c.close_status == 1001 && !c.close_reason_null && c.close_reason_len == 0);
  CHECK_HR(WebSocketReceive(c.h, NULL, NULL), E_INVALID_PROTOCOL_OPERATION);
  CHECK(c.error == S_OK && s.error == S_OK);
  CHECK(c.region_violations == 0 && s.region_violations == 0);
  CHECK(c.rx_pending == 0 && s.rx_pending == 0);
  t_peer_free(&c);
  t_peer_free(&s);
  WebSocketDeleteHandle(cs.h);
  WebSocketDeleteHandle(ss.h);
  free(cs.region_mem);
  free(ss.region_mem);

  /* Close started by the server without a payload: the client sees 1005 and a NULL reason. */
  make_side(&cs, 0, cf->c_rbs, cf->c_sbs, cf);
  make_side(&ss, 1, cf->s_rbs, cf->s_sbs, cf);
  REQUIRE(t_handshake(cs.h, ss.h));
  t_peer_init(&c, "client", cs.h, &c2s, &s2c);
  t_peer_init(&s, "server", ss.h, &s2c, &c2s);
  c.slots = s.slots = cf->slots;
  c.max_chunk = s.max_chunk = cf->max_chunk;
  CHECK_OK(WebSocketReceive(c.h, NULL, NULL));
  CHECK_OK(WebSocketReceive(s.h, NULL, NULL));
  CHECK_OK(WebSocketSend(s.h, WEB_SOCKET_CLOSE_BUFFER_TYPE, NULL, NULL));
  t_pump(&c, &s);
  CHECK(c.closes == 1 && c.close_status == 1005 && c.close_reason_null && c.close_reason_len == 0);
  CHECK_OK(t_send_close(c.h, 1000, NULL));
  t_pump(&c, &s);
  CHECK(s.closes == 1 && s.close_status == 1000 && !s.close_reason_null && s.close_reason_len == 0);
  CHECK(c.error == S_OK && s.error == S_OK);
  WebSocketDeleteHandle(cs.h);
  WebSocketDeleteHandle(ss.h);
  free(cs.region_mem);
  free(ss.region_mem);
  free(c2s.data);
  free(s2c.data);
  printf("exchange[%s]: %d checks, %d failed\n", cf->name, t_checks - checks0, t_failures - failures0);
}

int main(void) {
  static const config configs[] = {
      {"defaults", 0, 0, 0, 0, 0, 0, 2, 0},
      {"dotnet-layout", 16384, 16, 16384, 16, 1, 0, 1, 0},
      {"small-buffers-tiny-reads", 256, 16, 256, 16, 1, 0, 2, 7},
      {"no-masking", 4096, 4096, 65536, 65536, 0, 1, 2, 0},
  };
  t_begin("exchange");
  for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) run(&configs[i]);
  return t_end();
}
