/*
 * net.h - the little platform layer the examples share: blocking TCP sockets, threads, a mutex,
 * sleeping and a Ctrl-C / SIGTERM hook. POSIX (Linux) and Windows (Winsock 2, Win32 threads;
 * builds with mingw-w64). Everything platform-specific in the examples lives here and in net.c.
 *
 * Include this header before websocket.h: on Windows, winsock2.h must come before windows.h.
 */
#ifndef EXAMPLES_NET_H
#define EXAMPLES_NET_H

#include <stddef.h>

#if defined(_WIN32)
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0601 /* Windows 7: getaddrinfo, inet_ntop */
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
typedef SOCKET net_socket;
#define NET_INVALID_SOCKET INVALID_SOCKET
typedef CRITICAL_SECTION net_mutex;
typedef HANDLE net_thread;
#else
#include <pthread.h>
typedef int net_socket;
#define NET_INVALID_SOCKET (-1)
typedef pthread_mutex_t net_mutex;
typedef pthread_t net_thread;
#endif

/* Once at start-up (WSAStartup; ignore SIGPIPE). On Windows also puts stdout in binary mode (the
 * output is byte-for-byte the same as on Linux: "\n" line ends, UTF-8 text as received) and sets
 * the console output code page to UTF-8. Returns 0 on success. */
int net_init(void);
/* The arguments as UTF-8: on Windows argv is in the ANSI code page, so the command line is read
 * again as UTF-16 and converted; elsewhere argv itself. */
char **net_utf8_argv(int argc, char **argv);
/* Once at exit (WSACleanup). */
void net_cleanup(void);

/* A listening TCP socket on "HOST:PORT" (port 0 picks a free one). On success writes the
 * address actually bound, as "HOST:PORT", into bound (size bound_size) and returns the socket. */
net_socket net_listen(const char *addr, char *bound, size_t bound_size);
/* A connected TCP socket to host:port, or NET_INVALID_SOCKET. */
net_socket net_connect(const char *host, const char *port);
/* Accepts one connection; NET_INVALID_SOCKET on error. */
net_socket net_accept(net_socket listener);
/* 1 if the socket is readable within timeout_ms, 0 on timeout, -1 on error or interruption. */
int net_wait_readable(net_socket s, int timeout_ms);
/* Reads up to len bytes: > 0 bytes read, 0 end of stream, -1 error. */
long net_recv(net_socket s, void *buf, size_t len);
/* Writes all len bytes. Returns 0, or -1 on error (including a send timeout, see below). */
int net_send_all(net_socket s, const void *buf, size_t len);
/* Makes a send that cannot make progress for timeout_ms fail instead of blocking forever (a peer
 * that stops reading must not pin its connection's thread). Returns 0, or -1 on error. */
int net_set_send_timeout(net_socket s, int timeout_ms);
/* Ends our direction of the stream (FIN); reads may continue. */
void net_shutdown_send(net_socket s);
/* Ends both directions: a thread blocked in net_recv on s returns. */
void net_shutdown_both(net_socket s);
void net_close(net_socket s);

/* Starts a thread running fn(arg). Returns 0 on success. With t NULL the thread is detached;
 * otherwise *t receives it and net_thread_join must be called once. */
int net_thread_start(net_thread *t, void (*fn)(void *), void *arg);
void net_thread_join(net_thread t);
void net_mutex_init(net_mutex *m);
void net_mutex_destroy(net_mutex *m);
void net_mutex_lock(net_mutex *m);
void net_mutex_unlock(net_mutex *m);
void net_sleep_ms(int ms);
/* A monotonic clock in milliseconds (for deadlines). */
unsigned long long net_now_ms(void);

/* Calls fn (from a signal handler or a console thread: only set a flag there) on Ctrl-C, and on
 * POSIX also on SIGTERM. */
void net_on_interrupt(void (*fn)(void));

#endif /* EXAMPLES_NET_H */
