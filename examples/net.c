/* net.c - see net.h. */
#include "net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#include <fcntl.h>
#include <io.h>
#include <shellapi.h>
#else
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#endif

#if defined(_WIN32)
#define close_socket closesocket
#define SHUT_WR SD_SEND
#define SHUT_RDWR SD_BOTH
#else
#define close_socket close
#endif

int net_init(void)
{
#if defined(_WIN32)
    WSADATA wsa;
    _setmode(_fileno(stdout), _O_BINARY);
    SetConsoleOutputCP(CP_UTF8);
    return WSAStartup(MAKEWORD(2, 2), &wsa) == 0 ? 0 : -1;
#else
    signal(SIGPIPE, SIG_IGN); /* a peer that went away must not kill the process */
    return 0;
#endif
}

void net_cleanup(void)
{
#if defined(_WIN32)
    WSACleanup();
#endif
}

char **net_utf8_argv(int argc, char **argv)
{
#if defined(_WIN32)
    int n = 0, i;
    LPWSTR *wide = CommandLineToArgvW(GetCommandLineW(), &n);
    char **out;
    if (wide == NULL || n != argc)
        return argv;
    out = (char **)calloc((size_t)n + 1, sizeof *out);
    if (out == NULL)
        return argv;
    for (i = 0; i < n; i++) {
        int len = WideCharToMultiByte(CP_UTF8, 0, wide[i], -1, NULL, 0, NULL, NULL);
        out[i] = len > 0 ? (char *)malloc((size_t)len) : NULL;
        if (out[i] == NULL)
            return argv;
        WideCharToMultiByte(CP_UTF8, 0, wide[i], -1, out[i], len, NULL, NULL);
    }
    LocalFree(wide);
    return out; /* kept until exit */
#else
    (void)argc;
    return argv;
#endif
}

/* Splits "HOST:PORT" (or "[V6]:PORT") into its parts. */
static int split_addr(const char *addr, char *host, size_t host_size, char *port, size_t port_size)
{
    const char *colon = strrchr(addr, ':');
    const char *h = addr;
    size_t hlen;
    if (colon == NULL || colon[1] == '\0')
        return -1;
    hlen = (size_t)(colon - addr);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= host_size || strlen(colon + 1) >= port_size)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

net_socket net_listen(const char *addr, char *bound, size_t bound_size)
{
    char host[256], port[16], name[INET6_ADDRSTRLEN];
    struct addrinfo hints, *res = NULL, *ai;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    net_socket s = NET_INVALID_SOCKET;
    int one = 1;

    if (split_addr(addr, host, sizeof host, port, sizeof port) != 0)
        return NET_INVALID_SOCKET;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return NET_INVALID_SOCKET;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        s = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (s == NET_INVALID_SOCKET)
            continue;
#if !defined(_WIN32) /* on Windows SO_REUSEADDR would let two servers share the port */
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, (const char *)&one, sizeof one);
#endif
        if (bind(s, ai->ai_addr, (int)ai->ai_addrlen) == 0 && listen(s, 128) == 0)
            break;
        close_socket(s);
        s = NET_INVALID_SOCKET;
    }
    freeaddrinfo(res);
    (void)one;
    if (s == NET_INVALID_SOCKET)
        return s;
    if (getsockname(s, (struct sockaddr *)&ss, &sslen) != 0) {
        close_socket(s);
        return NET_INVALID_SOCKET;
    }
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, name, sizeof name);
        snprintf(bound, bound_size, "[%s]:%u", name, (unsigned)ntohs(a->sin6_port));
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, name, sizeof name);
        snprintf(bound, bound_size, "%s:%u", name, (unsigned)ntohs(a->sin_port));
    }
    return s;
}

static void no_delay(net_socket s)
{
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
}

net_socket net_connect(const char *host, const char *port)
{
    struct addrinfo hints, *res = NULL, *ai;
    net_socket s = NET_INVALID_SOCKET;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return NET_INVALID_SOCKET;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        s = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (s == NET_INVALID_SOCKET)
            continue;
        if (connect(s, ai->ai_addr, (int)ai->ai_addrlen) == 0)
            break;
        close_socket(s);
        s = NET_INVALID_SOCKET;
    }
    freeaddrinfo(res);
    if (s != NET_INVALID_SOCKET)
        no_delay(s);
    return s;
}

net_socket net_accept(net_socket listener)
{
    net_socket s = accept(listener, NULL, NULL);
    if (s != NET_INVALID_SOCKET)
        no_delay(s);
    return s;
}

int net_wait_readable(net_socket s, int timeout_ms)
{
#if defined(_WIN32)
    /* Winsock's fd_set is a list of sockets (no FD_SETSIZE limit on the socket's value). */
    fd_set fds;
    struct timeval tv;
    int r;
    FD_ZERO(&fds);
    FD_SET(s, &fds);
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    r = select(0, &fds, NULL, NULL, &tv);
#else
    /* poll, not select: select cannot watch descriptors >= FD_SETSIZE (1024). */
    struct pollfd p;
    int r;
    p.fd = s;
    p.events = POLLIN;
    p.revents = 0;
    r = poll(&p, 1, timeout_ms);
#endif
    return r > 0 ? 1 : r == 0 ? 0 : -1;
}

long net_recv(net_socket s, void *buf, size_t len)
{
    for (;;) {
        int chunk = len > 0x40000000 ? 0x40000000 : (int)len;
        int n = (int)recv(s, (char *)buf, chunk, 0);
#if !defined(_WIN32)
        if (n < 0 && errno == EINTR)
            continue;
#endif
        return n < 0 ? -1 : n;
    }
}

int net_send_all(net_socket s, const void *buf, size_t len)
{
    const char *p = (const char *)buf;
#if defined(MSG_NOSIGNAL)
    const int flags = MSG_NOSIGNAL;
#else
    const int flags = 0;
#endif
    while (len > 0) {
        int chunk = len > 0x40000000 ? 0x40000000 : (int)len;
        int n = (int)send(s, p, chunk, flags);
        if (n < 0) {
#if !defined(_WIN32)
            if (errno == EINTR)
                continue;
#endif
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int net_set_send_timeout(net_socket s, int timeout_ms)
{
#if defined(_WIN32)
    DWORD ms = (DWORD)timeout_ms;
    return setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, (const char *)&ms, sizeof ms) == 0 ? 0 : -1;
#else
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0 ? 0 : -1;
#endif
}

void net_shutdown_send(net_socket s)
{
    shutdown(s, SHUT_WR);
}

void net_shutdown_both(net_socket s)
{
    shutdown(s, SHUT_RDWR);
}

void net_close(net_socket s)
{
    if (s != NET_INVALID_SOCKET)
        close_socket(s);
}

/* ---- threads and time ---------------------------------------------------------------------- */

struct thread_start {
    void (*fn)(void *);
    void *arg;
};

#if defined(_WIN32)
static DWORD WINAPI thread_main(LPVOID p)
#else
static void *thread_main(void *p)
#endif
{
    struct thread_start start = *(struct thread_start *)p;
    free(p);
    start.fn(start.arg);
    return 0;
}

int net_thread_start(net_thread *out, void (*fn)(void *), void *arg)
{
    struct thread_start *start = (struct thread_start *)malloc(sizeof *start);
    if (start == NULL)
        return -1;
    start->fn = fn;
    start->arg = arg;
#if defined(_WIN32)
    {
        HANDLE t = CreateThread(NULL, 0, thread_main, start, 0, NULL);
        if (t == NULL) {
            free(start);
            return -1;
        }
        if (out != NULL)
            *out = t;
        else
            CloseHandle(t);
    }
#else
    {
        pthread_t t;
        if (pthread_create(&t, NULL, thread_main, start) != 0) {
            free(start);
            return -1;
        }
        if (out != NULL)
            *out = t;
        else
            pthread_detach(t);
    }
#endif
    return 0;
}

void net_thread_join(net_thread t)
{
#if defined(_WIN32)
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
#else
    pthread_join(t, NULL);
#endif
}

#if defined(_WIN32)
void net_mutex_init(net_mutex *m) { InitializeCriticalSection(m); }
void net_mutex_destroy(net_mutex *m) { DeleteCriticalSection(m); }
void net_mutex_lock(net_mutex *m) { EnterCriticalSection(m); }
void net_mutex_unlock(net_mutex *m) { LeaveCriticalSection(m); }
void net_sleep_ms(int ms) { Sleep((DWORD)ms); }
unsigned long long net_now_ms(void) { return (unsigned long long)GetTickCount64(); }
#else
void net_mutex_init(net_mutex *m) { pthread_mutex_init(m, NULL); }
void net_mutex_destroy(net_mutex *m) { pthread_mutex_destroy(m); }
void net_mutex_lock(net_mutex *m) { pthread_mutex_lock(m); }
void net_mutex_unlock(net_mutex *m) { pthread_mutex_unlock(m); }
void net_sleep_ms(int ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
unsigned long long net_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)ts.tv_nsec / 1000000ULL;
}
#endif

/* ---- Ctrl-C -------------------------------------------------------------------------------- */

static void (*interrupt_fn)(void);

#if defined(_WIN32)
static BOOL WINAPI console_handler(DWORD type)
{
    if (type == CTRL_C_EVENT || type == CTRL_BREAK_EVENT || type == CTRL_CLOSE_EVENT) {
        if (interrupt_fn != NULL)
            interrupt_fn();
        return TRUE;
    }
    return FALSE;
}

void net_on_interrupt(void (*fn)(void))
{
    interrupt_fn = fn;
    SetConsoleCtrlHandler(console_handler, TRUE);
}
#else
static void signal_handler(int sig)
{
    (void)sig;
    if (interrupt_fn != NULL)
        interrupt_fn();
}

void net_on_interrupt(void (*fn)(void))
{
    struct sigaction sa;
    interrupt_fn = fn;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = signal_handler; /* no SA_RESTART: a blocked select() returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
#endif
