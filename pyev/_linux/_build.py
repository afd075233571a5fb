"""cffi build script for ``pyev._linux._kernel``.

API (compiled) mode: every struct layout and constant comes from the system
headers at build time (``struct epoll_event`` is packed on x86-64, which an
ABI-mode cdef would get wrong). The C helpers are deliberately tiny: each
makes one system call, returns ``-errno`` on failure instead of touching
``errno`` from Python, and flattens kernel structs into plain integer arrays
so that Python never walks cffi structs on the per-event path.
"""

import os

from cffi import FFI  # type: ignore[import-untyped]

CDEF = """
#define EPOLL_CTL_ADD ...
#define EPOLL_CTL_MOD ...
#define EPOLL_CTL_DEL ...
#define EPOLLIN ...
#define EPOLLOUT ...
#define PYEV_WAIT_COUNT ...
#define PYEV_WAIT_STALE ...
#define PYEV_WAIT_FULL ...

#define IN_ATTRIB ...
#define IN_MODIFY ...
#define IN_CREATE ...
#define IN_DELETE ...
#define IN_DELETE_SELF ...
#define IN_MOVE_SELF ...
#define IN_MOVED_FROM ...
#define IN_MOVED_TO ...
#define IN_CLOSE_WRITE ...
#define IN_DONT_FOLLOW ...
#define IN_MASK_ADD ...
#define IN_Q_OVERFLOW ...
#define IN_IGNORED ...
#define IN_UNMOUNT ...
#define IN_ISDIR ...
#define IN_ONLYDIR ...
#define IN_EXCL_UNLINK ...

struct epoll_event { uint32_t events; ...; };

int pyev_epoll_create(void);
int pyev_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
#define PYEV_DENSE_FDS ...
struct pyev_waiter {
    int epfd;
    int capacity;
    int ngens;
    int fast;
    int far_cap;
    int far_fill;
    struct epoll_event *buf;
    int32_t *out;
    uint32_t *gens;
    int32_t *far_fds;
    uint32_t *far_gens;
};
int pyev_epoll_wait(struct pyev_waiter *w, double timeout);
uint32_t pyev_generation(const struct pyev_waiter *w, int fd);
int pyev_far_put(struct pyev_waiter *w, int fd, uint32_t gen);
void pyev_far_remove(struct pyev_waiter *w, int fd);
void pyev_far_move(struct pyev_waiter *w, int32_t *fds, uint32_t *gens, int cap);

int pyev_signalfd(int fd, const int *signums, int count);
int pyev_signalfd_read(int fd, int *signums, int max);

int pyev_inotify_init(void);
int pyev_inotify_add_watch(int fd, const char *path, uint32_t mask);
int pyev_inotify_rm_watch(int fd, int wd);

long long pyev_statfs_type(const char *path);
"""

SOURCE = r"""
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/vfs.h>

#include "waiter.h"

static int pyev_epoll_create(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static int pyev_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev) < 0 ? -errno : 0;
}

/* Waits up to timeout seconds (rounded up to whole milliseconds, so that a
   timer is never early), then writes (fd, mask) pairs to out, with the mask
   already in pyev's READ/WRITE bits: an error or hang-up counts as both, as
   in libev. Returns the number of pairs, plus PYEV_WAIT_* flags in the bits
   above PYEV_WAIT_COUNT (one int instead of an out-parameter: the ping-pong
   benchmark pays for every cffi access), or -errno.
   Each registration carries fd | generation << 32; an event whose
   generation is not gens[fd] comes from a registration that outlived its fd
   number (the file was kept open elsewhere while the number was reused): it
   is dropped and PYEV_WAIT_STALE set, so that the caller rebuilds its set.
   PYEV_WAIT_FULL says the buffer was filled: more may be waiting. */
/* The waiter's buffers travel in one struct (waiter.h): one cffi argument
   instead of six (ping-pong benchmark). */

/* The far generations: see waiter.h. */
static int pyev_far_index(const int32_t *fds, int cap, int fd)
{
    unsigned mask = (unsigned)cap - 1, i = ((unsigned)fd * 2654435761u) & mask;
    while (fds[i] >= 0 && fds[i] != fd)
        i = (i + 1) & mask;
    return (int)i;
}

static uint32_t pyev_generation(const struct pyev_waiter *w, int fd)
{
    if (fd < 0)
        return 0;
    if (fd < w->ngens)
        return w->gens[fd];
    if (!w->far_cap)
        return 0;
    int i = pyev_far_index(w->far_fds, w->far_cap, fd);
    return w->far_fds[i] == fd ? w->far_gens[i] : 0;
}

/* 0, or -1 when the table must grow first (kept at most half full). */
static int pyev_far_put(struct pyev_waiter *w, int fd, uint32_t gen)
{
    int i = w->far_cap ? pyev_far_index(w->far_fds, w->far_cap, fd) : 0;
    if (!w->far_cap || (w->far_fds[i] != fd && 2 * (w->far_fill + 1) > w->far_cap))
        return -1;
    if (w->far_fds[i] != fd) {
        w->far_fds[i] = fd;
        w->far_fill++;
    }
    w->far_gens[i] = gen;
    return 0;
}

/* Drop fd's entry, shifting back the entries probed past it. */
static void pyev_far_remove(struct pyev_waiter *w, int fd)
{
    if (!w->far_cap)
        return;
    unsigned mask = (unsigned)w->far_cap - 1;
    unsigned i = (unsigned)pyev_far_index(w->far_fds, w->far_cap, fd);
    if (w->far_fds[i] != fd)
        return;
    w->far_fds[i] = -1;
    w->far_fill--;
    for (unsigned j = (i + 1) & mask; w->far_fds[j] >= 0; j = (j + 1) & mask) {
        int32_t moved = w->far_fds[j];
        uint32_t gen = w->far_gens[j];
        w->far_fds[j] = -1;
        unsigned k = (unsigned)pyev_far_index(w->far_fds, w->far_cap, moved);
        w->far_fds[k] = moved;
        w->far_gens[k] = gen;
    }
}

/* Move the far entries into new arrays of cap entries (filled with -1 by
   the caller, who owns their memory). */
static void pyev_far_move(struct pyev_waiter *w, int32_t *fds, uint32_t *gens, int cap)
{
    for (int i = 0; i < w->far_cap; i++) {
        if (w->far_fds[i] >= 0) {
            int k = pyev_far_index(fds, cap, w->far_fds[i]);
            fds[k] = w->far_fds[i];
            gens[k] = w->far_gens[i];
        }
    }
    w->far_fds = fds;
    w->far_gens = gens;
    w->far_cap = cap;
}

static int pyev_epoll_wait(struct pyev_waiter *w, double timeout)
{
    struct epoll_event *buf = w->buf;
    int32_t *out = w->out;
    const uint32_t *gens = w->gens;
    int ngens = w->ngens, maxevents = w->capacity;
    int timeout_ms = 0;
    if (timeout > 0) {
        double ms = ceil(timeout * 1e3);
        timeout_ms = ms > 2000000000.0 ? 2000000000 : (int)ms;
    }
    int n = epoll_wait(w->epfd, buf, maxevents, timeout_ms);
    if (n < 0)
        return -errno;
    int kept = 0, flags = 0;
    for (int i = 0; i < n; ++i) {
        uint64_t data = buf[i].data.u64;
        int fd = (int)(uint32_t)data;
        uint32_t gen = (uint32_t)(data >> 32);
        if (fd >= 0 && fd < ngens ? gens[fd] != gen : pyev_generation(w, fd) != gen) {
            flags |= PYEV_WAIT_STALE;
            continue;
        }
        uint32_t got = buf[i].events;
        int32_t mask = 0;
        if (got & (EPOLLERR | EPOLLHUP))
            mask = PYEV_READ | PYEV_WRITE;
        if (got & (EPOLLIN | EPOLLPRI | EPOLLRDHUP))
            mask |= PYEV_READ;
        if (got & EPOLLOUT)
            mask |= PYEV_WRITE;
        out[2 * kept] = fd;
        out[2 * kept + 1] = mask;
        ++kept;
    }
    if (n == maxevents)
        flags |= PYEV_WAIT_FULL;
    return kept | flags;
}

static int pyev_signalfd(int fd, const int *signums, int count)
{
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; ++i)
        sigaddset(&set, signums[i]);
    int r = signalfd(fd, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return r < 0 ? -errno : r;
}

/* Reads whatever is queued (up to max records); returns the signal numbers. */
static int pyev_signalfd_read(int fd, int *signums, int max)
{
    struct signalfd_siginfo info[16];
    int total = 0;
    while (total < max) {
        int want = max - total < 16 ? max - total : 16;
        ssize_t got = read(fd, info, sizeof info[0] * (size_t)want);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            return total ? total : -errno;
        }
        int records = (int)(got / (ssize_t)sizeof info[0]);
        for (int i = 0; i < records; ++i)
            signums[total++] = (int)info[i].ssi_signo;
        if (records < want)
            break;
    }
    return total;
}

static int pyev_inotify_init(void)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static int pyev_inotify_add_watch(int fd, const char *path, uint32_t mask)
{
    int wd = inotify_add_watch(fd, path, mask);
    return wd < 0 ? -errno : wd;
}

static int pyev_inotify_rm_watch(int fd, int wd)
{
    return inotify_rm_watch(fd, wd) < 0 ? -errno : 0;
}

static long long pyev_statfs_type(const char *path)
{
    struct statfs sfs;
    if (statfs(path, &sfs) < 0)
        return -(long long)errno;
    return (long long)sfs.f_type;
}
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "pyev._linux._kernel",
    SOURCE,
    include_dirs=[os.path.dirname(os.path.abspath(__file__))],  # waiter.h
    depends=[os.path.join(os.path.dirname(os.path.abspath(__file__)), "waiter.h")],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
