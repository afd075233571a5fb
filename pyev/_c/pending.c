/* The pending queue: one Python list per priority, `loop._pending`. A
 * watcher is pending iff its revents is not None, and it is then listed
 * exactly once, at its own priority (L2, _loop.py). Queueing an event for a
 * pending watcher ORs the bits into its revents. Invocation takes the
 * highest non-empty level and pops from its end (last queued, first
 * invoked, as libev), so every phase queues its watchers in reverse of the
 * order they should run.
 */
#include "core.h"

/* 1 if any watcher is pending, 0 if none, -1 on error. */
int
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

/* Queue w with the event bits `bits` (a new or borrowed int object). */
int
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
int
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

PyObject *
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

PyObject *
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
PyObject *
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

PyObject *
loopbase_unpend(LoopObject *self, PyObject *w)
{
    if (check_watcher(w) < 0)
        return NULL;
    return unpend(self, (WatcherObject *)w);
}

/* Invoke pending watchers, highest priority first, last queued first. */
int
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

PyObject *
loopbase_invoke_pending(LoopObject *self, PyObject *unused)
{
    if (invoke_pending(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}
