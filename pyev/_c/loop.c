/* LoopBase: the loop's state that the iteration reads, as fields shared by
 * name with pyev._loop.Loop (the struct is in core.h), and its life cycle.
 * Its methods are the iteration's (iterate.c) and the pending queue's
 * (pending.c).
 */
#include "core.h"

static PyObject *
loopbase_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    LoopObject *self = (LoopObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    PyObject **objs[] = {&self->pending, &self->idles, &self->prepares, &self->checks,
                         &self->forks, &self->timers, &self->periodics, &self->fdtable,
                         &self->hooks, &self->backend, &self->wakeup,
                         &self->masked_reader, &self->waiter_owner};
    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
        *objs[i] = Py_NewRef(Py_None);
    self->closed = 1;
    self->masked_fd = -1;
    return (PyObject *)self;
}

#define LOOP_OBJECTS(X)                                                                    \
    X(pending) X(idles) X(prepares) X(checks) X(forks) X(timers) X(periodics) X(fdtable) \
    X(hooks) X(backend) X(wakeup) X(masked_reader) X(waiter_owner)

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

/* -- methods, fields and the type ----------------------------------------- */

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
    {"_mask_signals", (PyCFunction)(void (*)(void))loopbase_mask_signals, METH_FASTCALL, NULL},
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
    {"_polling", T_BOOL, offsetof(LoopObject, polling), READONLY, NULL},
    {NULL},
};

PyTypeObject LoopBase_Type = {
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
