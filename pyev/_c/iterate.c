/* One iteration of the loop, and run()'s loop over it.
 *
 * `iterate` is ev_run's loop body, one call per step of the outline in
 * libev's manual ("ev_run"), each step a small function named after it:
 *
 *   - If EVFLAG_FORKCHECK was used, check for a fork.          check_for_fork
 *   - If a fork was detected (by any means), queue and call
 *     all fork watchers.                                       call_fork_watchers
 *   - Queue and call all prepare watchers.                     call_prepare_watchers
 *   - If ev_break was called, goto FINISH.                     (in iterate)
 *   - If we have been forked, detach and recreate the kernel
 *     state as to not disturb the other process.               recreate_kernel_state
 *   - Update the kernel state with all outstanding changes.    update_kernel_state
 *   - Update the "event loop time" (ev_now ()).
 *   - Calculate for how long to sleep or block, if at all.
 *   - Sleep if the I/O and timer collect interval say so.      update_time_and_timeout
 *   - Increment loop iteration counter.
 *   - Block the process, waiting for any events.               block_for_events
 *   - Queue all outstanding I/O (fd) events.
 *   - Update the "event loop time" (ev_now ()), and do time
 *     jump adjustments.                                        queue_fd_events, take_wakeup
 *   - Queue all expired timers.                                queue_expired_timers
 *   - Queue all expired periodics.                             queue_expired_periodics
 *   - Queue all idle watchers with priority higher than that
 *     of pending events.                                       queue_idle_watchers
 *   - Queue all check watchers.                                queue_check_watchers
 *   - Call all queued watchers in reverse order.               invoke_pending (pending.c)
 *
 * run() (loopbase_run_iterations) calls it until a break, no active
 * watcher, a single iteration when flags ask for one, or a closed loop: the
 * last step of the outline. The rare steps call Python methods of the loop
 * (_loop.py): fork, _rebuild_after_fork, _flush_fd_changes,
 * _read_wall_clock (time jumps), _kill_fd; the signalfd's reader after a
 * masked poll (_mask_signals); and an expired Periodic's _fired, which
 * computes its next time.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

/* -- what the phases use -------------------------------------------------- */

static double
monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* _update_time: the wall clock is read every WALL_RECHECK seconds of
   monotonic time and interpolated in between (idle benchmark). */
static int
update_time(LoopObject *L)
{
    double mn = L->mn_now = monotonic_now();
    if (mn - L->rt_checked < WALL_RECHECK) {
        L->rt_now = mn + L->rt_offset;
        return 0;
    }
    PyObject *m = PyFloat_FromDouble(mn);
    if (m == NULL)
        return -1;
    PyObject *r = PyObject_CallMethodOneArg((PyObject *)L, str_read_wall_clock, m);
    Py_DECREF(m);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int
nonempty_list(PyObject *o)
{
    return PyList_Check(o) && PyList_GET_SIZE(o) > 0;
}

static int
wakeup_armed(LoopObject *L)
{
    PyObject *armed = PyObject_GetAttr(L->wakeup, str_armed);
    if (armed == NULL)
        return -1;
    int is_armed = PyObject_IsTrue(armed);
    Py_DECREF(armed);
    return is_armed;
}

/* Sleep for `seconds` with the GIL released: the io_collect nap. A signal
   runs its Python handler, which may raise, as in time.sleep. */
static int
nap(double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    double whole = floor(seconds);
    until.tv_sec += (time_t)whole;
    until.tv_nsec += (long)((seconds - whole) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    for (;;) {
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
        Py_END_ALLOW_THREADS
        if (rc != EINTR)
            return 0;
        if (PyErr_CheckSignals() < 0)
            return -1;
    }
}

/* How long a blocking poll may wait: until the next timer or periodic, at
   most MAX_BLOCKTIME and at least timeout_collect, 0 while anything is
   pending; less the io_collect nap, taken here (libev's ev_run). -1.0 on
   error. */
static double
poll_timeout(LoopObject *L)
{
    int pending = any_pending(L);
    if (pending)
        return pending < 0 ? -1.0 : 0.0;
    double timeout = MAX_BLOCKTIME;
    DeadlineHeapObject *timers = loop_timers(L);
    DeadlineHeapObject *periodics = timers == NULL ? NULL : loop_periodics(L);
    if (periodics == NULL)
        return -1.0;
    if (timers->len && timers->nodes[0].at - L->mn_now < timeout)
        timeout = timers->nodes[0].at - L->mn_now;
    if (periodics->len && periodics->nodes[0].at - L->rt_now < timeout)
        timeout = periodics->nodes[0].at - L->rt_now;
    if (timeout < L->timeout_collect)
        timeout = L->timeout_collect;
    if (L->io_collect) {
        double sleep = L->io_collect - (L->mn_now - L->last_poll);
        if (sleep > timeout - 0.001)
            sleep = timeout - 0.001;
        if (sleep > 0) {
            if (nap(sleep) < 0)
                return -1.0;
            timeout -= sleep;
        }
    }
    return timeout > 0 ? timeout : 0.0;
}

/* What a poll reported: the backend's flat list [fd, bits, fd, bits, ...],
   or npairs (fd, bits) pairs straight from pyev_epoll_wait, in `stack` when
   they are few, else in PyMem memory. */
#define STACK_PAIRS 64
typedef struct {
    PyObject *list;
    int32_t *pairs;
    int npairs;
    int32_t stack[2 * STACK_PAIRS];
} Ready;

static inline void
ready_release(Ready *r)
{
    Py_CLEAR(r->list);
    if (r->pairs != NULL && r->pairs != r->stack)
        PyMem_Free(r->pairs);
    r->pairs = NULL;
    r->npairs = 0;
}

/* Poll the backend: straight through the epoll waiter while it is fast
   (ping-pong benchmark), else through the backend's Python poll. */
static int
poll_backend(LoopObject *L, double timeout, Ready *r)
{
    if (L->waiter != NULL && L->waiter->fast) {
        struct pyev_waiter *waiter = L->waiter;
        int n;
        Py_BEGIN_ALLOW_THREADS
        n = L->epoll_wait(waiter, timeout);
        Py_END_ALLOW_THREADS
        if (n >= 0 && !(n & ~PYEV_WAIT_COUNT)) {
            /* copied: a callback may poll or resize the waiter meanwhile */
            r->pairs = n <= STACK_PAIRS ? r->stack : PyMem_Malloc(2 * sizeof(int32_t) * (size_t)n);
            if (r->pairs == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            memcpy(r->pairs, waiter->out, 2 * sizeof(int32_t) * (size_t)n);
            r->npairs = n;
            return 0;
        }
        /* EINTR, an error, stale registrations, a full buffer: Python */
        PyObject *owner = Py_NewRef(L->waiter_owner);
        r->list = PyObject_CallMethod(owner, "_unusual", "i", n);
        Py_DECREF(owner);
    } else {
        PyObject *t = PyFloat_FromDouble(timeout);
        PyObject *poll = t == NULL ? NULL : PyObject_GetAttr(L->backend, str_poll);
        r->list = poll == NULL ? NULL : PyObject_CallOneArg(poll, t);
        Py_XDECREF(poll);
        Py_XDECREF(t);
    }
    if (r->list != NULL && !PyList_Check(r->list)) {
        Py_CLEAR(r->list);
        PyErr_SetString(PyExc_SystemError, "backend poll did not return a list");
    }
    return r->list == NULL ? -1 : 0;
}

static int
fd_reported(int fd, const Ready *r)
{
    if (r->list != NULL) {
        for (Py_ssize_t i = 0; i + 1 < PyList_GET_SIZE(r->list); i += 2) {
            PyObject *item = PyList_GET_ITEM(r->list, i);
            if (PyLong_Check(item) && PyLong_AsLong(item) == fd)
                return 1;
            PyErr_Clear(); /* not an fd: dispatch reports it */
        }
        return 0;
    }
    for (int i = 0; i < r->npairs; i++) {
        if (r->pairs[2 * i] == fd)
            return 1;
    }
    return 0;
}

/* _mask_signals(signums, fd, reader): from now on, block signums in the
   loop's thread while a poll that can block runs, so that they queue in
   the signalfd fd instead of running handlers; if the poll reports fd,
   call reader() before they are unblocked. No signums: no masking. The
   signal source (pyev/_sources/signals.py) is the only caller, and says
   why the signals are blocked only while polling. */
PyObject *
loopbase_mask_signals(LoopObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3)
        return PyErr_Format(PyExc_TypeError, "_mask_signals(signums, fd, reader)");
    sigset_t set;
    sigemptyset(&set);
    char any = 0;
    PyObject *it = PyObject_GetIter(args[0]);
    if (it == NULL)
        return NULL;
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        long signum = PyLong_AsLong(item);
        Py_DECREF(item);
        if (signum == -1 && PyErr_Occurred())
            break;
        if (signum <= 0 || signum >= NSIG || sigaddset(&set, (int)signum) < 0) {
            PyErr_Format(PyExc_ValueError, "bad signal number %ld to mask", signum);
            break;
        }
        any = 1;
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    long fd = PyLong_AsLong(args[1]);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    if (fd < -1 || fd > INT_MAX)
        return PyErr_Format(PyExc_ValueError, "bad signalfd %ld", fd);
    if (args[2] != Py_None && !PyCallable_Check(args[2]))
        return PyErr_Format(PyExc_TypeError, "reader must be callable or None");
    /* set only now, when no more Python code can run */
    self->poll_sigset = set;
    self->poll_masked = any;
    self->masked_fd = (int)fd;
    Py_XSETREF(self->masked_reader, Py_NewRef(args[2]));
    Py_RETURN_NONE;
}

/* poll_backend with the signals of _mask_signals blocked; if the poll
   reports their signalfd, its reader reads it before they are unblocked
   (once unblocked, they would go to the handlers instead). */
static int
poll_masked(LoopObject *L, double timeout, Ready *r)
{
    /* A poll that cannot block needs no mask: a signal arriving meanwhile
       takes the handler path, as it does outside the poll (signals
       benchmark: two system calls less per busy iteration). */
    if (!(timeout > 0 && L->poll_masked))
        return poll_backend(L, timeout, r);
    sigset_t previous;
    int err = pthread_sigmask(SIG_BLOCK, &L->poll_sigset, &previous);
    if (err) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    int rc = poll_backend(L, timeout, r);
    if (rc == 0 && L->masked_fd >= 0 && L->masked_reader != NULL && L->masked_reader != Py_None &&
        fd_reported(L->masked_fd, r)) {
        PyObject *reader = Py_NewRef(L->masked_reader);
        PyObject *res = PyObject_CallNoArgs(reader);
        Py_DECREF(reader);
        if (res == NULL) {
            rc = -1;
            ready_release(r);
        } else {
            Py_DECREF(res);
        }
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return rc;
}

/* L._kill_fd(fd) */
static int
kill_fd(LoopObject *L, long fd)
{
    PyObject *fdobj = PyLong_FromLong(fd);
    if (fdobj == NULL)
        return -1;
    PyObject *r = PyObject_CallMethodOneArg((PyObject *)L, str_kill_fd, fdobj);
    Py_DECREF(fdobj);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int
queue_io(LoopObject *L, PyObject *w, long got)
{
    long bits = ((IoObject *)w)->events & got;
    if (!bits)
        return 0;
    PyObject *b = PyLong_FromLong(bits); /* 1..3: cached small ints */
    int rc = b == NULL ? -1 : queue_event(L, (WatcherObject *)w, b);
    Py_XDECREF(b);
    return rc;
}

/* The Io watchers of a ready fd get the bits they watch; a hook (the
   loop's own fds) runs at once; an fd reported broken is killed. No call
   into Python happens while a slot is read, except the two that end it. */
static int
dispatch_fd(LoopObject *L, long fd, long got)
{
    if (!PyObject_TypeCheck(L->fdtable, &FdTableBase_Type)) {
        PyErr_SetString(PyExc_SystemError, "Loop._fdtable is not an FdTable");
        return -1;
    }
    FdSlot *slot = fdtable_find((FdTableObject *)L->fdtable, fd);
    if (slot == NULL) {
        if (!PyDict_Check(L->hooks))
            return 0;
        PyObject *fdobj = PyLong_FromLong(fd);
        if (fdobj == NULL)
            return -1;
        PyObject *hook = PyDict_GetItemWithError(L->hooks, fdobj);
        Py_DECREF(fdobj);
        if (hook == NULL)
            return PyErr_Occurred() ? -1 : 0;
        Py_INCREF(hook);
        PyObject *r = PyObject_CallNoArgs(hook);
        Py_DECREF(hook);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
        return 0;
    }
    if (got & EV_ERROR)
        return kill_fd(L, fd);
    PyObject *watchers = slot->watchers;
    if (watchers == NULL)
        return 0;
    if (!PyTuple_Check(watchers))
        return queue_io(L, watchers, got);
    Py_INCREF(watchers);
    int rc = 0;
    for (Py_ssize_t j = 0; rc == 0 && j < PyTuple_GET_SIZE(watchers); j++)
        rc = queue_io(L, PyTuple_GET_ITEM(watchers, j), got);
    Py_DECREF(watchers);
    return rc;
}

/* Every fd the poll reported, in its order. */
static int
dispatch(LoopObject *L, const Ready *r)
{
    if (r->list == NULL) {
        for (int i = 0; i < r->npairs; i++) {
            if (dispatch_fd(L, r->pairs[2 * i], r->pairs[2 * i + 1]) < 0)
                return -1;
        }
        return 0;
    }
    PyObject *ready = Py_NewRef(r->list);
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i + 1 < PyList_GET_SIZE(ready); i += 2) {
        long fd = PyLong_AsLong(PyList_GET_ITEM(ready, i));
        long got = PyLong_AsLong(PyList_GET_ITEM(ready, i + 1));
        rc = PyErr_Occurred() ? -1 : dispatch_fd(L, fd, got);
    }
    Py_DECREF(ready);
    return rc;
}

/* -- the phases, in ev_run's order ---------------------------------------- */

/* A fork found is noted as the user would note it: Loop.fork(). */
static int
check_for_fork(LoopObject *L)
{
    if (L->forkcheck && (long)getpid() != L->pid)
        return call_method0((PyObject *)L, str_fork);
    return 0;
}

static int
call_fork_watchers(LoopObject *L)
{
    if (!L->fork_unseen)
        return 0;
    L->fork_unseen = 0; /* once per fork, even if a callback raises */
    if (!nonempty_list(L->forks))
        return 0;
    return queue_all(L, L->forks, obj_fork) < 0 ? -1 : invoke_pending(L);
}

static int
call_prepare_watchers(LoopObject *L)
{
    if (!nonempty_list(L->prepares))
        return 0;
    return queue_all(L, L->prepares, obj_prepare) < 0 ? -1 : invoke_pending(L);
}

static int
recreate_kernel_state(LoopObject *L)
{
    return L->postfork ? call_method0((PyObject *)L, str_rebuild_after_fork) : 0;
}

/* Loop._flush_fd_changes: FdTable.flush, and _kill_fd for each fd the
   backend refused. */
static int
update_kernel_state(LoopObject *L)
{
    if (PyObject_TypeCheck(L->fdtable, &FdTableBase_Type) && ((FdTableObject *)L->fdtable)->nchanges)
        return call_method0((PyObject *)L, str_flush_fd_changes);
    return 0;
}

/* *timeout: 0 unless the poll may block (no idle watcher, not RUN_NOWAIT,
   some active watcher), else the time to the next deadline, at most
   MAX_BLOCKTIME. */
static int
update_time_and_timeout(LoopObject *L, int flags, double *timeout)
{
    *timeout = 0.0;
    int may_block = !(flags & RUN_NOWAIT || L->idle_count || !L->activecnt);
    /* Before a poll that may block, Python's signal handlers, for a signal
       whose byte in the signal pipe a hook drained after the last look:
       from here on, a signal finds its byte in the pipe when the poll
       starts (signals.py: hold_interrupts), so the poll never sleeps on
       it. */
    if (may_block && PyErr_CheckSignals() < 0)
        return -1;
    if (update_time(L) < 0)
        return -1;
    if (may_block && L->idle_count == 0 && L->activecnt) { /* a handler may have changed them */
        *timeout = poll_timeout(L);
        if (*timeout < 0)
            return -1;
    }
    return 0;
}

/* *r: what the poll reported, to be released by the caller. */
static int
block_for_events(LoopObject *L, double timeout, Ready *r)
{
    r->list = NULL;
    r->pairs = NULL;
    r->npairs = 0;
    /* From here a Wakeup.notify writes its eventfd; one that came before
       left `armed` set, and then the poll must not block (wakeup.py). */
    L->polling = 1;
    if (timeout > 0 && L->wakeup != Py_None) {
        int armed = wakeup_armed(L);
        if (armed < 0) {
            L->polling = 0;
            return -1;
        }
        if (armed)
            timeout = 0.0;
    }
    L->iteration++;
    int rc = poll_masked(L, timeout, r);
    L->polling = 0;
    return rc;
}

/* Hooks run at once, user watchers are queued. The time is updated
   before (libev: after), so the hooks see it. */
static int
queue_fd_events(LoopObject *L, const Ready *r)
{
    /* Python signal handlers run here, as they would after the call in
       Python code: a wake-up they arm is then taken in this iteration. */
    int rc = PyErr_CheckSignals() < 0 || update_time(L) < 0 ? -1 : 0;
    L->last_poll = L->mn_now;
    return rc < 0 ? -1 : dispatch(L, r);
}

/* The wake-up (wakeup.py) stands for libev's pipe watcher, whose event is
   queued with the fd events: armed without a write (before the poll, or by
   a signal handler that ran after it), or written after the poll returned,
   it is taken now. */
static int
take_wakeup(LoopObject *L)
{
    if (L->wakeup == Py_None)
        return 0;
    int armed = wakeup_armed(L);
    if (armed <= 0)
        return armed;
    PyObject *wakeup = Py_NewRef(L->wakeup);
    int rc = call_method0(wakeup, str_take);
    Py_DECREF(wakeup);
    return rc;
}

/* Earliest deadline first to be invoked; repeating timers are re-armed at
   deadline + repeat (or now if that is already past), one-shot ones leave
   the heap and stop being active. */
static int
queue_expired_timers(LoopObject *L)
{
    DeadlineHeapObject *h = loop_timers(L);
    if (h == NULL)
        return -1;
    if (!(h->len && h->nodes[0].at < L->mn_now))
        return 0;
    PyObject *expired = PyList_New(0); /* may collect: h is read again after */
    if (expired == NULL)
        return -1;
    h = loop_timers(L);
    if (h == NULL) {
        Py_DECREF(expired);
        return -1;
    }
    double now = L->mn_now;
    while (h->len && h->nodes[0].at < now) {
        DeadlineObject *d = h->nodes[0].w;
        int rc;
        if (d->hindex != 0 || !PyObject_TypeCheck(d, &TimerBase_Type)) {
            PyErr_SetString(PyExc_SystemError, "the timer heap's top is no Timer at its place (D2)");
            goto fail;
        }
        TimerObject *w = (TimerObject *)d;
        if (w->repeat) {
            double next = h->nodes[0].at + w->repeat;
            heap_rearm(h, d, next > now ? next : now);
            rc = PyList_Append(expired, (PyObject *)w);
        } else {
            /* listed before it leaves the heap: an allocation failure
               here loses no timer */
            rc = PyList_Append(expired, (PyObject *)w);
            if (rc == 0) {
                Py_DECREF(heap_remove_at(h, 0)); /* the heap's reference */
                watcher_set_inactive(L, &d->base);
            }
        }
        if (rc < 0)
            goto fail;
    }
    /* invocation pops from the end: queue the earliest last */
    for (Py_ssize_t i = PyList_GET_SIZE(expired) - 1; i >= 0; i--) {
        if (queue_event(L, (WatcherObject *)PyList_GET_ITEM(expired, i), obj_timer) < 0)
            goto fail;
    }
    Py_DECREF(expired);
    return 0;
fail:
    Py_DECREF(expired);
    return -1;
}

/* The exception being raised, taken (a new reference, NULL if none). */
static PyObject *
take_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL)
        return NULL;
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

/* Raise exc (a reference the call steals) again. */
static void
raise_again(PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
#endif
}

/* Earliest first, each expired Periodic leaves the heap and its _fired
   (Python: its next time may come from the user's reschedule) arms it
   again or stops it, and says whether to queue it (not if the reschedule
   stopped it); then those are queued. One whose _fired raises is stopped
   and not queued; the others still are, and the first exception
   propagates after. */
static int
queue_expired_periodics(LoopObject *L)
{
    DeadlineHeapObject *h = loop_periodics(L);
    if (h == NULL)
        return -1;
    if (!(h->len && h->nodes[0].at < L->rt_now))
        return 0;
    PyObject *expired = PyList_New(0);
    if (expired == NULL)
        return -1;
    PyObject *failure = NULL;
    double now = L->rt_now;
    /* _fired runs Python code: the heap is looked up again each time */
    while ((h = loop_periodics(L)) != NULL && h->len && h->nodes[0].at < now) {
        DeadlineObject *w = heap_remove_at(h, 0); /* the heap's reference, now ours */
        PyObject *r = PyObject_CallMethodOneArg((PyObject *)w, str_fired, (PyObject *)L);
        int queue = r == NULL ? -1 : PyObject_IsTrue(r);
        Py_XDECREF(r);
        int ok = queue >= 0;
        if (queue > 0)
            ok = PyList_Append(expired, (PyObject *)w) == 0;
        if (!ok) {
            if (w->base.active && w->hindex < 0) /* stopped, as _fired would have (D3) */
                watcher_set_inactive(L, &w->base);
            PyObject *exc = take_exception();
            if (failure == NULL)
                failure = exc;
            else
                Py_XDECREF(exc);
        }
        Py_DECREF(w);
    }
    int rc = h == NULL ? -1 : 0;
    /* invocation pops from the end: queue the earliest last */
    for (Py_ssize_t i = PyList_GET_SIZE(expired) - 1; rc == 0 && i >= 0; i--)
        rc = queue_event(L, (WatcherObject *)PyList_GET_ITEM(expired, i), obj_periodic);
    Py_DECREF(expired);
    if (failure != NULL) {
        if (rc < 0)
            PyErr_Clear(); /* the first failure wins */
        raise_again(failure);
        return -1;
    }
    return rc;
}

/* Lock-out: idle watchers of priority P are queued only when nothing is
   pending at priority >= P; one level per iteration, highest first. */
static int
queue_idle_watchers(LoopObject *L)
{
    if (!L->idle_count)
        return 0;
    if (!PyList_Check(L->idles) || PyList_GET_SIZE(L->idles) != NUMPRI) {
        PyErr_SetString(PyExc_SystemError, "Loop._idles is not a list of NUMPRI lists");
        return -1;
    }
    for (int level = NUMPRI - 1; level >= 0; level--) {
        PyObject *q = pending_level(L, level);
        if (q == NULL)
            return -1;
        if (PyList_GET_SIZE(q))
            return 0;
        PyObject *idles = PyList_GET_ITEM(L->idles, level);
        if (PyList_Check(idles) && PyList_GET_SIZE(idles))
            return queue_all(L, idles, obj_idle);
    }
    return 0;
}

static int
queue_check_watchers(LoopObject *L)
{
    return nonempty_list(L->checks) ? queue_all(L, L->checks, obj_check) : 0;
}

/* -- one iteration, and run()'s loop ------------------------------------- */

static int
iterate(LoopObject *L, int flags)
{
    if (check_for_fork(L) < 0 || call_fork_watchers(L) < 0 || call_prepare_watchers(L) < 0)
        return -1;
    if (L->brk || L->closed) /* a break or close from those callbacks: no poll */
        return 0;
    if (recreate_kernel_state(L) < 0 || update_kernel_state(L) < 0)
        return -1;
    double timeout;
    if (update_time_and_timeout(L, flags, &timeout) < 0)
        return -1;
    /* Python code ran since the break check (fd changes, signal handlers,
       the clock): it may have closed the loop, whose backend is then gone. */
    if (L->closed)
        return 0;
    Ready ready;
    int rc = block_for_events(L, timeout, &ready);
    if (rc == 0)
        rc = queue_fd_events(L, &ready);
    ready_release(&ready);
    if (rc < 0 || take_wakeup(L) < 0)
        return -1;
    if (queue_expired_timers(L) < 0 || queue_expired_periodics(L) < 0 || queue_idle_watchers(L) < 0 ||
        queue_check_watchers(L) < 0)
        return -1;
    return invoke_pending(L);
}

/* run()'s body: pending callbacks first, then iterate until a break, no
   active watcher, a single iteration (flags) or a closed loop. */
PyObject *
loopbase_run_iterations(LoopObject *self, PyObject *arg)
{
    long flags = PyLong_AsLong(arg);
    if (flags == -1 && PyErr_Occurred())
        return NULL;
    if (flags < 0 || flags > 3)
        return PyErr_Format(PyExc_ValueError, "unknown run flags %ld", flags);
    if (invoke_pending(self) < 0)
        return NULL;
    for (;;) {
        if (iterate(self, (int)flags) < 0)
            return NULL;
        if (self->brk || !self->activecnt || flags || self->closed)
            break;
    }
    Py_RETURN_NONE;
}

PyObject *
loopbase_update_time(LoopObject *self, PyObject *unused)
{
    if (update_time(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}
