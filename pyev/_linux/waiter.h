/* The epoll waiter shared by the cffi shim (_build.py), which implements
 * pyev_epoll_wait, and the loop's C hot path (pyev/_c/iterate.c), which calls it
 * through a pointer the shim hands out, so that the common poll crosses no
 * Python call (ping-pong benchmark). Python owns the memory it points to.
 */
#ifndef PYEV_WAITER_H
#define PYEV_WAITER_H

#include <stdint.h>
#include <sys/epoll.h>

/* pyev's readiness bits (libev's EV_READ / EV_WRITE). */
#define PYEV_READ 0x01
#define PYEV_WRITE 0x02
/* pyev_epoll_wait's result: a pair count, with these flags above it. */
#define PYEV_WAIT_COUNT 0xFFFFFF
#define PYEV_WAIT_STALE 0x1000000
#define PYEV_WAIT_FULL 0x2000000

/* Tables indexed by fd stop at this many entries; larger fds (any int a
   caller may pass) go to small hash tables, so memory follows the fds
   actually watched (the fd table in pyev/_c/fdtable.c, the epoll backend's masks and
   the generations below). */
#define PYEV_DENSE_FDS 1024

/* Each epoll registration carries fd | generation << 32. The generation of
   fd's current registration is gens[fd] for fd < ngens, else far_gens[i]
   where far_fds[i] == fd (open addressing, linear probing, far_cap a power
   of two or 0, far_fds[i] == -1 when empty); 0 means none. */
struct pyev_waiter {
    int epfd;
    int capacity;
    int ngens;
    /* 1 while the backend needs nothing but pyev_epoll_wait (no regular
       files, no stale registrations); else the backend's Python poll runs. */
    int fast;
    int far_cap;
    int far_fill;
    struct epoll_event *buf;
    int32_t *out;
    uint32_t *gens;
    int32_t *far_fds;
    uint32_t *far_gens;
};

typedef int (*pyev_epoll_wait_fn)(struct pyev_waiter *w, double timeout);

#endif
