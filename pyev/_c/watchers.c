/* The watcher base types: the fields each watcher shares with the
 * iteration, and the few watcher operations that are hot: Timer's
 * constructor, start and stop (timer churn benchmark) and Async.send
 * (async_send benchmark). Everything else about a watcher is Python
 * (pyev/_watchers/).
 */
#include <math.h>

#include "core.h"

/* -- WatcherBase ---------------------------------------------------------- */

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

PyTypeObject WatcherBase_Type = {
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

/* -- DeadlineBase, and PeriodicBase --------------------------------------- */

static PyObject *
deadline_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    DeadlineObject *self = (DeadlineObject *)watcher_new(type, args, kwds);
    if (self != NULL)
        self->hindex = -1;
    return (PyObject *)self;
}

static PyObject *
deadline_get_at(DeadlineObject *self, void *closure)
{
    return PyFloat_FromDouble(self->at);
}

/* Settable while out of a heap (a Periodic sets its first time): in one,
   the heap alone moves it (D2). */
static int
deadline_set_at(DeadlineObject *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "this attribute cannot be deleted");
        return -1;
    }
    double at = PyFloat_AsDouble(value);
    if (at == -1.0 && PyErr_Occurred())
        return -1;
    if (self->hindex >= 0) {
        PyErr_SetString(PyExc_AttributeError, "_at is the heap's to set while the watcher is armed");
        return -1;
    }
    self->at = at;
    return 0;
}

static PyGetSetDef deadline_getset[] = {
    {"_at", (getter)deadline_get_at, (setter)deadline_set_at, NULL, NULL},
    {NULL},
};

static PyMemberDef deadline_members[] = {
    {"_hindex", T_PYSSIZET, offsetof(DeadlineObject, hindex), READONLY, NULL},
    {NULL},
};

PyTypeObject DeadlineBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.DeadlineBase",
    .tp_basicsize = sizeof(DeadlineObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The fields of a watcher kept in a DeadlineHeap (Timer, Periodic).",
    .tp_base = &WatcherBase_Type,
    .tp_new = deadline_new,
    .tp_traverse = (traverseproc)watcher_traverse,
    .tp_clear = (inquiry)watcher_clear,
    .tp_dealloc = (destructor)watcher_dealloc,
    .tp_members = deadline_members,
    .tp_getset = deadline_getset,
};

/* Periodic's base: what C calls on an expired Periodic (_fired) is
   declared on it, in _core.pyi. */
PyTypeObject PeriodicBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.PeriodicBase",
    .tp_basicsize = sizeof(DeadlineObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The fields of a Periodic the C iteration reads.",
    .tp_base = &DeadlineBase_Type,
    .tp_new = deadline_new,
    .tp_traverse = (traverseproc)watcher_traverse,
    .tp_clear = (inquiry)watcher_clear,
    .tp_dealloc = (destructor)watcher_dealloc,
};

/* -- TimerBase: the constructor, start and stop --------------------------- */

static PyObject *error_type;      /* pyev._constants.Error, looked up once */
static PyObject *default_loop_fn; /* pyev._loop.default_loop, looked up once */

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
    WatcherObject *w = &self->deadline.base;
    if (w->active || IS_PENDING(w))
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
    w->pidx = (int)p + 2; /* - MINPRI */
    Py_XSETREF(w->callback, Py_NewRef(callback));
    Py_XSETREF(w->data, Py_NewRef(data));
    return 0;
}

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
    WatcherObject *w = &self->deadline.base;
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
    DeadlineHeapObject *timers = loop_timers(L);
    if (timers == NULL || heap_push(timers, &self->deadline, L->mn_now + self->after) < 0) {
        Py_XDECREF(owned);
        return NULL;
    }
    Py_XSETREF(w->loop, Py_NewRef(loop));
    watcher_set_active(L, w);
    Py_XDECREF(owned);
    return Py_NewRef((PyObject *)self);
}

static PyObject *
timerbase_stop(TimerObject *self, PyObject *unused)
{
    WatcherObject *w = &self->deadline.base;
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
        DeadlineHeapObject *timers = loop_timers(L);
        if (timers == NULL) {
            Py_DECREF(L);
            return NULL;
        }
        int held = heap_holds(timers, (PyObject *)self);
        if (held <= 0) {
            if (held == 0)
                PyErr_SetString(PyExc_SystemError, "active Timer missing from its loop's timer heap (D3)");
            Py_DECREF(L);
            return NULL;
        }
        Py_DECREF(heap_remove(timers, &self->deadline));
        watcher_set_inactive(L, w);
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

static PyMemberDef timer_members[] = {
    {"_after", T_DOUBLE, offsetof(TimerObject, after), 0, NULL},
    {"_repeat", T_DOUBLE, offsetof(TimerObject, repeat), 0, NULL},
    {NULL},
};

PyTypeObject TimerBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.TimerBase",
    .tp_basicsize = sizeof(TimerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "TimerBase(after, callback, *, repeat=0.0, priority=0, data=None)\n--\n\n"
              "The fields of a Timer the C hot path reads.",
    .tp_base = &DeadlineBase_Type,
    .tp_new = deadline_new,
    .tp_init = (initproc)timer_init,
    .tp_traverse = (traverseproc)watcher_traverse,
    .tp_clear = (inquiry)watcher_clear,
    .tp_dealloc = (destructor)watcher_dealloc,
    .tp_members = timer_members,
    .tp_methods = timerbase_methods,
};

/* -- IoBase --------------------------------------------------------------- */

static PyMemberDef io_members[] = {
    {"_fd", T_INT, offsetof(IoObject, fd), 0, NULL},
    {"_events", T_INT, offsetof(IoObject, events), 0, NULL},
    {NULL},
};

PyTypeObject IoBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.IoBase",
    .tp_basicsize = sizeof(IoObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The fields of an Io watcher the C hot path reads.",
    .tp_base = &WatcherBase_Type,
    .tp_new = watcher_new,
    .tp_traverse = (traverseproc)watcher_traverse,
    .tp_clear = (inquiry)watcher_clear,
    .tp_dealloc = (destructor)watcher_dealloc,
    .tp_members = io_members,
};

/* -- ListedBase: a watcher kept in one of its loop's lists ---------------- */

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

PyTypeObject ListedBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.ListedBase",
    .tp_basicsize = sizeof(ListedObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The field of a watcher kept in one of its loop's lists.",
    .tp_base = &WatcherBase_Type,
    .tp_new = listed_new,
    .tp_traverse = (traverseproc)watcher_traverse,
    .tp_clear = (inquiry)watcher_clear,
    .tp_dealloc = (destructor)watcher_dealloc,
    .tp_members = listed_members,
};

/* -- AsyncBase: the flag, and send() -------------------------------------- */

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

static PyMemberDef async_members[] = {
    {"_sent", T_BOOL, offsetof(AsyncObject, sent), 0, NULL},
    {NULL},
};

PyTypeObject AsyncBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.AsyncBase",
    .tp_basicsize = sizeof(AsyncObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "An Async watcher's flag, and send() (async_send benchmark).",
    .tp_base = &ListedBase_Type,
    .tp_new = listed_new,
    .tp_traverse = (traverseproc)watcher_traverse,
    .tp_clear = (inquiry)watcher_clear,
    .tp_dealloc = (destructor)watcher_dealloc,
    .tp_members = async_members,
    .tp_methods = asyncbase_methods,
};
