/* pyev._core: the loop's hot path in C.
 *
 * Python owns the design; this file owns the speed: the idle and ping-pong
 * benchmarks showed that no Python iteration could reach the targets
 * (tests/benchmarks/bare_epoll_bound.py, docs/internals.md).
 *
 * It defines the base types whose fields the Python classes (Watcher,
 * Timer, Io, Async, Loop, ...) share *by name*, so Python code keeps
 * reading and writing `w._revents`, `loop._activecnt`, ... while C reads
 * the struct directly; the timer heap and the fd table; and the iteration
 * itself. The rare phases (fork, periodics, clock jumps, killing a broken
 * fd) stay Python methods that this file calls. The phase order and the
 * invariants are stated in _loop.py (L1-L4), _periodicheap.py (H1-H4) and
 * _fdtable.py (F1-F4); the timer heap's (T1-T3) are stated below. This file
 * keeps them all.
 *
 * Conventions: "pending" means `revents` is an int (not None); a watcher is
 * then listed once in `loop._pending[pidx]`. Any call into Python may
 * change any state, so nothing read before such a call is trusted after it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "waiter.h"

#define NUMPRI 5
#define EV_TIMER 0x100L
#define EV_IDLE 0x2000L
#define EV_PREPARE 0x4000L
#define EV_CHECK 0x8000L
#define EV_FORK 0x20000L
#define EV_ERROR 0x80000000L
#define RUN_NOWAIT 1
#define MAX_BLOCKTIME 59.743 /* keep equal to _loop.MAX_BLOCKTIME */
#define WALL_RECHECK 0.5     /* keep equal to _loop.WALL_RECHECK */

/* -- interned names and cached objects ------------------------------------ */

static PyObject *str_fork, *str_rebuild_after_fork, *str_flush_fd_changes,
    *str_read_wall_clock, *str_read_while_masked, *str_poll, *str_kill_fd,
    *str_armed, *str_take, *str_queue_expired_periodics,
    *str_poll_timeout, *str_entry, *str_sweep;
static PyObject *heappush_fn, *heappop_fn;
/* revents objects for the phases, built once (idle benchmark: no int
   allocation per queued watcher). */
static PyObject *obj_timer, *obj_idle, *obj_prepare, *obj_check, *obj_fork;

static double
monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* -- object fields ---------------------------------------------------------- */

/* An object field as a Python attribute that cannot be deleted: the C code
   relies on it never being NULL. closure: the field's offset. */
static PyObject *
field_get(PyObject *self, void *closure)
{
    PyObject *v = *(PyObject **)((char *)self + (Py_ssize_t)closure);
    return Py_NewRef(v != NULL ? v : Py_None);
}

static int
field_set(PyObject *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "this attribute cannot be deleted");
        return -1;
    }
    PyObject **field = (PyObject **)((char *)self + (Py_ssize_t)closure);
    Py_XSETREF(*field, Py_NewRef(value));
    return 0;
}

/* A list-valued field: the C code reads it with the list macros. */
static int
list_field_set(PyObject *self, PyObject *value, void *closure)
{
    if (value != NULL && !PyList_CheckExact(value)) {
        PyErr_Format(PyExc_TypeError, "must be a list, not %.100s", Py_TYPE(value)->tp_name);
        return -1;
    }
    return field_set(self, value, closure);
}

#define FIELD(name, type, field) {name, field_get, field_set, NULL, (void *)offsetof(type, field)}
#define LIST_FIELD(name, type, field) {name, field_get, list_field_set, NULL, (void *)offsetof(type, field)}

/* -- Watcher -------------------------------------------------------------- */

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

static PyObject *
watcher_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    WatcherObject *self = (WatcherObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->loop = Py_NewRef(Py_None);
    self->callback = Py_NewRef(Py_None);
    self->revents = Py_NewRef(Py_None);
    self->data = Py_NewRef(Py_None);
    self->keepalive = 1;
    return (PyObject *)self;
}

static int
watcher_traverse(WatcherObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->loop);
    Py_VISIT(self->callback);
    Py_VISIT(self->revents);
    Py_VISIT(self->data);
    return 0;
}

static int
watcher_clear(WatcherObject *self)
{
    Py_CLEAR(self->loop);
    Py_CLEAR(self->callback);
    Py_CLEAR(self->revents);
    Py_CLEAR(self->data);
    return 0;
}

static void
watcher_dealloc(WatcherObject *self)
{
    PyObject_GC_UnTrack(self);
    watcher_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* _revents: None, or an exact int (so that OR-ing two never runs Python). */
static int
revents_set(WatcherObject *self, PyObject *value, void *closure)
{
    if (value == NULL || value == Py_None)
        return field_set((PyObject *)self, value, closure);
    PyObject *bits = PyNumber_Index(value);
    if (bits == NULL)
        return -1;
    Py_SETREF(self->revents, bits);
    return 0;
}

static PyGetSetDef watcher_getset[] = {
    FIELD("_loop", WatcherObject, loop),
    FIELD("_callback", WatcherObject, callback),
    {"_revents", field_get, (setter)revents_set, NULL, (void *)offsetof(WatcherObject, revents)},
    {"data", field_get, field_set, "Free for the user.", (void *)offsetof(WatcherObject, data)},
    {NULL},
};

static PyMemberDef watcher_members[] = {
    {"_pidx", T_INT, offsetof(WatcherObject, pidx), 0, NULL},
    {"_active", T_BOOL, offsetof(WatcherObject, active), 0, NULL},
    {"_keepalive", T_BOOL, offsetof(WatcherObject, keepalive), 0, NULL},
    {NULL},
};

static PyTypeObject WatcherBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.WatcherBase",
    .tp_basicsize = sizeof(WatcherObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The fields every watcher shares with the C hot path.",
    .tp_new = watcher_new,
    .tp_traverse = (traverseproc)watcher_traverse,
    .tp_clear = (inquiry)watcher_clear,
    .tp_dealloc = (destructor)watcher_dealloc,
    .tp_members = watcher_members,
    .tp_getset = watcher_getset,
};

#define IS_PENDING(w) ((w)->revents != Py_None && (w)->revents != NULL)

/* -- Timer and Io fields -------------------------------------------------- */

typedef struct {
    WatcherObject base;
    double after;      /* _after */
    double repeat;     /* _repeat */
    double at;         /* _at: the deadline, while armed */
    Py_ssize_t hindex; /* _hindex: its place in the loop's TimerHeap, -1 if none */
} TimerObject;

static PyObject *
timer_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    TimerObject *self = (TimerObject *)watcher_new(type, args, kwds);
    if (self != NULL)
        self->hindex = -1;
    return (PyObject *)self;
}

static PyObject *str_checked_args;
static PyObject *error_type; /* pyev._constants.Error, looked up once */

/* Raise ev.Error(message). */
static int
raise_error(const char *message)
{
    if (error_type == NULL) {
        PyObject *mod = PyImport_ImportModule("pyev._constants");
        if (mod == NULL)
            return -1;
        error_type = PyObject_GetAttrString(mod, "Error");
        Py_DECREF(mod);
        if (error_type == NULL)
            return -1;
    }
    PyErr_SetString(error_type, message);
    return -1;
}

/* Timer(after, callback, *, repeat=0.0, priority=0, data=None): the usual
   argument types are checked here, anything else by Timer._checked_args,
   which raises or gives (after, repeat, priority) (timer churn benchmark). */
static int
timer_init(TimerObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"after", "callback", "repeat", "priority", "data", NULL};
    PyObject *after, *callback, *repeat = NULL, *priority = NULL, *data = Py_None;
    if (self->base.active || IS_PENDING(&self->base))
        return raise_error("cannot re-initialise an active or pending watcher; stop it first");
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|$OOO:Timer", kwlist, &after, &callback, &repeat, &priority,
                                     &data))
        return -1;
    double a = 0.0, r = 0.0;
    long p = 0;
    int usual = PyFloat_CheckExact(after) && isfinite(a = PyFloat_AS_DOUBLE(after)) && PyCallable_Check(callback);
    if (usual && repeat != NULL)
        usual = PyFloat_CheckExact(repeat) && isfinite(r = PyFloat_AS_DOUBLE(repeat)) && r >= 0.0;
    if (usual && priority != NULL) {
        int overflow;
        usual = PyLong_CheckExact(priority) && (p = PyLong_AsLongAndOverflow(priority, &overflow), !overflow) &&
                p >= -2 && p <= 2;
    }
    if (!usual) {
        PyObject *zero = PyLong_FromLong(0);
        if (zero == NULL)
            return -1;
        PyObject *checked = PyObject_CallMethodObjArgs((PyObject *)self, str_checked_args, after, callback,
                                                       repeat ? repeat : zero, priority ? priority : zero, NULL);
        Py_DECREF(zero);
        if (checked == NULL)
            return -1;
        int parsed = PyArg_ParseTuple(checked, "ddl", &a, &r, &p);
        Py_DECREF(checked);
        if (!parsed)
            return -1;
    }
    self->after = a;
    self->repeat = r;
    self->base.pidx = (int)p + 2; /* - MINPRI */
    Py_XSETREF(self->base.callback, Py_NewRef(callback));
    Py_XSETREF(self->base.data, Py_NewRef(data));
    return 0;
}

static PyMemberDef timer_members[] = {
    {"_after", T_DOUBLE, offsetof(TimerObject, after), 0, NULL},
    {"_repeat", T_DOUBLE, offsetof(TimerObject, repeat), 0, NULL},
    {"_at", T_DOUBLE, offsetof(TimerObject, at), READONLY, NULL},
    {"_hindex", T_PYSSIZET, offsetof(TimerObject, hindex), READONLY, NULL},
    {NULL},
};

static PyTypeObject TimerBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.TimerBase",
    .tp_basicsize = sizeof(TimerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "TimerBase(after, callback, *, repeat=0.0, priority=0, data=None)\n--\n\n"
              "The fields of a Timer the C hot path reads.",
    .tp_new = timer_new,
    .tp_init = (initproc)timer_init,
    .tp_traverse = (traverseproc)watcher_traverse,
    .tp_clear = (inquiry)watcher_clear,
    .tp_dealloc = (destructor)watcher_dealloc,
    .tp_members = timer_members,
    /* tp_methods is set in PyInit__core: they need LoopBase, defined below */
};

typedef struct {
    WatcherObject base;
    int fd;     /* _fd */
    int events; /* _events: READ | WRITE bits */
} IoObject;

static PyMemberDef io_members[] = {
    {"_fd", T_INT, offsetof(IoObject, fd), 0, NULL},
    {"_events", T_INT, offsetof(IoObject, events), 0, NULL},
    {NULL},
};

static PyTypeObject IoBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.IoBase",
    .tp_basicsize = sizeof(IoObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The fields of an Io watcher the C hot path reads.",
    .tp_new = watcher_new,
    .tp_traverse = (traverseproc)watcher_traverse,
    .tp_clear = (inquiry)watcher_clear,
    .tp_dealloc = (destructor)watcher_dealloc,
    .tp_members = io_members,
};

/* -- listed watchers and Async ------------------------------------------- */

typedef struct {
    WatcherObject base;
    Py_ssize_t index; /* _index: its place in its loop's list, -1 if none */
} ListedObject;

typedef struct {
    ListedObject base;
    char sent; /* _sent: send() since the loop last looked */
} AsyncObject;

static PyObject *
listed_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    ListedObject *self = (ListedObject *)watcher_new(type, args, kwds);
    if (self != NULL)
        self->index = -1;
    return (PyObject *)self;
}

static PyMemberDef listed_members[] = {
    {"_index", T_PYSSIZET, offsetof(ListedObject, index), 0, NULL},
    {NULL},
};

static PyTypeObject ListedBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.ListedBase",
    .tp_basicsize = sizeof(ListedObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The field of a watcher kept in one of its loop's lists.",
    .tp_new = listed_new,
    .tp_traverse = (traverseproc)watcher_traverse,
    .tp_clear = (inquiry)watcher_clear,
    .tp_dealloc = (destructor)watcher_dealloc,
    .tp_members = listed_members,
};

static PyMemberDef async_members[] = {
    {"_sent", T_BOOL, offsetof(AsyncObject, sent), 0, NULL},
    {NULL},
};

static PyTypeObject AsyncBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.AsyncBase",
    .tp_basicsize = sizeof(AsyncObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "An Async watcher's flag, and send() (async_send benchmark).",
    .tp_new = listed_new,
    .tp_traverse = (traverseproc)watcher_traverse,
    .tp_clear = (inquiry)watcher_clear,
    .tp_dealloc = (destructor)watcher_dealloc,
    .tp_members = async_members,
    /* tp_methods is set in PyInit__core: send() needs LoopBase */
};

/* -- the timer heap (timers) --------------------------------------------- */

/* A binary min-heap of armed timers in a C array, ordered by (deadline,
   sequence number): equal deadlines fire in the order they were armed.
   Each timer knows its index, so stopping one removes it at once: no dead
   entries, no sweeps, no tuple per timer (timer churn benchmark: lazy
   deletion's sweeps cost 1.1 us per timer there).

   Invariants (checked by TimerHeap.verify):
     T1. nodes[0..len) satisfy the heap property on (at, seq).
     T2. nodes[i].w->hindex == i, and nodes[i].at == nodes[i].w->at.
     T3. The heap holds one reference to each timer in it; a timer is in
         the heap iff it is active (its hindex is then >= 0). */
typedef struct {
    double at;
    long long seq;
    TimerObject *w;
} TimerNode;

typedef struct {
    PyObject_HEAD
    TimerNode *nodes;
    Py_ssize_t len, cap;
    long long seq;
} TimerHeapObject;

static inline int
node_before(const TimerNode *a, const TimerNode *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static inline void
node_place(TimerHeapObject *h, Py_ssize_t i, TimerNode n)
{
    h->nodes[i] = n;
    n.w->hindex = i;
}

static void
sift_up(TimerHeapObject *h, Py_ssize_t i)
{
    TimerNode n = h->nodes[i];
    while (i > 0) {
        Py_ssize_t parent = (i - 1) / 2;
        if (!node_before(&n, &h->nodes[parent]))
            break;
        node_place(h, i, h->nodes[parent]);
        i = parent;
    }
    node_place(h, i, n);
}

static void
sift_down(TimerHeapObject *h, Py_ssize_t i)
{
    TimerNode n = h->nodes[i];
    for (;;) {
        Py_ssize_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && node_before(&h->nodes[child + 1], &h->nodes[child]))
            child++;
        if (!node_before(&h->nodes[child], &n))
            break;
        node_place(h, i, h->nodes[child]);
        i = child;
    }
    node_place(h, i, n);
}

/* Arm w at `at` (it must not be in the heap); the heap takes a reference. */
static int
theap_push(TimerHeapObject *h, TimerObject *w, double at)
{
    if (w->hindex >= 0) {
        PyErr_SetString(PyExc_SystemError, "timer is already in a timer heap (T3)");
        return -1;
    }
    if (h->len == h->cap) {
        Py_ssize_t cap = h->cap ? 2 * h->cap : 64;
        TimerNode *nodes = PyMem_Realloc(h->nodes, (size_t)cap * sizeof(TimerNode));
        if (nodes == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        h->nodes = nodes;
        h->cap = cap;
    }
    w->at = at;
    TimerNode n = {at, ++h->seq, (TimerObject *)Py_NewRef((PyObject *)w)};
    h->nodes[h->len++] = n;
    sift_up(h, h->len - 1);
    return 0;
}

/* Take out the node at i; returns the heap's reference to its timer,
   which the caller owns. */
static TimerObject *
theap_remove_at(TimerHeapObject *h, Py_ssize_t i)
{
    TimerObject *w = h->nodes[i].w;
    w->hindex = -1;
    TimerNode last = h->nodes[--h->len];
    if (i < h->len) {
        h->nodes[i] = last;
        last.w->hindex = i;
        if (i > 0 && node_before(&last, &h->nodes[(i - 1) / 2]))
            sift_up(h, i);
        else
            sift_down(h, i);
    }
    return w;
}

/* Take w out (it must be held: see theap_holds). */
static TimerObject *
theap_remove(TimerHeapObject *h, TimerObject *w)
{
    return theap_remove_at(h, w->hindex);
}

/* Move w (in the heap) to a new deadline, as if armed anew. */
static void
theap_rearm(TimerHeapObject *h, TimerObject *w, double at)
{
    Py_ssize_t i = w->hindex;
    w->at = at;
    h->nodes[i].at = at;
    h->nodes[i].seq = ++h->seq;
    if (i > 0 && node_before(&h->nodes[i], &h->nodes[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

static int
theap_holds(TimerHeapObject *h, PyObject *w)
{
    if (!PyObject_TypeCheck(w, &TimerBase_Type)) {
        PyErr_Format(PyExc_TypeError, "expected a Timer, got %.100s", Py_TYPE(w)->tp_name);
        return -1;
    }
    Py_ssize_t i = ((TimerObject *)w)->hindex;
    return i >= 0 && i < h->len && h->nodes[i].w == (TimerObject *)w;
}

static PyObject *
theap_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    return type->tp_alloc(type, 0);
}

static int
theap_traverse(TimerHeapObject *h, visitproc visit, void *arg)
{
    for (Py_ssize_t i = 0; i < h->len; i++)
        Py_VISIT((PyObject *)h->nodes[i].w);
    return 0;
}

static int
theap_clear(TimerHeapObject *h)
{
    while (h->len) {
        TimerObject *w = h->nodes[--h->len].w;
        w->hindex = -1;
        Py_DECREF(w);
    }
    return 0;
}

static void
theap_dealloc(TimerHeapObject *h)
{
    PyObject_GC_UnTrack(h);
    theap_clear(h);
    PyMem_Free(h->nodes);
    Py_TYPE(h)->tp_free((PyObject *)h);
}

static Py_ssize_t
theap_len(TimerHeapObject *h)
{
    return h->len;
}

static PyObject *
theap_arm(TimerHeapObject *h, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2)
        return PyErr_Format(PyExc_TypeError, "arm(timer, deadline)");
    /* The deadline first: its __float__ may run Python code that starts
       or stops this very timer, so where it goes is decided after. */
    double at = PyFloat_AsDouble(args[1]);
    if (at == -1.0 && PyErr_Occurred())
        return NULL;
    int held = theap_holds(h, args[0]);
    if (held < 0)
        return NULL;
    if (held)
        theap_rearm(h, (TimerObject *)args[0], at);
    else if (theap_push(h, (TimerObject *)args[0], at) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
theap_disarm(TimerHeapObject *h, PyObject *w)
{
    int held = theap_holds(h, w);
    if (held < 0)
        return NULL;
    if (held)
        Py_DECREF(theap_remove(h, (TimerObject *)w));
    Py_RETURN_NONE;
}

static PyObject *
theap_next_deadline(TimerHeapObject *h, PyObject *unused)
{
    if (!h->len)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(h->nodes[0].at);
}

/* Appending runs no Python code: the heap cannot change under the loop
   (a list sized first could, on 3.11: its allocation may collect). */
static PyObject *
theap_live(TimerHeapObject *h, PyObject *unused)
{
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < h->len; i++) {
        if (PyList_Append(list, (PyObject *)h->nodes[i].w) < 0) {
            Py_DECREF(list);
            return NULL;
        }
    }
    return list;
}

static PyObject *
theap_shift(TimerHeapObject *h, PyObject *arg)
{
    double delta = PyFloat_AsDouble(arg);
    if (delta == -1.0 && PyErr_Occurred())
        return NULL;
    for (Py_ssize_t i = 0; i < h->len; i++)
        h->nodes[i].w->at = h->nodes[i].at += delta;
    /* rounding can make deadlines 1 ulp apart equal: restore T1 */
    for (Py_ssize_t i = h->len / 2 - 1; i >= 0; i--)
        sift_down(h, i);
    Py_RETURN_NONE;
}

static PyObject *
theap_verify(TimerHeapObject *h, PyObject *unused)
{
    for (Py_ssize_t i = 0; i < h->len; i++) {
        TimerNode *n = &h->nodes[i];
        if (i > 0 && node_before(n, &h->nodes[(i - 1) / 2]))
            return PyErr_Format(PyExc_AssertionError, "timer heap order broken at index %zd (T1)", i);
        if (n->w->hindex != i || n->w->at != n->at)
            return PyErr_Format(PyExc_AssertionError, "timer at heap index %zd believes it is at %zd (T2)",
                                i, n->w->hindex);
        if (!n->w->base.active)
            return PyErr_Format(PyExc_AssertionError, "inactive timer in the heap at %zd (T3)", i);
    }
    Py_RETURN_NONE;
}

static PySequenceMethods theap_as_sequence = {.sq_length = (lenfunc)theap_len};

static PyMethodDef theap_methods[] = {
    {"arm", (PyCFunction)(void (*)(void))theap_arm, METH_FASTCALL,
     "arm(timer, deadline): put timer in the heap at deadline, or move it there."},
    {"disarm", (PyCFunction)theap_disarm, METH_O, "disarm(timer): take timer out, if it is in."},
    {"next_deadline", (PyCFunction)theap_next_deadline, METH_NOARGS, "The earliest deadline, or None."},
    {"live", (PyCFunction)theap_live, METH_NOARGS, "The timers in the heap, in no particular order."},
    {"shift", (PyCFunction)theap_shift, METH_O, "shift(delta): move every deadline by delta seconds."},
    {"verify", (PyCFunction)theap_verify, METH_NOARGS, "Check T1-T3; raise AssertionError if broken."},
    {NULL},
};

static PyTypeObject TimerHeap_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.TimerHeap",
    .tp_basicsize = sizeof(TimerHeapObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The armed timers of one loop, earliest deadline first.",
    .tp_new = theap_new,
    .tp_traverse = (traverseproc)theap_traverse,
    .tp_clear = (inquiry)theap_clear,
    .tp_dealloc = (destructor)theap_dealloc,
    .tp_as_sequence = &theap_as_sequence,
    .tp_methods = theap_methods,
};

/* -- the periodic heap ---------------------------------------------------- */

/* Entries are (deadline, sequence, watcher) tuples ordered by heapq; see
   _periodicheap.py for the lazy deletion and H1-H4. */
typedef struct {
    PyObject_HEAD
    PyObject *heap;  /* list */
    Py_ssize_t dead; /* entries whose watcher no longer points at them */
    long long seq;   /* _seq: last sequence number handed out */
} HeapObject;

static PyObject *
heapbase_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    HeapObject *self = (HeapObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->heap = PyList_New(0);
    if (self->heap == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int
heapbase_traverse(HeapObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->heap);
    return 0;
}

static int
heapbase_clear(HeapObject *self)
{
    Py_CLEAR(self->heap);
    return 0;
}

static void
heapbase_dealloc(HeapObject *self)
{
    PyObject_GC_UnTrack(self);
    heapbase_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* New reference to a fresh entry for w at deadline, pushed on the heap. */
static PyObject *
heap_push(HeapObject *h, double deadline, PyObject *w)
{
    if (!PyList_Check(h->heap)) {
        PyErr_SetString(PyExc_TypeError, "TimerHeap.heap must be a list");
        return NULL;
    }
    PyObject *entry = PyTuple_New(3);
    if (entry == NULL)
        return NULL;
    PyObject *d = PyFloat_FromDouble(deadline);
    PyObject *s = PyLong_FromLongLong(++h->seq);
    if (d == NULL || s == NULL) {
        Py_XDECREF(d);
        Py_XDECREF(s);
        Py_DECREF(entry);
        return NULL;
    }
    PyTuple_SET_ITEM(entry, 0, d);
    PyTuple_SET_ITEM(entry, 1, s);
    PyTuple_SET_ITEM(entry, 2, Py_NewRef(w));
    PyObject *heap = Py_NewRef(h->heap); /* comparisons may run Python code */
    PyObject *args[2] = {heap, entry};
    PyObject *r = PyObject_Vectorcall(heappush_fn, args, 2, NULL);
    Py_DECREF(heap);
    if (r == NULL) {
        Py_DECREF(entry);
        return NULL;
    }
    Py_DECREF(r);
    return entry;
}

static PyObject *
heapbase_push(HeapObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "push(deadline, watcher)");
        return NULL;
    }
    double deadline = PyFloat_AsDouble(args[0]);
    if (deadline == -1.0 && PyErr_Occurred())
        return NULL;
    return heap_push(self, deadline, args[1]);
}

/* One more dead entry; sweep (in Python) once they are over half. */
static int
heap_forget(HeapObject *h)
{
    h->dead++;
    if (h->dead > 64 && PyList_Check(h->heap) && 2 * h->dead > PyList_GET_SIZE(h->heap)) {
        PyObject *r = PyObject_CallMethodNoArgs((PyObject *)h, str_sweep);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
    }
    return 0;
}

static PyObject *
heapbase_forget(HeapObject *self, PyObject *unused)
{
    if (heap_forget(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* The watcher's live entry. */
static PyObject *
entry_of(PyObject *w)
{
    return PyObject_GetAttr(w, str_entry);
}

/* Drop dead entries off the top; 1 and *deadline set if a live one is
   left, 0 if the heap is empty, -1 on error. */
/* The periodic heap's top entry, checked to be a (deadline, seq, watcher)
   tuple (borrowed), or NULL with an error. */
static PyObject *
heap_top(PyObject *heap)
{
    PyObject *top = PyList_GET_ITEM(heap, 0);
    if (!PyTuple_Check(top) || PyTuple_GET_SIZE(top) != 3) {
        PyErr_SetString(PyExc_TypeError, "heap entries must be (deadline, sequence, watcher) tuples");
        return NULL;
    }
    return top;
}

/* Drop dead entries off the top; 1 and *deadline set if a live one is
   left, 0 if the heap is empty, -1 on error. */
static int
heap_next_deadline(HeapObject *h, double *deadline)
{
    PyObject *heap = Py_NewRef(h->heap); /* entry_of may run Python code */
    int found = 0;
    if (!PyList_Check(heap)) {
        PyErr_SetString(PyExc_TypeError, "the heap must be a list");
        found = -1;
    }
    while (found == 0 && PyList_GET_SIZE(heap)) {
        PyObject *top = heap_top(heap);
        if (top == NULL) {
            found = -1;
            break;
        }
        Py_INCREF(top);
        PyObject *live = entry_of(PyTuple_GET_ITEM(top, 2));
        if (live == NULL) {
            Py_DECREF(top);
            found = -1;
            break;
        }
        Py_DECREF(live);
        if (live == top) {
            *deadline = PyFloat_AsDouble(PyTuple_GET_ITEM(top, 0));
            found = (*deadline == -1.0 && PyErr_Occurred()) ? -1 : 1;
            Py_DECREF(top);
            break;
        }
        Py_DECREF(top);
        PyObject *r = PyObject_Vectorcall(heappop_fn, &heap, 1, NULL);
        if (r == NULL) {
            found = -1;
            break;
        }
        Py_DECREF(r);
        h->dead--;
    }
    Py_DECREF(heap);
    return found;
}

static PyObject *
heapbase_next_deadline(HeapObject *self, PyObject *unused)
{
    double deadline;
    int found = heap_next_deadline(self, &deadline);
    if (found < 0)
        return NULL;
    if (!found)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(deadline);
}

static PyMethodDef heapbase_methods[] = {
    {"push", (PyCFunction)(void (*)(void))heapbase_push, METH_FASTCALL,
     "push(deadline, watcher) -> entry: a new live entry for watcher."},
    {"forget", (PyCFunction)heapbase_forget, METH_NOARGS,
     "Account for one entry whose watcher has just dropped it."},
    {"next_deadline", (PyCFunction)heapbase_next_deadline, METH_NOARGS,
     "The earliest live deadline, or None."},
    {NULL},
};

static PyGetSetDef heapbase_getset[] = {
    LIST_FIELD("heap", HeapObject, heap),
    {NULL},
};

static PyMemberDef heapbase_members[] = {
    {"dead", T_PYSSIZET, offsetof(HeapObject, dead), 0, NULL},
    {"_seq", T_LONGLONG, offsetof(HeapObject, seq), 0, NULL},
    {NULL},
};

static PyTypeObject HeapBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.HeapBase",
    .tp_basicsize = sizeof(HeapObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The timer heap's fields and its hot operations.",
    .tp_new = heapbase_new,
    .tp_traverse = (traverseproc)heapbase_traverse,
    .tp_clear = (inquiry)heapbase_clear,
    .tp_dealloc = (destructor)heapbase_dealloc,
    .tp_members = heapbase_members,
    .tp_getset = heapbase_getset,
    .tp_methods = heapbase_methods,
};

/* -- the fd table ---------------------------------------------------------- */

/* fd -> Io watchers, and the interest changes waiting for the backend. What
   the slots mean, and their invariants F1-F4, are stated in _fdtable.py. A
   slot holds no watcher (NULL), one Io watcher itself, or a tuple of two or
   more.

   Small fds live in a C array indexed by fd (memory_io benchmark: a dict of
   Python slot objects holding tuples cost over 150 bytes per watched fd).
   The array stops growing at DENSE_FDS: an fd at or above it (any int a
   caller may pass, 2**31-1 included) gets an entry in a small open-addressing
   table instead, so memory follows the fds actually watched, never the
   largest number seen.

   Pointers to slots move whenever the table grows (realloc, rehash). No
   function here keeps one across a call that can allocate a Python object
   or run Python code: on 3.11 a collection inside any allocation can run a
   finalizer that starts or stops an Io. */
#define DENSE_FDS 1024 /* 16 KiB of slots at most */

typedef struct {
    PyObject *watchers;
    int kmask;              /* what the backend was last told */
    unsigned char used;     /* the slot exists (the dict entry it replaces) */
    unsigned char dirty;    /* listed in changes */
    unsigned char reopened; /* register afresh at the next flush */
} FdSlot;

typedef struct {
    int fd; /* -1: empty */
    FdSlot slot;
} FarSlot;

typedef struct {
    PyObject_HEAD
    FdSlot *slots;     /* fds 0 .. nslots-1 (nslots <= DENSE_FDS) */
    Py_ssize_t nslots;
    FarSlot *far;      /* fds >= DENSE_FDS; farcap is 0 or a power of two */
    Py_ssize_t farcap, farfill;
    int *changes;
    Py_ssize_t nchanges, capchanges;
    PyObject *backend;
} FdTableObject;

static PyObject *
fdtable_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    FdTableObject *self = (FdTableObject *)type->tp_alloc(type, 0);
    if (self != NULL)
        self->backend = Py_NewRef(Py_None);
    return (PyObject *)self;
}

static int
fdtable_init(FdTableObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *backend;
    if (!PyArg_ParseTuple(args, "O:FdTable", &backend))
        return -1;
    Py_XSETREF(self->backend, Py_NewRef(backend));
    return 0;
}

/* The slot at position i of the whole table (the dense array, then the far
   entries), setting *fd; NULL for an empty far entry. i < fdtable_span(t). */
static FdSlot *
fdtable_nth(FdTableObject *t, Py_ssize_t i, int *fd)
{
    if (i < t->nslots) {
        *fd = (int)i;
        return &t->slots[i];
    }
    FarSlot *f = &t->far[i - t->nslots];
    *fd = f->fd;
    return f->fd < 0 ? NULL : &f->slot;
}

static Py_ssize_t
fdtable_span(FdTableObject *t)
{
    return t->nslots + t->farcap;
}

static int
fdtable_traverse(FdTableObject *self, visitproc visit, void *arg)
{
    int fd;
    for (Py_ssize_t i = 0; i < fdtable_span(self); i++) {
        FdSlot *slot = fdtable_nth(self, i, &fd);
        if (slot != NULL)
            Py_VISIT(slot->watchers);
    }
    Py_VISIT(self->backend);
    return 0;
}

static int
fdtable_clear(FdTableObject *self)
{
    int fd;
    for (Py_ssize_t i = 0; i < fdtable_span(self); i++) {
        FdSlot *slot = fdtable_nth(self, i, &fd);
        if (slot != NULL)
            Py_CLEAR(slot->watchers);
    }
    Py_CLEAR(self->backend);
    return 0;
}

static void
fdtable_dealloc(FdTableObject *self)
{
    PyObject_GC_UnTrack(self);
    fdtable_clear(self);
    PyMem_Free(self->slots);
    PyMem_Free(self->far);
    PyMem_Free(self->changes);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Where fd's far entry is, or the empty entry it would take (farcap > 0). */
static Py_ssize_t
far_index(FarSlot *far, Py_ssize_t cap, int fd)
{
    size_t mask = (size_t)cap - 1, i = ((size_t)(unsigned)fd * 2654435761u) & mask;
    while (far[i].fd >= 0 && far[i].fd != fd)
        i = (i + 1) & mask;
    return (Py_ssize_t)i;
}

/* Rebuild the far entries with room for one more, dropping entries that
   hold nothing (unused, hence clean and unwatched). */
static int
far_grow(FdTableObject *t)
{
    Py_ssize_t live = 0;
    for (Py_ssize_t i = 0; i < t->farcap; i++)
        live += t->far[i].fd >= 0 && t->far[i].slot.used;
    Py_ssize_t cap = 16;
    while (cap < 4 * (live + 1))
        cap *= 2;
    FarSlot *far = PyMem_Malloc((size_t)cap * sizeof(FarSlot));
    if (far == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < cap; i++)
        far[i].fd = -1;
    for (Py_ssize_t i = 0; i < t->farcap; i++) {
        FarSlot *f = &t->far[i];
        if (f->fd >= 0 && f->slot.used)
            far[far_index(far, cap, f->fd)] = *f;
    }
    PyMem_Free(t->far);
    t->far = far;
    t->farcap = cap;
    t->farfill = live;
    return 0;
}

/* The slot of fd, made if needed; NULL (with an error) for a negative fd or
   no memory. Moves other slots: see the note above. */
static FdSlot *
fdtable_slot(FdTableObject *t, int fd)
{
    if (fd < 0) {
        PyErr_Format(PyExc_ValueError, "bad fd %d", fd);
        return NULL;
    }
    if (fd < DENSE_FDS) {
        if (fd >= t->nslots) {
            Py_ssize_t n = t->nslots ? t->nslots : 64;
            while (n <= fd)
                n *= 2;
            FdSlot *slots = PyMem_Realloc(t->slots, (size_t)n * sizeof(FdSlot));
            if (slots == NULL) {
                PyErr_NoMemory();
                return NULL;
            }
            memset(slots + t->nslots, 0, (size_t)(n - t->nslots) * sizeof(FdSlot));
            t->slots = slots;
            t->nslots = n;
        }
        return &t->slots[fd];
    }
    if (t->farcap) {
        FarSlot *f = &t->far[far_index(t->far, t->farcap, fd)];
        if (f->fd == fd)
            return &f->slot;
    }
    if (2 * (t->farfill + 1) > t->farcap && far_grow(t) < 0)
        return NULL;
    FarSlot *f = &t->far[far_index(t->far, t->farcap, fd)];
    memset(f, 0, sizeof *f);
    f->fd = fd;
    t->farfill++;
    return &f->slot;
}

/* The used slot of fd, or NULL (no error) if there is none. */
static FdSlot *
fdtable_find(FdTableObject *t, long fd)
{
    if (fd < 0)
        return NULL;
    if (fd < DENSE_FDS)
        return fd < t->nslots && t->slots[fd].used ? &t->slots[fd] : NULL;
    if (fd > INT_MAX || !t->farcap)
        return NULL;
    FarSlot *f = &t->far[far_index(t->far, t->farcap, (int)fd)];
    return f->fd == fd && f->slot.used ? &f->slot : NULL;
}

static int
fdtable_mark(FdTableObject *t, int fd, FdSlot *slot)
{
    if (slot->dirty)
        return 0;
    if (t->nchanges == t->capchanges) {
        Py_ssize_t cap = t->capchanges ? 2 * t->capchanges : 64;
        int *changes = PyMem_Realloc(t->changes, (size_t)cap * sizeof(int));
        if (changes == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        t->changes = changes;
        t->capchanges = cap;
    }
    t->changes[t->nchanges++] = fd;
    slot->dirty = 1;
    return 0;
}

/* A new tuple of these watchers (a slot's: NULL, one Io, or a tuple). */
static PyObject *
watchers_tuple(PyObject *watchers)
{
    if (watchers == NULL)
        return PyTuple_New(0);
    if (PyTuple_Check(watchers))
        return Py_NewRef(watchers);
    return PyTuple_Pack(1, watchers);
}

static int
check_io(PyObject *w)
{
    if (!PyObject_TypeCheck(w, &IoBase_Type)) {
        PyErr_Format(PyExc_TypeError, "expected an Io watcher, got %.100s", Py_TYPE(w)->tp_name);
        return -1;
    }
    return 0;
}

/* fd's watchers now (borrowed, NULL if none). */
static PyObject *
fdtable_watchers_of(FdTableObject *t, int fd)
{
    FdSlot *slot = fdtable_find(t, fd);
    return slot == NULL ? NULL : slot->watchers;
}

/* A new reference to `watchers` with w added (w alone if there were none). */
static PyObject *
watchers_with(PyObject *watchers, PyObject *w)
{
    if (watchers == NULL)
        return Py_NewRef(w);
    if (!PyTuple_Check(watchers))
        return PyTuple_Pack(2, watchers, w);
    Py_ssize_t n = PyTuple_GET_SIZE(watchers);
    PyObject *grown = PyTuple_New(n + 1);
    if (grown == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        PyTuple_SET_ITEM(grown, i, Py_NewRef(PyTuple_GET_ITEM(watchers, i)));
    PyTuple_SET_ITEM(grown, n, Py_NewRef(w));
    return grown;
}

/* A new reference to `watchers` without w (NULL with no error if none is
   left; NULL with an error if out of memory). */
static PyObject *
watchers_without(PyObject *watchers, PyObject *w)
{
    if (watchers == NULL || watchers == w)
        return NULL;
    if (!PyTuple_Check(watchers))
        return Py_NewRef(watchers);
    Py_ssize_t n = PyTuple_GET_SIZE(watchers), kept = 0;
    PyObject *one = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(watchers, i);
        if (x != w) {
            one = x;
            kept++;
        }
    }
    if (kept == 0)
        return NULL;
    if (kept == 1)
        return Py_NewRef(one);
    PyObject *rest = PyTuple_New(kept);
    if (rest == NULL)
        return NULL;
    for (Py_ssize_t i = 0, j = 0; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(watchers, i);
        if (x != w)
            PyTuple_SET_ITEM(rest, j++, Py_NewRef(x));
    }
    return rest;
}

/* Set fd's watchers to `make(current, w)`. The new value is built first;
   that allocation may run a collection whose finalizers change the slot,
   so the slot is looked up afresh afterwards, and the work redone if its
   watchers changed meanwhile. */
static int
watchers_contain(PyObject *watchers, PyObject *w)
{
    if (watchers == NULL || !PyTuple_Check(watchers))
        return watchers == w;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(watchers); i++) {
        if (PyTuple_GET_ITEM(watchers, i) == w)
            return 1;
    }
    return 0;
}

static int
fdtable_update(FdTableObject *t, PyObject *w, PyObject *(*make)(PyObject *, PyObject *), int adding)
{
    int fd = ((IoObject *)w)->fd;
    for (;;) {
        /* a finalizer may have added w meanwhile: a watcher is listed once (F1) */
        if (adding && watchers_contain(fdtable_watchers_of(t, fd), w))
            return 0;
        if (!adding && fdtable_find(t, fd) == NULL) {
            PyErr_Format(PyExc_KeyError, "fd %d has no slot", fd);
            return -1;
        }
        PyObject *before = Py_XNewRef(fdtable_watchers_of(t, fd));
        PyObject *after = make(before, w);
        if (after == NULL && PyErr_Occurred()) {
            Py_XDECREF(before);
            return -1;
        }
        FdSlot *slot = adding ? fdtable_slot(t, fd) : fdtable_find(t, fd);
        if (slot == NULL && adding) { /* no memory */
            Py_XDECREF(after);
            Py_XDECREF(before);
            return -1;
        }
        if (slot == NULL || (slot->used ? slot->watchers : NULL) != before) {
            Py_XDECREF(after);
            Py_XDECREF(before);
            continue;
        }
        if (fdtable_mark(t, fd, slot) < 0) {
            Py_XDECREF(after);
            Py_XDECREF(before);
            return -1;
        }
        if (adding && (!slot->used || slot->watchers == NULL))
            slot->reopened = 1; /* the number may name a new file by now */
        slot->used = 1;
        Py_XSETREF(slot->watchers, after);
        Py_XDECREF(before); /* may run a finalizer: slot is not used after this */
        return 0;
    }
}

static PyObject *
fdtable_add(FdTableObject *self, PyObject *w)
{
    if (check_io(w) < 0 || fdtable_update(self, w, watchers_with, 1) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
fdtable_remove(FdTableObject *self, PyObject *w)
{
    if (check_io(w) < 0 || fdtable_update(self, w, watchers_without, 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
fdtable_touch(FdTableObject *self, PyObject *arg)
{
    long fd = PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    FdSlot *slot = fdtable_find(self, fd);
    if (slot == NULL)
        return PyErr_Format(PyExc_KeyError, "fd %ld has no slot", fd);
    if (fdtable_mark(self, (int)fd, slot) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static int
slot_wants(FdSlot *slot)
{
    if (slot->watchers == NULL)
        return 0;
    if (!PyTuple_Check(slot->watchers))
        return ((IoObject *)slot->watchers)->events;
    int want = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(slot->watchers); i++)
        want |= ((IoObject *)PyTuple_GET_ITEM(slot->watchers, i))->events;
    return want;
}

/* backend.modify(fd, old, new, reopened); 1 if it raised OSError (cleared). */
static int
call_modify(FdTableObject *t, int fd, int old, int new, int reopened)
{
    PyObject *backend = Py_NewRef(t->backend);
    PyObject *r = PyObject_CallMethod(backend, "modify", "iiiO", fd, old, new, reopened ? Py_True : Py_False);
    Py_DECREF(backend);
    if (r != NULL) {
        Py_DECREF(r);
        return 0;
    }
    if (PyErr_ExceptionMatches(PyExc_OSError)) {
        PyErr_Clear();
        return 1;
    }
    return -1;
}

/* Push pending changes to the backend; return the fds it refused. */
static PyObject *
fdtable_flush(FdTableObject *self, PyObject *unused)
{
    PyObject *failed = PyList_New(0);
    if (failed == NULL)
        return NULL;
    /* Take the list first: a change made meanwhile starts a new one. */
    int *changes = self->changes;
    Py_ssize_t n = self->nchanges;
    self->changes = NULL;
    self->nchanges = self->capchanges = 0;
    Py_ssize_t i = 0;
    for (; i < n; i++) {
        int fd = changes[i];
        FdSlot *slot = fdtable_find(self, fd);
        if (slot == NULL || !slot->dirty)
            continue;
        slot->dirty = 0;
        int want = slot_wants(slot);
        if (want != slot->kmask || (slot->reopened && want)) {
            int rc = call_modify(self, fd, slot->kmask, want, slot->reopened);
            slot = fdtable_find(self, fd); /* the table may have moved */
            if (rc < 0) {
                if (slot != NULL && fdtable_mark(self, fd, slot) < 0)
                    PyErr_Clear(); /* keep the original error */
                i++;
                goto fail;
            }
            if (slot == NULL)
                continue;
            if (rc == 1) {
                slot->kmask = 0;
                PyObject *f = PyLong_FromLong(fd);
                if (f == NULL || PyList_Append(failed, f) < 0) {
                    Py_XDECREF(f);
                    i++;
                    goto fail;
                }
                Py_DECREF(f);
                continue;
            }
            slot->kmask = want;
        }
        slot->reopened = 0;
        if (slot->watchers == NULL && !slot->kmask)
            slot->used = 0;
    }
    PyMem_Free(changes);
    return failed;
fail:
    /* the rest stay to be flushed next time */
    for (; i < n; i++) {
        FdSlot *slot = fdtable_find(self, changes[i]);
        if (slot != NULL && slot->dirty) {
            slot->dirty = 0;
            if (fdtable_mark(self, changes[i], slot) < 0)
                PyErr_Clear();
        }
    }
    PyMem_Free(changes);
    Py_DECREF(failed);
    return NULL;
}

/* After fork: every slot registers afresh at the next flush; a kernel
   registration nothing wants any more is dropped from the rebuilt set.
   First every slot is reset (no Python runs), then the drops are made. */
static PyObject *
fdtable_reregister_all(FdTableObject *self, PyObject *unused)
{
    Py_ssize_t span = fdtable_span(self), ndrops = 0;
    int *drops = PyMem_Malloc(2 * sizeof(int) * (size_t)(span ? span : 1));
    if (drops == NULL)
        return PyErr_NoMemory();
    int fd;
    for (Py_ssize_t i = 0; i < span; i++) {
        FdSlot *slot = fdtable_nth(self, i, &fd);
        if (slot == NULL || !slot->used)
            continue;
        if (slot->kmask && !slot_wants(slot)) {
            drops[2 * ndrops] = fd;
            drops[2 * ndrops++ + 1] = slot->kmask;
        }
        slot->kmask = 0;
        slot->reopened = 1;
        if (fdtable_mark(self, fd, slot) < 0) {
            PyMem_Free(drops);
            return NULL;
        }
    }
    for (Py_ssize_t i = 0; i < ndrops; i++) {
        if (call_modify(self, drops[2 * i], drops[2 * i + 1], 0, 0) < 0) {
            PyMem_Free(drops);
            return NULL;
        }
    }
    PyMem_Free(drops);
    Py_RETURN_NONE;
}

/* fd now names one of the loop's own files (a hook): the Io watchers of an
   earlier file with that number are gone (the loop stops them first), and
   the slot they left must not reach the backend, whose registration is now
   the hook's. */
static PyObject *
fdtable_forget(FdTableObject *self, PyObject *arg)
{
    long fd = PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    FdSlot *slot = fdtable_find(self, fd);
    if (slot == NULL)
        Py_RETURN_NONE;
    if (slot->watchers != NULL)
        return PyErr_Format(PyExc_SystemError, "fd %ld still has Io watchers", fd);
    slot->used = slot->kmask = slot->reopened = 0;
    if (slot->dirty) {
        slot->dirty = 0;
        Py_ssize_t j = 0;
        for (Py_ssize_t i = 0; i < self->nchanges; i++) {
            if (self->changes[i] != fd)
                self->changes[j++] = self->changes[i];
        }
        self->nchanges = j;
    }
    Py_RETURN_NONE;
}

static PyObject *
fdtable_watchers(FdTableObject *self, PyObject *arg)
{
    long fd = PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    FdSlot *slot = fdtable_find(self, fd);
    return watchers_tuple(slot == NULL ? NULL : slot->watchers);
}

/* Append the watchers of every slot to a new list. Only lists are
   allocated while slots are read (list growth runs no Python code). */
static PyObject *
fdtable_all_watchers(FdTableObject *self, PyObject *unused)
{
    PyObject *all = PyList_New(0);
    if (all == NULL)
        return NULL;
    int fd;
    for (Py_ssize_t i = 0; i < fdtable_span(self); i++) {
        FdSlot *slot = fdtable_nth(self, i, &fd);
        if (slot == NULL || !slot->used || slot->watchers == NULL)
            continue;
        PyObject *watchers = slot->watchers;
        Py_ssize_t n = PyTuple_Check(watchers) ? PyTuple_GET_SIZE(watchers) : 1;
        for (Py_ssize_t j = 0; j < n; j++) {
            PyObject *w = PyTuple_Check(watchers) ? PyTuple_GET_ITEM(watchers, j) : watchers;
            if (PyList_Append(all, w) < 0) {
                Py_DECREF(all);
                return NULL;
            }
        }
    }
    return all;
}

/* (fd, watchers, kmask, dirty, reopened) per slot, for verify. */
static PyObject *
fdtable_snapshot(FdTableObject *self, PyObject *unused)
{
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    int fd;
    for (Py_ssize_t i = 0; i < fdtable_span(self); i++) {
        FdSlot *slot = fdtable_nth(self, i, &fd);
        if (slot == NULL || !slot->used)
            continue;
        /* read before allocating: the allocation may move the slot */
        PyObject *watchers = Py_XNewRef(slot->watchers);
        int kmask = slot->kmask, dirty = slot->dirty, reopened = slot->reopened;
        PyObject *t = watchers_tuple(watchers);
        Py_XDECREF(watchers);
        PyObject *item = t == NULL ? NULL
                                   : Py_BuildValue("(iNiOO)", fd, t, kmask, dirty ? Py_True : Py_False,
                                                   reopened ? Py_True : Py_False);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
    }
    return list;
}

/* The fds waiting to be flushed. Appending runs no Python code, so the
   change list cannot change under the loop. */
static PyObject *
fdtable_get_changes(FdTableObject *self, void *closure)
{
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < self->nchanges; i++) {
        PyObject *fd = PyLong_FromLong(self->changes[i]);
        if (fd == NULL || PyList_Append(list, fd) < 0) {
            Py_XDECREF(fd);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(fd);
    }
    return list;
}
static PyMethodDef fdtable_methods[] = {
    {"add", (PyCFunction)fdtable_add, METH_O, "Start watching: add an active Io watcher to its fd's slot."},
    {"remove", (PyCFunction)fdtable_remove, METH_O, "Take an Io watcher out of its fd's slot."},
    {"touch", (PyCFunction)fdtable_touch, METH_O, "fd's interest changed: tell the backend at the next flush."},
    {"flush", (PyCFunction)fdtable_flush, METH_NOARGS,
     "Push pending changes to the backend; return the fds it refused."},
    {"reregister_all", (PyCFunction)fdtable_reregister_all, METH_NOARGS,
     "After fork: make every slot register afresh at the next flush."},
    {"watchers", (PyCFunction)fdtable_watchers, METH_O, "The Io watchers of fd, as a tuple."},
    {"forget", (PyCFunction)fdtable_forget, METH_O,
     "fd now names one of the loop's own files: drop a slot left from an earlier one."},
    {"all_watchers", (PyCFunction)fdtable_all_watchers, METH_NOARGS, "Every Io watcher in the table."},
    {"snapshot", (PyCFunction)fdtable_snapshot, METH_NOARGS,
     "(fd, watchers, kmask, dirty, reopened) for every slot (for verify)."},
    {NULL},
};

static PyGetSetDef fdtable_getset[] = {
    {"changes", (getter)fdtable_get_changes, NULL, "The fds waiting to be flushed, in order.", NULL},
    {NULL},
};

static PyMemberDef fdtable_members[] = {
    {"backend", T_OBJECT, offsetof(FdTableObject, backend), READONLY, NULL},
    {NULL},
};

static PyTypeObject FdTableBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.FdTableBase",
    .tp_basicsize = sizeof(FdTableObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "FdTableBase(backend): fd -> Io watchers, and the changes waiting for the backend.",
    .tp_new = fdtable_new,
    .tp_init = (initproc)fdtable_init,
    .tp_traverse = (traverseproc)fdtable_traverse,
    .tp_clear = (inquiry)fdtable_clear,
    .tp_dealloc = (destructor)fdtable_dealloc,
    .tp_methods = fdtable_methods,
    .tp_getset = fdtable_getset,
    .tp_members = fdtable_members,
};

/* -- Loop ----------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *pending;    /* _pending: NUMPRI lists, one per priority */
    PyObject *idles;      /* _idles: NUMPRI lists */
    PyObject *prepares;   /* _prepares */
    PyObject *checks;     /* _checks */
    PyObject *forks;      /* _forks */
    PyObject *timers;     /* _timers: a TimerHeap */
    PyObject *periodics;  /* _periodics: a HeapBase */
    PyObject *fdtable;    /* _fdtable: an FdTableBase */
    PyObject *hooks;      /* _hooks: fd -> callable */
    PyObject *backend;    /* _backend */
    PyObject *wakeup;     /* _wakeup */
    PyObject *poll_mask;  /* _poll_mask */
    Py_ssize_t activecnt; /* _activecnt (L1) */
    Py_ssize_t idle_count;
    long long iteration;
    double mn_now, rt_now, rt_offset, rt_checked, last_poll;
    double io_collect, timeout_collect;
    long pid;
    int brk;              /* _break */
    char closed, forkcheck, fork_unseen, postfork;
    char polling;         /* _polling: between the wake-up check and the poll's return */
    int masked_fd;        /* _masked_fd: the signalfd read while _poll_mask is blocked, or -1 */
    /* The epoll backend's waiter, polled from here while waiter->fast
       (ping-pong benchmark); waiter_owner keeps its memory alive. */
    PyObject *waiter_owner;
    struct pyev_waiter *waiter;
    pyev_epoll_wait_fn epoll_wait;
} LoopObject;

static PyObject *
loopbase_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    LoopObject *self = (LoopObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    PyObject **objs[] = {&self->pending, &self->idles, &self->prepares, &self->checks,
                         &self->forks, &self->timers, &self->periodics, &self->fdtable,
                         &self->hooks, &self->backend, &self->wakeup,
                         &self->poll_mask, &self->waiter_owner};
    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
        *objs[i] = Py_NewRef(Py_None);
    self->closed = 1;
    self->masked_fd = -1;
    return (PyObject *)self;
}

#define LOOP_OBJECTS(X)                                                                    \
    X(pending) X(idles) X(prepares) X(checks) X(forks) X(timers) X(periodics) X(fdtable) \
    X(hooks) X(backend) X(wakeup) X(poll_mask) X(waiter_owner)

static int
loopbase_traverse(LoopObject *self, visitproc visit, void *arg)
{
#define VISIT(f) Py_VISIT(self->f);
    LOOP_OBJECTS(VISIT)
#undef VISIT
    return 0;
}

static int
loopbase_clear(LoopObject *self)
{
#define CLEAR(f) Py_CLEAR(self->f);
    LOOP_OBJECTS(CLEAR)
#undef CLEAR
    return 0;
}

static void
loopbase_dealloc(LoopObject *self)
{
    /* A Python subclass's dealloc has run its finalizer and cleared its
       weak references and slots before it gets here. */
    PyObject_GC_UnTrack(self);
    loopbase_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The pending list of priority index pidx, checked (borrowed). */
static PyObject *
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

/* Queue w with the event bits `bits` (a new or borrowed int object). */
static int
queue_event(LoopObject *L, WatcherObject *w, PyObject *bits)
{
    if (!IS_PENDING(w)) {
        PyObject *q = pending_level(L, w->pidx);
        if (q == NULL || PyList_Append(q, (PyObject *)w) < 0)
            return -1;
        Py_XSETREF(w->revents, Py_NewRef(bits));
        return 0;
    }
    /* Exact ints only (_revents' setter and _queue ensure it): their OR
       runs no Python code, which could stop or free w meanwhile. */
    if (!PyLong_CheckExact(w->revents) || !PyLong_CheckExact(bits)) {
        PyErr_SetString(PyExc_SystemError, "revents must be exact ints");
        return -1;
    }
    PyObject *merged = PyNumber_Or(w->revents, bits);
    if (merged == NULL)
        return -1;
    Py_SETREF(w->revents, merged);
    return 0;
}

static int
check_watcher(PyObject *w)
{
    if (!PyObject_TypeCheck(w, &WatcherBase_Type)) {
        PyErr_Format(PyExc_TypeError, "expected a watcher, got %.100s", Py_TYPE(w)->tp_name);
        return -1;
    }
    return 0;
}

/* Queue every watcher of `list` (a snapshot: callbacks do not run here). */
static int
queue_all(LoopObject *L, PyObject *list, PyObject *bits)
{
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_SystemError, "watcher group is not a list");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
        PyObject *w = Py_NewRef(PyList_GET_ITEM(list, i));
        int rc = check_watcher(w) < 0 ? -1 : queue_event(L, (WatcherObject *)w, bits);
        Py_DECREF(w);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static PyObject *
loopbase_queue(LoopObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_queue(watcher, revents)");
        return NULL;
    }
    if (check_watcher(args[0]) < 0)
        return NULL;
    PyObject *bits = PyNumber_Index(args[1]); /* an exact int */
    if (bits == NULL)
        return NULL;
    int rc = queue_event(self, (WatcherObject *)args[0], bits);
    Py_DECREF(bits);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
loopbase_queue_all(LoopObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_queue_all(watchers, revents)");
        return NULL;
    }
    PyObject *bits = PyNumber_Index(args[1]); /* an exact int */
    if (bits == NULL)
        return NULL;
    int rc = queue_all(self, args[0], bits);
    Py_DECREF(bits);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Take w off its pending list; a new reference to its revents. */
static PyObject *
unpend(LoopObject *L, WatcherObject *w)
{
    if (!IS_PENDING(w)) {
        PyErr_SetString(PyExc_SystemError, "_unpend of a watcher that is not pending");
        return NULL;
    }
    PyObject *q = pending_level(L, w->pidx);
    if (q == NULL)
        return NULL;
    /* from the end: the most recently queued are the likeliest to go */
    for (Py_ssize_t i = PyList_GET_SIZE(q) - 1; i >= 0; i--) {
        if (PyList_GET_ITEM(q, i) == (PyObject *)w) {
            if (PySequence_DelItem(q, i) < 0)
                return NULL;
            PyObject *revents = w->revents;
            w->revents = Py_NewRef(Py_None);
            return revents;
        }
    }
    PyErr_SetString(PyExc_SystemError, "pending watcher missing from its pending list (L2)");
    return NULL;
}

static PyObject *
loopbase_unpend(LoopObject *self, PyObject *w)
{
    if (check_watcher(w) < 0)
        return NULL;
    return unpend(self, (WatcherObject *)w);
}

/* Invoke pending watchers, highest priority first, last queued first. */
static int
invoke_pending(LoopObject *L)
{
    for (;;) {
        PyObject *q = NULL;
        if (pending_level(L, 0) == NULL)
            return -1;
        for (int i = NUMPRI - 1; i >= 0; i--) {
            PyObject *level = PyList_GET_ITEM(L->pending, i);
            if (PyList_Check(level) && PyList_GET_SIZE(level)) {
                q = level;
                break;
            }
        }
        if (q == NULL)
            return 0;
        /* list.pop() without the call: the list's reference becomes ours */
        Py_ssize_t n = PyList_GET_SIZE(q);
        PyObject *item = PyList_GET_ITEM(q, n - 1);
        Py_SET_SIZE(q, n - 1);
        if (check_watcher(item) < 0) {
            Py_DECREF(item);
            return -1;
        }
        WatcherObject *w = (WatcherObject *)item;
        PyObject *revents = w->revents;
        w->revents = Py_NewRef(Py_None);
        PyObject *callback = Py_NewRef(w->callback);
        PyObject *args[2] = {item, revents};
        PyObject *r = PyObject_Vectorcall(callback, args, 2, NULL);
        Py_DECREF(callback);
        Py_DECREF(revents);
        Py_DECREF(item);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
    }
}

static PyObject *
loopbase_invoke_pending(LoopObject *self, PyObject *unused)
{
    if (invoke_pending(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static int
call_method0(PyObject *obj, PyObject *name)
{
    PyObject *r = PyObject_CallMethodNoArgs(obj, name);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
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
any_pending(LoopObject *L)
{
    if (pending_level(L, 0) == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(L->pending); i++) {
        PyObject *q = PyList_GET_ITEM(L->pending, i);
        if (PyList_Check(q) && PyList_GET_SIZE(q))
            return 1;
    }
    return 0;
}

static int
check_timers(LoopObject *L)
{
    if (!PyObject_TypeCheck(L->timers, &TimerHeap_Type)) {
        PyErr_SetString(PyExc_SystemError, "Loop._timers is not a TimerHeap");
        return -1;
    }
    return 0;
}

static int
check_heap(PyObject *h)
{
    if (!PyObject_TypeCheck(h, &HeapBase_Type)) {
        PyErr_SetString(PyExc_SystemError, "loop timer heap is not a HeapBase");
        return -1;
    }
    return 0;
}

/* How long a blocking poll may wait (_loop.Loop._poll_timeout, whose
   io_collect nap stays in Python). -1.0 on error. */
static double
poll_timeout(LoopObject *L)
{
    if (L->io_collect) {
        PyObject *r = PyObject_CallMethodNoArgs((PyObject *)L, str_poll_timeout);
        if (r == NULL)
            return -1.0;
        double t = PyFloat_AsDouble(r);
        Py_DECREF(r);
        if (t == -1.0 && PyErr_Occurred())
            return -1.0;
        return t > 0 ? t : 0.0;
    }
    int pending = any_pending(L);
    if (pending)
        return pending < 0 ? -1.0 : 0.0;
    double timeout = MAX_BLOCKTIME, deadline;
    if (check_timers(L) < 0 || check_heap(L->periodics) < 0)
        return -1.0;
    TimerHeapObject *timers = (TimerHeapObject *)L->timers;
    if (timers->len && timers->nodes[0].at - L->mn_now < timeout)
        timeout = timers->nodes[0].at - L->mn_now;
    int found = heap_next_deadline((HeapObject *)L->periodics, &deadline);
    if (found < 0)
        return -1.0;
    if (found && deadline - L->rt_now < timeout)
        timeout = deadline - L->rt_now;
    if (timeout < L->timeout_collect)
        timeout = L->timeout_collect;
    return timeout > 0 ? timeout : 0.0;
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

/* ready: the backend's flat list [fd, bits, fd, bits, ...]. */
static int
dispatch(LoopObject *L, PyObject *ready)
{
    Py_INCREF(ready);
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i + 1 < PyList_GET_SIZE(ready); i += 2) {
        long fd = PyLong_AsLong(PyList_GET_ITEM(ready, i));
        long got = PyLong_AsLong(PyList_GET_ITEM(ready, i + 1));
        rc = PyErr_Occurred() ? -1 : dispatch_fd(L, fd, got);
    }
    Py_DECREF(ready);
    return rc;
}

/* pairs: n (fd, bits) pairs straight from pyev_epoll_wait. */
static int
dispatch_pairs(LoopObject *L, const int32_t *pairs, int n)
{
    for (int i = 0; i < n; i++) {
        if (dispatch_fd(L, pairs[2 * i], pairs[2 * i + 1]) < 0)
            return -1;
    }
    return 0;
}

/* Queue expired timers, earliest deadline first to be invoked; repeating
   ones are re-armed at deadline + repeat (or now if that is already past),
   one-shot ones leave the heap and stop being active. */
static int
queue_expired_timers(LoopObject *L)
{
    PyObject *expired = PyList_New(0); /* may collect: before h is read */
    if (expired == NULL)
        return -1;
    if (check_timers(L) < 0) {
        Py_DECREF(expired);
        return -1;
    }
    TimerHeapObject *h = (TimerHeapObject *)L->timers;
    double now = L->mn_now;
    while (h->len && h->nodes[0].at < now) {
        TimerObject *w = h->nodes[0].w;
        int rc;
        if (w->hindex != 0) {
            PyErr_SetString(PyExc_SystemError, "timer heap node and timer disagree (T2)");
            goto fail;
        }
        if (w->repeat) {
            double next = h->nodes[0].at + w->repeat;
            theap_rearm(h, w, next > now ? next : now);
            rc = PyList_Append(expired, (PyObject *)w);
        } else {
            /* listed before it leaves the heap: an allocation failure
               here loses no timer */
            rc = PyList_Append(expired, (PyObject *)w);
            if (rc == 0) {
                Py_DECREF(theap_remove_at(h, 0)); /* the heap's reference */
                w->base.active = 0;
                if (w->base.keepalive)
                    L->activecnt--;
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

/* Lock-out: idle watchers of priority P are queued only when nothing is
   pending at priority >= P; one level per iteration, highest first. */
static int
queue_idles(LoopObject *L)
{
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
heap_due(PyObject *heapobj, double now)
{
    if (check_heap(heapobj) < 0)
        return -1;
    HeapObject *h = (HeapObject *)heapobj;
    if (!PyList_Check(h->heap) || !PyList_GET_SIZE(h->heap))
        return 0;
    PyObject *top = heap_top(h->heap);
    if (top == NULL)
        return -1;
    double at = PyFloat_AsDouble(PyTuple_GET_ITEM(top, 0));
    if (at == -1.0 && PyErr_Occurred())
        return -1;
    return at < now;
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

static int
nonempty_list(PyObject *o)
{
    return PyList_Check(o) && PyList_GET_SIZE(o) > 0;
}

/* Poll the backend: straight through the epoll waiter while it is fast
   (ping-pong benchmark), else through the backend's Python poll. Either
   *ready is a new list [fd, bits, ...] or *pairs holds *npairs pairs
   (stack_pairs, or memory to PyMem_Free). */
static int
poll_backend(LoopObject *L, double timeout, PyObject **ready, int32_t *stack_pairs, int32_t **pairs,
             int *npairs)
{
    if (L->waiter != NULL && L->waiter->fast) {
        struct pyev_waiter *waiter = L->waiter;
        int n;
        Py_BEGIN_ALLOW_THREADS
        n = L->epoll_wait(waiter, timeout);
        Py_END_ALLOW_THREADS
        if (n >= 0 && !(n & ~PYEV_WAIT_COUNT)) {
            /* copied: a callback may poll or resize the waiter meanwhile */
            *pairs = n <= 64 ? stack_pairs : PyMem_Malloc(2 * sizeof(int32_t) * (size_t)n);
            if (*pairs == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            memcpy(*pairs, waiter->out, 2 * sizeof(int32_t) * (size_t)n);
            *npairs = n;
            return 0;
        }
        /* EINTR, an error, stale registrations, a full buffer: Python */
        PyObject *owner = Py_NewRef(L->waiter_owner);
        *ready = PyObject_CallMethod(owner, "_unusual", "i", n);
        Py_DECREF(owner);
    } else {
        PyObject *t = PyFloat_FromDouble(timeout);
        PyObject *poll = t == NULL ? NULL : PyObject_GetAttr(L->backend, str_poll);
        *ready = poll == NULL ? NULL : PyObject_CallOneArg(poll, t);
        Py_XDECREF(poll);
        Py_XDECREF(t);
    }
    if (*ready != NULL && !PyList_Check(*ready)) {
        Py_CLEAR(*ready);
        PyErr_SetString(PyExc_SystemError, "backend poll did not return a list");
    }
    return *ready == NULL ? -1 : 0;
}

static int
fd_reported(int fd, PyObject *ready, const int32_t *pairs, int npairs)
{
    if (ready != NULL) {
        for (Py_ssize_t i = 0; i + 1 < PyList_GET_SIZE(ready); i += 2) {
            PyObject *item = PyList_GET_ITEM(ready, i);
            if (PyLong_Check(item) && PyLong_AsLong(item) == fd)
                return 1;
            PyErr_Clear(); /* not an fd: dispatch reports it */
        }
        return 0;
    }
    for (int i = 0; i < npairs; i++) {
        if (pairs[2 * i] == fd)
            return 1;
    }
    return 0;
}

/* poll_backend with the signals of _poll_mask blocked, so that they queue
   in the signalfd (_masked_fd) instead of running handlers; if the poll
   reports that fd, _read_while_masked reads it before they are unblocked
   (once unblocked, they would go to the handlers instead). See
   _sources/signals.py for why they are blocked only while polling. */
static int
poll_masked(LoopObject *L, double timeout, PyObject **ready, int32_t *stack_pairs, int32_t **pairs,
            int *npairs)
{
    /* A poll that cannot block needs no mask: a signal arriving meanwhile
       takes the handler path, as it does outside the poll (signals
       benchmark: two system calls less per busy iteration). */
    int masked = timeout > 0 ? PyObject_IsTrue(L->poll_mask) : 0;
    if (masked <= 0)
        return masked < 0 ? -1 : poll_backend(L, timeout, ready, stack_pairs, pairs, npairs);
    sigset_t block, previous;
    sigemptyset(&block);
    PyObject *it = PyObject_GetIter(L->poll_mask);
    if (it == NULL)
        return -1;
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        long signum = PyLong_AsLong(item);
        Py_DECREF(item);
        if (signum == -1 && PyErr_Occurred())
            break;
        if (signum <= 0 || signum >= NSIG || sigaddset(&block, (int)signum) < 0) {
            PyErr_Format(PyExc_ValueError, "bad signal number %ld in the poll mask", signum);
            break;
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return -1;
    int err = pthread_sigmask(SIG_BLOCK, &block, &previous);
    if (err) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    int rc = poll_backend(L, timeout, ready, stack_pairs, pairs, npairs);
    if (rc == 0 && L->masked_fd >= 0 && fd_reported(L->masked_fd, *ready, *pairs, *npairs)) {
        PyObject *reader = PyObject_GetAttr((PyObject *)L, str_read_while_masked);
        PyObject *r = reader == NULL ? NULL : PyObject_CallNoArgs(reader);
        Py_XDECREF(reader);
        if (r == NULL) {
            rc = -1;
            Py_CLEAR(*ready);
            if (*pairs != NULL && *pairs != stack_pairs)
                PyMem_Free(*pairs);
            *pairs = NULL;
        } else {
            Py_DECREF(r);
        }
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return rc;
}

/* One iteration, in libev's order: see _loop.py's docstring. */
static int
iterate(LoopObject *L, int flags)
{
    /* 1-2. fork */
    if (L->forkcheck && (long)getpid() != L->pid) {
        if (call_method0((PyObject *)L, str_fork) < 0)
            return -1;
    }
    if (L->fork_unseen) {
        L->fork_unseen = 0; /* once per fork, even if a callback raises */
        if (nonempty_list(L->forks)) {
            if (queue_all(L, L->forks, obj_fork) < 0 || invoke_pending(L) < 0)
                return -1;
        }
    }
    /* 3. prepare */
    if (nonempty_list(L->prepares)) {
        if (queue_all(L, L->prepares, obj_prepare) < 0 || invoke_pending(L) < 0)
            return -1;
    }
    /* 4. a break (or close) from the callbacks so far: leave without polling */
    if (L->brk || L->closed)
        return 0;
    /* 5-6. kernel state: rebuild after fork, then pending fd changes */
    if (L->postfork && call_method0((PyObject *)L, str_rebuild_after_fork) < 0)
        return -1;
    if (PyObject_TypeCheck(L->fdtable, &FdTableBase_Type) && ((FdTableObject *)L->fdtable)->nchanges &&
        call_method0((PyObject *)L, str_flush_fd_changes) < 0)
        return -1;
    /* 7. Before a poll that may block, Python's signal handlers, for a
       signal whose byte in the signal pipe a hook drained after the last
       look: from here on, a signal finds its byte in the pipe when the
       poll starts (signals.py: hold_interrupts), so the poll never sleeps
       on it. */
    int may_block = !(flags & RUN_NOWAIT || L->idle_count || !L->activecnt);
    if (may_block && PyErr_CheckSignals() < 0)
        return -1;
    /* 8. time, and how long the poll may block */
    if (update_time(L) < 0)
        return -1;
    double timeout = 0.0;
    if (may_block && L->idle_count == 0 && L->activecnt) { /* a handler may have changed them */
        timeout = poll_timeout(L);
        if (timeout < 0)
            return -1;
    }
    /* Python code ran since phase 4 (fd changes, signal handlers, the
       clock): it may have closed the loop, whose backend is then gone. */
    if (L->closed)
        return 0;
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
    /* 9-11. poll; hooks run at once, user watchers are queued */
    L->iteration++;
    PyObject *ready = NULL;
    int32_t stack_pairs[2 * 64], *pairs = NULL;
    int npairs = 0;
    int rc = poll_masked(L, timeout, &ready, stack_pairs, &pairs, &npairs);
    if (rc < 0) {
        L->polling = 0;
        return -1;
    }
    L->polling = 0;
    /* Python signal handlers run here, as they would after the call in
       Python code: a wake-up they arm is then taken in this iteration. */
    rc = PyErr_CheckSignals() < 0 || update_time(L) < 0 ? -1 : 0;
    L->last_poll = L->mn_now;
    if (rc == 0 && ready != NULL && !PyList_Check(ready)) {
        PyErr_SetString(PyExc_SystemError, "backend poll did not return a list");
        rc = -1;
    }
    if (rc == 0)
        rc = ready != NULL ? dispatch(L, ready) : dispatch_pairs(L, pairs, npairs);
    Py_XDECREF(ready);
    if (pairs != NULL && pairs != stack_pairs)
        PyMem_Free(pairs);
    if (rc < 0)
        return -1;
    if (L->wakeup != Py_None) {
        /* Armed without a write (before the poll, or by a signal handler
           that ran after it), or written after the poll returned. */
        int armed = wakeup_armed(L);
        if (armed < 0)
            return -1;
        if (armed) {
            PyObject *wakeup = Py_NewRef(L->wakeup);
            rc = call_method0(wakeup, str_take);
            Py_DECREF(wakeup);
            if (rc < 0)
                return -1;
        }
    }
    /* 13-16. expired timers and periodics, idle, check */
    if (check_timers(L) < 0 || check_heap(L->periodics) < 0)
        return -1;
    TimerHeapObject *timers = (TimerHeapObject *)L->timers;
    if (timers->len && timers->nodes[0].at < L->mn_now && queue_expired_timers(L) < 0)
        return -1;
    int due = heap_due(L->periodics, L->rt_now);
    if (due < 0 || (due && call_method0((PyObject *)L, str_queue_expired_periodics) < 0))
        return -1;
    if (L->idle_count && queue_idles(L) < 0)
        return -1;
    if (nonempty_list(L->checks) && queue_all(L, L->checks, obj_check) < 0)
        return -1;
    /* 17. invoke, highest priority first */
    return invoke_pending(L);
}

/* run()'s body: pending callbacks first, then iterate until a break, no
   active watcher, a single iteration (flags) or a closed loop. */
static PyObject *
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

static PyObject *
loopbase_update_time(LoopObject *self, PyObject *unused)
{
    if (update_time(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* _set_c_waiter(waiter): poll through this EpollWaiter from C; it must
   stay alive (the loop keeps a reference), and its c_addresses() gives the
   struct and pyev_epoll_wait (see waiter.h). */
static PyObject *
loopbase_set_c_waiter(LoopObject *self, PyObject *owner)
{
    PyObject *addresses = PyObject_CallMethod(owner, "c_addresses", NULL);
    if (addresses == NULL)
        return NULL;
    if (!PyTuple_Check(addresses) || PyTuple_GET_SIZE(addresses) != 2) {
        Py_DECREF(addresses);
        PyErr_SetString(PyExc_TypeError, "c_addresses() must return (waiter, function)");
        return NULL;
    }
    void *waiter = PyLong_AsVoidPtr(PyTuple_GET_ITEM(addresses, 0));
    void *fn = PyLong_AsVoidPtr(PyTuple_GET_ITEM(addresses, 1));
    Py_DECREF(addresses);
    if (PyErr_Occurred())
        return NULL;
    if (waiter == NULL || fn == NULL) {
        PyErr_SetString(PyExc_ValueError, "null waiter address");
        return NULL;
    }
    Py_XSETREF(self->waiter_owner, Py_NewRef(owner));
    self->waiter = (struct pyev_waiter *)waiter;
    self->epoll_wait = (pyev_epoll_wait_fn)fn;
    Py_RETURN_NONE;
}

static PyMethodDef loopbase_methods[] = {
    {"_set_c_waiter", (PyCFunction)loopbase_set_c_waiter, METH_O,
     "Poll through this epoll waiter from C (see waiter.h)."},
    {"invoke_pending", (PyCFunction)loopbase_invoke_pending, METH_NOARGS,
     "invoke_pending($self, /)\n--\n\nInvoke every pending watcher now, highest priority first."},
    {"_queue", (PyCFunction)(void (*)(void))loopbase_queue, METH_FASTCALL, NULL},
    {"_queue_all", (PyCFunction)(void (*)(void))loopbase_queue_all, METH_FASTCALL, NULL},
    {"_unpend", (PyCFunction)loopbase_unpend, METH_O, NULL},
    {"_run_iterations", (PyCFunction)loopbase_run_iterations, METH_O, NULL},
    {"_update_time", (PyCFunction)loopbase_update_time, METH_NOARGS, NULL},
    {NULL},
};

static PyGetSetDef loopbase_getset[] = {
    LIST_FIELD("_pending", LoopObject, pending),
    LIST_FIELD("_idles", LoopObject, idles),
    LIST_FIELD("_prepares", LoopObject, prepares),
    LIST_FIELD("_checks", LoopObject, checks),
    LIST_FIELD("_forks", LoopObject, forks),
    FIELD("_timers", LoopObject, timers),
    FIELD("_periodics", LoopObject, periodics),
    FIELD("_fdtable", LoopObject, fdtable),
    FIELD("_hooks", LoopObject, hooks),
    FIELD("_backend", LoopObject, backend),
    FIELD("_wakeup", LoopObject, wakeup),
    FIELD("_poll_mask", LoopObject, poll_mask),
    {NULL},
};

static PyMemberDef loopbase_members[] = {
    {"_activecnt", T_PYSSIZET, offsetof(LoopObject, activecnt), 0, NULL},
    {"_idle_count", T_PYSSIZET, offsetof(LoopObject, idle_count), 0, NULL},
    {"_iteration", T_LONGLONG, offsetof(LoopObject, iteration), 0, NULL},
    {"_mn_now", T_DOUBLE, offsetof(LoopObject, mn_now), 0, NULL},
    {"_rt_now", T_DOUBLE, offsetof(LoopObject, rt_now), 0, NULL},
    {"_rt_offset", T_DOUBLE, offsetof(LoopObject, rt_offset), 0, NULL},
    {"_rt_checked", T_DOUBLE, offsetof(LoopObject, rt_checked), 0, NULL},
    {"_last_poll", T_DOUBLE, offsetof(LoopObject, last_poll), 0, NULL},
    {"_io_collect", T_DOUBLE, offsetof(LoopObject, io_collect), 0, NULL},
    {"_timeout_collect", T_DOUBLE, offsetof(LoopObject, timeout_collect), 0, NULL},
    {"_pid", T_LONG, offsetof(LoopObject, pid), 0, NULL},
    {"_break", T_INT, offsetof(LoopObject, brk), 0, NULL},
    {"_closed", T_BOOL, offsetof(LoopObject, closed), 0, NULL},
    {"_forkcheck", T_BOOL, offsetof(LoopObject, forkcheck), 0, NULL},
    {"_fork_unseen", T_BOOL, offsetof(LoopObject, fork_unseen), 0, NULL},
    {"_postfork", T_BOOL, offsetof(LoopObject, postfork), 0, NULL},
    {"_masked_fd", T_INT, offsetof(LoopObject, masked_fd), 0, NULL},
    {"_polling", T_BOOL, offsetof(LoopObject, polling), READONLY, NULL},
    {NULL},
};

static PyTypeObject LoopBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.LoopBase",
    .tp_basicsize = sizeof(LoopObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The loop state the C hot path reads, and the iteration itself.",
    .tp_new = loopbase_new,
    .tp_traverse = (traverseproc)loopbase_traverse,
    .tp_clear = (inquiry)loopbase_clear,
    .tp_dealloc = (destructor)loopbase_dealloc,
    .tp_members = loopbase_members,
    .tp_getset = loopbase_getset,
    .tp_methods = loopbase_methods,
};

/* -- Timer start and stop (timer churn benchmark) ------------------------- */

static PyObject *default_loop_fn; /* pyev._loop.default_loop, looked up once */
static PyObject *str_start_general;

/* start(loop=None): the plain case here, every other case (already active,
   closed loop, pending elsewhere) in Watcher.start, which raises or does
   nothing as documented there. */
static PyObject *
timerbase_start(TimerObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *loop = Py_None;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        if (!PyUnicode_Check(name) || PyUnicode_CompareWithASCIIString(name, "loop") != 0)
            return PyErr_Format(PyExc_TypeError, "start() got an unexpected keyword argument %R", name);
    }
    if (nargs + nkw > 1)
        return PyErr_Format(PyExc_TypeError, "start() takes at most 1 argument (the loop), got %zd",
                            nargs + nkw);
    if (nargs + nkw == 1)
        loop = args[0];
    PyObject *owned = NULL;
    if (loop == Py_None) {
        if (default_loop_fn == NULL) {
            PyObject *mod = PyImport_ImportModule("pyev._loop");
            if (mod == NULL)
                return NULL;
            default_loop_fn = PyObject_GetAttrString(mod, "default_loop");
            Py_DECREF(mod);
            if (default_loop_fn == NULL)
                return NULL;
        }
        loop = owned = PyObject_CallNoArgs(default_loop_fn);
        if (loop == NULL)
            return NULL;
    }
    WatcherObject *w = &self->base;
    if (!PyObject_TypeCheck(loop, &LoopBase_Type) || w->active || ((LoopObject *)loop)->closed ||
        (IS_PENDING(w) && loop != w->loop)) {
        PyObject *r = PyObject_CallMethodOneArg((PyObject *)self, str_start_general, loop);
        Py_XDECREF(owned);
        return r;
    }
    LoopObject *L = (LoopObject *)loop;
    if (!isfinite(self->after)) {
        Py_XDECREF(owned);
        PyErr_SetString(PyExc_ValueError, "Timer.after must be finite");
        return NULL;
    }
    if (check_timers(L) < 0 || theap_push((TimerHeapObject *)L->timers, self, L->mn_now + self->after) < 0) {
        Py_XDECREF(owned);
        return NULL;
    }
    Py_XSETREF(w->loop, Py_NewRef(loop));
    w->active = 1;
    if (w->keepalive)
        L->activecnt++;
    Py_XDECREF(owned);
    return Py_NewRef((PyObject *)self);
}

static PyObject *
timerbase_stop(TimerObject *self, PyObject *unused)
{
    WatcherObject *w = &self->base;
    if (!IS_PENDING(w) && !w->active)
        Py_RETURN_NONE;
    if (!PyObject_TypeCheck(w->loop, &LoopBase_Type)) {
        PyErr_SetString(PyExc_SystemError, "active or pending Timer without a loop");
        return NULL;
    }
    LoopObject *L = (LoopObject *)Py_NewRef(w->loop);
    if (IS_PENDING(w)) {
        PyObject *revents = unpend(L, w);
        if (revents == NULL) {
            Py_DECREF(L);
            return NULL;
        }
        Py_DECREF(revents);
    }
    if (w->active) {
        if (check_timers(L) < 0) {
            Py_DECREF(L);
            return NULL;
        }
        int held = theap_holds((TimerHeapObject *)L->timers, (PyObject *)self);
        if (held <= 0) {
            if (held == 0)
                PyErr_SetString(PyExc_SystemError, "active Timer missing from its loop's timer heap (T3)");
            Py_DECREF(L);
            return NULL;
        }
        Py_DECREF(theap_remove((TimerHeapObject *)L->timers, self));
        w->active = 0;
        if (w->keepalive)
            L->activecnt--;
    }
    Py_DECREF(L);
    Py_RETURN_NONE;
}

static PyMethodDef timerbase_methods[] = {
    {"start", (PyCFunction)(void (*)(void))timerbase_start, METH_FASTCALL | METH_KEYWORDS,
     "start($self, /, loop=None)\n--\n\nArm the timer ``after`` seconds from the loop's ``now()``."},
    {"stop", (PyCFunction)timerbase_stop, METH_NOARGS,
     "stop($self, /)\n--\n\nDisarm the timer and clear its pending state."},
    {NULL},
};

/* -- Async.send (async_send benchmark) ------------------------------------ */

static PyObject *str_notify;

/* Set the flag, then wake the loop: the order wakeup.py's argument needs.
   An armed wake-up is already on its way, so a storm of sends costs no
   Python call here. */
static PyObject *
asyncbase_send(AsyncObject *self, PyObject *unused)
{
    self->sent = 1;
    WatcherObject *w = &self->base.base;
    if (!w->active || !PyObject_TypeCheck(w->loop, &LoopBase_Type))
        Py_RETURN_NONE;
    LoopObject *L = (LoopObject *)w->loop;
    if (L->closed || L->wakeup == Py_None)
        Py_RETURN_NONE;
    PyObject *wakeup = Py_NewRef(L->wakeup); /* close() may drop it meanwhile */
    PyObject *armed = PyObject_GetAttr(wakeup, str_armed);
    int rc = armed == NULL ? -1 : PyObject_IsTrue(armed);
    Py_XDECREF(armed);
    if (rc == 0)
        rc = call_method0(wakeup, str_notify);
    Py_DECREF(wakeup);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef asyncbase_methods[] = {
    {"send", (PyCFunction)asyncbase_send, METH_NOARGS,
     "send($self, /)\n--\n\nWake the loop and have the callback called there (coalescing)."},
    {NULL},
};

/* -- module --------------------------------------------------------------- */

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pyev._core",
    .m_doc = "The loop's hot path in C (see _core.c).",
    .m_size = -1,
};

static int
intern(PyObject **slot, const char *s)
{
    *slot = PyUnicode_InternFromString(s);
    return *slot == NULL ? -1 : 0;
}

PyMODINIT_FUNC
PyInit__core(void)
{
    if (intern(&str_fork, "fork") < 0 || intern(&str_rebuild_after_fork, "_rebuild_after_fork") < 0 ||
        intern(&str_flush_fd_changes, "_flush_fd_changes") < 0 ||
        intern(&str_read_wall_clock, "_read_wall_clock") < 0 ||
        intern(&str_read_while_masked, "_read_while_masked") < 0 || intern(&str_poll, "poll") < 0 ||
        intern(&str_kill_fd, "_kill_fd") < 0 ||
        intern(&str_armed, "armed") < 0 || intern(&str_take, "take") < 0 ||
        intern(&str_queue_expired_periodics, "_queue_expired_periodics") < 0 ||
        intern(&str_poll_timeout, "_poll_timeout") < 0 || intern(&str_entry, "_entry") < 0 ||
        intern(&str_sweep, "_sweep") < 0)
        return NULL;
    if (!(obj_timer = PyLong_FromLong(EV_TIMER)) || !(obj_idle = PyLong_FromLong(EV_IDLE)) ||
        !(obj_prepare = PyLong_FromLong(EV_PREPARE)) || !(obj_check = PyLong_FromLong(EV_CHECK)) ||
        !(obj_fork = PyLong_FromLong(EV_FORK)))
        return NULL;
    PyObject *heapq = PyImport_ImportModule("heapq");
    if (heapq == NULL)
        return NULL;
    heappush_fn = PyObject_GetAttrString(heapq, "heappush");
    heappop_fn = PyObject_GetAttrString(heapq, "heappop");
    Py_DECREF(heapq);
    if (heappush_fn == NULL || heappop_fn == NULL)
        return NULL;

    if (intern(&str_start_general, "_start_general") < 0 || intern(&str_notify, "notify") < 0 ||
        intern(&str_checked_args, "_checked_args") < 0)
        return NULL;
    AsyncBase_Type.tp_methods = asyncbase_methods;
    ListedBase_Type.tp_base = &WatcherBase_Type;
    AsyncBase_Type.tp_base = &ListedBase_Type;
    TimerBase_Type.tp_methods = timerbase_methods;
    TimerBase_Type.tp_base = &WatcherBase_Type;
    IoBase_Type.tp_base = &WatcherBase_Type;
    PyTypeObject *types[] = {&WatcherBase_Type, &TimerBase_Type, &IoBase_Type, &ListedBase_Type,
                             &AsyncBase_Type, &TimerHeap_Type, &HeapBase_Type, &FdTableBase_Type,
                             &LoopBase_Type};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (PyType_Ready(types[i]) < 0)
            return NULL;
    }
    PyObject *m = PyModule_Create(&core_module);
    if (m == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        const char *name = strrchr(types[i]->tp_name, '.') + 1;
        if (PyModule_AddObjectRef(m, name, (PyObject *)types[i]) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}
