/* The deadline heaps: TimerHeap, the armed timers of a loop in a C array,
 * and HeapBase, the periodic heap's fields and hot operations over a heapq
 * list (the rest of it is pyev/_periodicheap.py).
 */
#include "core.h"

/* -- TimerHeap ------------------------------------------------------------ */

/* A binary min-heap of armed timers in a C array, ordered by (deadline,
   sequence number): equal deadlines fire in the order they were armed.
   Each timer knows its index, so stopping one removes it at once: no dead
   entries, no sweeps, no tuple per timer (timer churn benchmark: lazy
   deletion's sweeps cost 1.1 us per timer there).

   Invariants (checked by TimerHeap.verify):
     T1. nodes[0..len) satisfy the heap property on (at, seq).
     T2. nodes[i].w->hindex == i, and nodes[i].at == nodes[i].w->at.
     T3. The heap holds one reference to each timer in it; a timer is in
         the heap iff it is active (its hindex is then >= 0).
   (TimerNode and TimerHeapObject are in core.h: the iteration and
   Timer.start/stop read them.) */

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
int
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
TimerObject *
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

/* Move w (in the heap) to a new deadline, as if armed anew. */
void
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

/* 1 if w is in the heap, 0 if not; -1 with an error if w is no Timer. */
int
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

PyTypeObject TimerHeap_Type = {
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

/* -- HeapBase: the periodic heap ------------------------------------------ */

/* Entries are (deadline, sequence, watcher) tuples ordered by heapq; see
   _periodicheap.py for the lazy deletion and H1-H4. */
static PyObject *
heapbase_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PeriodicHeapObject *self = (PeriodicHeapObject *)type->tp_alloc(type, 0);
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
heapbase_traverse(PeriodicHeapObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->heap);
    return 0;
}

static int
heapbase_clear(PeriodicHeapObject *self)
{
    Py_CLEAR(self->heap);
    return 0;
}

static void
heapbase_dealloc(PeriodicHeapObject *self)
{
    PyObject_GC_UnTrack(self);
    heapbase_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* New reference to a fresh entry for w at deadline, pushed on the heap. */
static PyObject *
pheap_push(PeriodicHeapObject *h, double deadline, PyObject *w)
{
    if (!PyList_Check(h->heap)) {
        PyErr_SetString(PyExc_TypeError, "HeapBase.heap must be a list");
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
heapbase_push(PeriodicHeapObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "push(deadline, watcher)");
        return NULL;
    }
    double deadline = PyFloat_AsDouble(args[0]);
    if (deadline == -1.0 && PyErr_Occurred())
        return NULL;
    return pheap_push(self, deadline, args[1]);
}

/* One more dead entry; sweep (in Python) once they are over half. */
static int
pheap_forget(PeriodicHeapObject *h)
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
heapbase_forget(PeriodicHeapObject *self, PyObject *unused)
{
    if (pheap_forget(self) < 0)
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
int
pheap_next_deadline(PeriodicHeapObject *h, double *deadline)
{
    PyObject *heap = Py_NewRef(h->heap); /* entry_of may run Python code */
    int found = 0;
    if (!PyList_Check(heap)) {
        PyErr_SetString(PyExc_TypeError, "HeapBase.heap must be a list");
        found = -1;
    }
    while (found == 0 && PyList_GET_SIZE(heap)) {
        PyObject *top = pheap_top(heap);
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
heapbase_next_deadline(PeriodicHeapObject *self, PyObject *unused)
{
    double deadline;
    int found = pheap_next_deadline(self, &deadline);
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
    LIST_FIELD("heap", PeriodicHeapObject, heap),
    {NULL},
};

static PyMemberDef heapbase_members[] = {
    {"dead", T_PYSSIZET, offsetof(PeriodicHeapObject, dead), 0, NULL},
    {"_seq", T_LONGLONG, offsetof(PeriodicHeapObject, seq), 0, NULL},
    {NULL},
};

PyTypeObject HeapBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.HeapBase",
    .tp_basicsize = sizeof(PeriodicHeapObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The periodic heap's fields and its hot operations.",
    .tp_new = heapbase_new,
    .tp_traverse = (traverseproc)heapbase_traverse,
    .tp_clear = (inquiry)heapbase_clear,
    .tp_dealloc = (destructor)heapbase_dealloc,
    .tp_members = heapbase_members,
    .tp_getset = heapbase_getset,
    .tp_methods = heapbase_methods,
};
