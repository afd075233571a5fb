/* pyev._core: the loop's hot path in C. This header is what its files share.
 *
 * Python owns the design; these files own the speed: the idle and
 * ping-pong benchmarks showed that no Python iteration could reach the
 * targets (tests/benchmarks/bare_epoll_bound.py, docs/internals.md).
 *
 * They define the base types whose fields the Python classes (Watcher,
 * Timer, Io, Async, Loop, ...) share *by name*, so Python code keeps
 * reading and writing `w._revents`, `loop._activecnt`, ... while C reads
 * the struct directly; the deadline heap and the fd table; and the
 * iteration itself. The rare steps (fork, a periodic's next time, clock
 * jumps, killing a broken fd) stay Python methods that the iteration calls.
 * The files, in the order of the layers:
 *
 *   core.h      the structs and constants, and what the files share
 *   watchers.c  WatcherBase and its subtypes; Timer's constructor, start
 *               and stop, and Async.send (the hot watcher operations)
 *   pending.c   the pending queue: queueing an event, taking one back,
 *               invoking by priority
 *   heap.c      the deadline heap, one type for a loop's Timers and for
 *               its Periodics
 *   fdtable.c   fd -> Io watchers, and the interest changes flushed to the
 *               backend
 *   loop.c      LoopBase: the loop's fields and methods
 *   iterate.c   one iteration, as a list of libev's phases, and run()'s loop
 *   module.c    the names looked up in Python, cached objects, PyInit__core
 *
 * The invariants are stated in _loop.py (L1-L4), _fdtable.py (F1-F4) and
 * heap.c (D1-D3, the deadline heap's); these files keep them all.
 *
 * Conventions: "pending" means `revents` is an int (not None); a watcher is
 * then listed once in `loop._pending[pidx]`. Any call into Python may
 * change any state, so nothing read before such a call is trusted after it:
 * no pointer into a growable array, no length and no borrowed reference is
 * kept across a call that can run Python code, and on 3.11 that includes
 * every allocation of a container (a collection may run there, and with it
 * finalizers that start or stop watchers).
 *
 * The directory is pyev/_c, not pyev/_core: a directory named like the
 * module would import as an empty namespace package wherever the extension
 * is not built.
 *
 * Only PyInit__core leaves the shared object: setup.py builds with
 * -fvisibility=hidden, so the functions the files share are called
 * directly, as static ones are, and cannot clash with another library's.
 */
#ifndef PYEV_CORE_H
#define PYEV_CORE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <signal.h>

#include "waiter.h"

#define NUMPRI 5 /* priorities MINPRI (-2) .. MAXPRI (2) */
#define EV_TIMER 0x100L
#define EV_PERIODIC 0x200L
#define EV_IDLE 0x2000L
#define EV_PREPARE 0x4000L
#define EV_CHECK 0x8000L
#define EV_FORK 0x20000L
#define EV_ERROR 0x80000000L
#define RUN_NOWAIT 1
/* The longest single poll: a wall-clock jump is noticed at least this often
   (libev's MAX_BLOCKTIME, used when no timerfd watches the clock). */
#define MAX_BLOCKTIME 59.743
/* How often (seconds of monotonic time) the wall clock is read again. */
#define WALL_RECHECK 0.5

/* -- watchers (watchers.c) ------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    PyObject *loop;     /* _loop: the loop last started on or fed to */
    PyObject *callback; /* _callback */
    PyObject *revents;  /* _revents: None unless pending */
    PyObject *data;
    int pidx;           /* _pidx: priority - MINPRI */
    char active;        /* _active */
    char keepalive;     /* _keepalive */
} WatcherObject;

#define IS_PENDING(w) ((w)->revents != Py_None && (w)->revents != NULL)

/* A watcher with a deadline, kept in a DeadlineHeap: Timer, Periodic. */
typedef struct {
    WatcherObject base;
    double at;         /* _at: the deadline (while armed, the heap's to set) */
    Py_ssize_t hindex; /* _hindex: its place in its loop's heap, -1 if none */
} DeadlineObject;

typedef struct {
    DeadlineObject deadline;
    double after;  /* _after */
    double repeat; /* _repeat */
} TimerObject;

typedef struct {
    WatcherObject base;
    int fd;     /* _fd */
    int events; /* _events: READ | WRITE bits */
} IoObject;

typedef struct {
    WatcherObject base;
    Py_ssize_t index; /* _index: its place in its loop's list, -1 if none */
} ListedObject;

typedef struct {
    ListedObject base;
    char sent; /* _sent: send() since the loop last looked */
} AsyncObject;

extern PyTypeObject WatcherBase_Type, DeadlineBase_Type, TimerBase_Type, PeriodicBase_Type, IoBase_Type,
    ListedBase_Type, AsyncBase_Type;

/* -- the deadline heap (heap.c) ------------------------------------------- */

typedef struct {
    double at;
    long long seq;
    DeadlineObject *w;
} HeapNode;

/* Armed watchers: a binary heap in a C array (invariants D1-D3 in heap.c). */
typedef struct {
    PyObject_HEAD
    HeapNode *nodes;
    Py_ssize_t len, cap;
    long long seq;
} DeadlineHeapObject;

extern PyTypeObject DeadlineHeap_Type;

int heap_push(DeadlineHeapObject *h, DeadlineObject *w, double at);
DeadlineObject *heap_remove_at(DeadlineHeapObject *h, Py_ssize_t i);
void heap_rearm(DeadlineHeapObject *h, DeadlineObject *w, double at);
int heap_holds(DeadlineHeapObject *h, PyObject *w);
DeadlineObject *heap_remove(DeadlineHeapObject *h, DeadlineObject *w);
/* heap, if it is a DeadlineHeap (borrowed), else NULL with an error naming
   the loop's field. */
DeadlineHeapObject *checked_heap(PyObject *heap, const char *field);

/* -- the fd table (fdtable.c) --------------------------------------------- */

/* A slot: no watcher (NULL), one Io watcher itself, or a tuple of two or
   more; its meaning and invariants F1-F4 are stated in _fdtable.py. Small
   fds index a C array, the others a small open-addressing table (fdtable.c
   says why). */
typedef struct {
    PyObject *watchers;
    int kmask;              /* what the backend was last told */
    unsigned char used;     /* 0: free, as if absent (F4 says when a slot goes) */
    unsigned char dirty;    /* listed in changes */
    unsigned char reopened; /* register afresh at the next flush */
} FdSlot;

typedef struct {
    int fd; /* -1: empty */
    FdSlot slot;
} FarSlot;

typedef struct {
    PyObject_HEAD
    FdSlot *slots;     /* fds 0 .. nslots-1 (nslots <= PYEV_DENSE_FDS) */
    Py_ssize_t nslots;
    FarSlot *far;      /* fds >= PYEV_DENSE_FDS; farcap is 0 or a power of two */
    Py_ssize_t farcap, farfill;
    int *changes;
    Py_ssize_t nchanges, capchanges;
    PyObject *backend;
} FdTableObject;

extern PyTypeObject FdTableBase_Type;

/* Where fd's far entry is, or the empty entry it would take (farcap > 0). */
static inline Py_ssize_t
far_index(FarSlot *far, Py_ssize_t cap, int fd)
{
    size_t mask = (size_t)cap - 1, i = ((size_t)(unsigned)fd * 2654435761u) & mask;
    while (far[i].fd >= 0 && far[i].fd != fd)
        i = (i + 1) & mask;
    return (Py_ssize_t)i;
}

/* The used slot of fd, or NULL (no error) if there is none. Inline: the
   iteration looks up every ready fd (ping-pong benchmark). */
static inline FdSlot *
fdtable_find(FdTableObject *t, long fd)
{
    if (fd < 0)
        return NULL;
    if (fd < PYEV_DENSE_FDS)
        return fd < t->nslots && t->slots[fd].used ? &t->slots[fd] : NULL;
    if (fd > INT_MAX || !t->farcap)
        return NULL;
    FarSlot *f = &t->far[far_index(t->far, t->farcap, (int)fd)];
    return f->fd == fd && f->slot.used ? &f->slot : NULL;
}

/* -- the loop (loop.c, iterate.c) and its pending queue (pending.c) ------- */

typedef struct {
    PyObject_HEAD
    PyObject *pending;    /* _pending: NUMPRI lists, one per priority */
    PyObject *idles;      /* _idles: NUMPRI lists */
    PyObject *prepares;   /* _prepares */
    PyObject *checks;     /* _checks */
    PyObject *forks;      /* _forks */
    PyObject *timers;     /* _timers: a DeadlineHeap, monotonic deadlines */
    PyObject *periodics;  /* _periodics: a DeadlineHeap, wall-clock deadlines */
    PyObject *fdtable;    /* _fdtable: an FdTableBase */
    PyObject *hooks;      /* _hooks: fd -> callable */
    PyObject *backend;    /* _backend */
    PyObject *wakeup;     /* _wakeup */
    PyObject *masked_reader; /* called when a masked poll reports masked_fd (_mask_signals) */
    Py_ssize_t activecnt; /* _activecnt (L1) */
    Py_ssize_t idle_count;
    long long iteration;
    double mn_now, rt_now, rt_offset, rt_checked, last_poll;
    double io_collect, timeout_collect;
    long pid;
    int brk;              /* _break */
    char closed, forkcheck, fork_unseen, postfork;
    char polling;         /* _polling: between the wake-up check and the poll's return */
    /* _mask_signals: the signals blocked while a poll may block (if
       poll_masked), and the signalfd that reads them then, or -1 */
    sigset_t poll_sigset;
    char poll_masked;
    int masked_fd;
    /* The epoll backend's waiter, polled from here while waiter->fast
       (ping-pong benchmark); waiter_owner keeps its memory alive. */
    PyObject *waiter_owner;
    struct pyev_waiter *waiter;
    pyev_epoll_wait_fn epoll_wait;
} LoopObject;

extern PyTypeObject LoopBase_Type;

/* C's only ways to make a watcher active or inactive: with its keepalive,
   an active watcher counts once in its loop's activecnt (invariant L1,
   _loop.py; Watcher._activate and _deactivate in Python). */
static inline void
watcher_set_active(LoopObject *L, WatcherObject *w)
{
    w->active = 1;
    if (w->keepalive)
        L->activecnt++;
}

static inline void
watcher_set_inactive(LoopObject *L, WatcherObject *w)
{
    w->active = 0;
    if (w->keepalive)
        L->activecnt--;
}

/* The loop's deadline heaps, checked (borrowed), or NULL with an error. */
static inline DeadlineHeapObject *
loop_timers(LoopObject *L)
{
    return checked_heap(L->timers, "_timers");
}

static inline DeadlineHeapObject *
loop_periodics(LoopObject *L)
{
    return checked_heap(L->periodics, "_periodics");
}

/* The pending list of priority index pidx, checked (borrowed). Inline: the
   iteration asks for a level several times per iteration (idle benchmark). */
static inline PyObject *
pending_level(LoopObject *L, int pidx)
{
    if (!PyList_Check(L->pending) || PyList_GET_SIZE(L->pending) != NUMPRI) {
        PyErr_SetString(PyExc_SystemError, "Loop._pending is not a list of NUMPRI lists");
        return NULL;
    }
    if (pidx < 0 || pidx >= NUMPRI) {
        PyErr_Format(PyExc_SystemError, "watcher priority index %d out of range", pidx);
        return NULL;
    }
    PyObject *q = PyList_GET_ITEM(L->pending, pidx);
    if (!PyList_Check(q)) {
        PyErr_SetString(PyExc_SystemError, "Loop._pending holds a non-list");
        return NULL;
    }
    return q;
}

int queue_event(LoopObject *L, WatcherObject *w, PyObject *bits);
int queue_all(LoopObject *L, PyObject *list, PyObject *bits);
PyObject *unpend(LoopObject *L, WatcherObject *w);
int invoke_pending(LoopObject *L);
int any_pending(LoopObject *L);
/* LoopBase's methods defined elsewhere than loop.c, which lists them */
PyObject *loopbase_queue(LoopObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *loopbase_queue_all(LoopObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *loopbase_unpend(LoopObject *self, PyObject *w);
PyObject *loopbase_invoke_pending(LoopObject *self, PyObject *unused);
PyObject *loopbase_run_iterations(LoopObject *self, PyObject *arg);
PyObject *loopbase_update_time(LoopObject *self, PyObject *unused);
PyObject *loopbase_mask_signals(LoopObject *self, PyObject *const *args, Py_ssize_t nargs);

/* -- the names C looks up in Python, and cached objects (module.c) -------- */

/* on the loop (pyev._loop.Loop) */
extern PyObject *str_fork, *str_rebuild_after_fork, *str_flush_fd_changes, *str_read_wall_clock,
    *str_kill_fd;
/* on the backend, the wake-up (pyev._sources.wakeup.Wakeup), watchers */
extern PyObject *str_poll, *str_armed, *str_take, *str_notify, *str_start_general, *str_checked_args,
    *str_fired;
/* revents objects for the phases, built once (idle benchmark: no int
   allocation per queued watcher). */
extern PyObject *obj_timer, *obj_periodic, *obj_idle, *obj_prepare, *obj_check, *obj_fork;

static inline int
call_method0(PyObject *obj, PyObject *name)
{
    PyObject *r = PyObject_CallMethodNoArgs(obj, name);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* -- object fields (module.c) --------------------------------------------- */

/* An object field as a Python attribute that cannot be deleted: the C code
   relies on it never being NULL. closure: the field's offset. */
PyObject *field_get(PyObject *self, void *closure);
int field_set(PyObject *self, PyObject *value, void *closure);
/* A list-valued field: the C code reads it with the list macros. */
int list_field_set(PyObject *self, PyObject *value, void *closure);

#define FIELD(name, type, field) {name, field_get, field_set, NULL, (void *)offsetof(type, field)}
#define LIST_FIELD(name, type, field) {name, field_get, list_field_set, NULL, (void *)offsetof(type, field)}

#endif
