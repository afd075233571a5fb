/* The fd table: fd -> Io watchers, and the interest changes waiting for
 * the backend, flushed once per iteration right before the poll. What the
 * slots mean, and their invariants F1-F4, are stated in _fdtable.py. A slot
 * holds no watcher (NULL), one Io watcher itself, or a tuple of two or more.
 *
 * Small fds live in a C array indexed by fd (memory_io benchmark: a dict of
 * Python slot objects holding tuples cost over 150 bytes per watched fd).
 * The array stops growing at PYEV_DENSE_FDS (16 KiB of slots): an fd at or
 * above it (any int a caller may pass, 2**31-1 included) gets an entry in a
 * small open-addressing table instead, so memory follows the fds actually
 * watched, never the largest number seen. The structs, and the lookup the
 * iteration inlines (fdtable_find), are in core.h.
 *
 * Pointers to slots move whenever the table grows (realloc, rehash). No
 * function here keeps one across a call that can allocate a Python object
 * or run Python code: on 3.11 a collection inside any allocation can run a
 * finalizer that starts or stops an Io.
 */
#include "core.h"

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
    if (fd < PYEV_DENSE_FDS) {
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

/* w is among `watchers` (a slot's). */
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

/* Set fd's watchers to `make(current, w)`. The new value is built first;
   that allocation may run a collection whose finalizers change the slot,
   so the slot is looked up afresh afterwards, and the work redone if its
   watchers changed meanwhile. */
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

PyTypeObject FdTableBase_Type = {
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
