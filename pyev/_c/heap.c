/* The deadline heap, one type for both clocks: a loop keeps one for its
 * Timers (deadlines on the monotonic clock) and one for its Periodics (on
 * the wall clock), as libev keeps its timers and periodics in two arrays
 * of the same heap.
 */
#include "core.h"

/* A binary min-heap of armed watchers in a C array, ordered by (deadline,
   sequence number): equal deadlines fire in the order they were armed.
   Each watcher knows its index, so stopping one removes it at once: no dead
   entries, no sweeps, no tuple per watcher (timer churn benchmark: lazy
   deletion's sweeps cost 1.1 us per timer there).

   Invariants (checked by DeadlineHeap.verify):
     D1. nodes[0..len) satisfy the heap property on (at, seq).
     D2. nodes[i].w->hindex == i, and nodes[i].at == nodes[i].w->at.
     D3. The heap holds one reference to each watcher in it; a watcher is
         in a heap iff it is active (its hindex is then >= 0). The one
         exception is inside the iteration: an expired Periodic is out of
         its heap while Periodic._fired decides whether it is armed again
         or stops.
   (HeapNode and DeadlineHeapObject are in core.h: the iteration and
   Timer.start/stop read them.) */

static inline int
node_before(const HeapNode *a, const HeapNode *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static inline void
node_place(DeadlineHeapObject *h, Py_ssize_t i, HeapNode n)
{
    h->nodes[i] = n;
    n.w->hindex = i;
}

static void
sift_up(DeadlineHeapObject *h, Py_ssize_t i)
{
    HeapNode n = h->nodes[i];
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
sift_down(DeadlineHeapObject *h, Py_ssize_t i)
{
    HeapNode n = h->nodes[i];
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
heap_push(DeadlineHeapObject *h, DeadlineObject *w, double at)
{
    if (w->hindex >= 0) {
        PyErr_SetString(PyExc_SystemError, "watcher is already in a deadline heap (D3)");
        return -1;
    }
    if (h->len == h->cap) {
        Py_ssize_t cap = h->cap ? 2 * h->cap : 64;
        HeapNode *nodes = PyMem_Realloc(h->nodes, (size_t)cap * sizeof(HeapNode));
        if (nodes == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        h->nodes = nodes;
        h->cap = cap;
    }
    w->at = at;
    HeapNode n = {at, ++h->seq, (DeadlineObject *)Py_NewRef((PyObject *)w)};
    h->nodes[h->len++] = n;
    sift_up(h, h->len - 1);
    return 0;
}

/* Take out the node at i; returns the heap's reference to its watcher,
   which the caller owns. */
DeadlineObject *
heap_remove_at(DeadlineHeapObject *h, Py_ssize_t i)
{
    DeadlineObject *w = h->nodes[i].w;
    w->hindex = -1;
    HeapNode last = h->nodes[--h->len];
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
heap_rearm(DeadlineHeapObject *h, DeadlineObject *w, double at)
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

/* Take w out of the heap (it must be held: see heap_holds); returns the
   heap's reference to it, which the caller owns. */
DeadlineObject *
heap_remove(DeadlineHeapObject *h, DeadlineObject *w)
{
    return heap_remove_at(h, w->hindex);
}

DeadlineHeapObject *
checked_heap(PyObject *heap, const char *field)
{
    if (!PyObject_TypeCheck(heap, &DeadlineHeap_Type)) {
        PyErr_Format(PyExc_SystemError, "Loop.%s is not a DeadlineHeap", field);
        return NULL;
    }
    return (DeadlineHeapObject *)heap;
}

/* 1 if w is in the heap, 0 if not; -1 with an error if w has no deadline. */
int
heap_holds(DeadlineHeapObject *h, PyObject *w)
{
    if (!PyObject_TypeCheck(w, &DeadlineBase_Type)) {
        PyErr_Format(PyExc_TypeError, "expected a Timer or a Periodic, got %.100s", Py_TYPE(w)->tp_name);
        return -1;
    }
    Py_ssize_t i = ((DeadlineObject *)w)->hindex;
    return i >= 0 && i < h->len && h->nodes[i].w == (DeadlineObject *)w;
}

static PyObject *
heap_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    return type->tp_alloc(type, 0);
}

static int
heap_traverse(DeadlineHeapObject *h, visitproc visit, void *arg)
{
    for (Py_ssize_t i = 0; i < h->len; i++)
        Py_VISIT((PyObject *)h->nodes[i].w);
    return 0;
}

static int
heap_clear(DeadlineHeapObject *h)
{
    while (h->len) {
        DeadlineObject *w = h->nodes[--h->len].w;
        w->hindex = -1;
        Py_DECREF(w);
    }
    return 0;
}

static void
heap_dealloc(DeadlineHeapObject *h)
{
    PyObject_GC_UnTrack(h);
    heap_clear(h);
    PyMem_Free(h->nodes);
    Py_TYPE(h)->tp_free((PyObject *)h);
}

static Py_ssize_t
heap_len(DeadlineHeapObject *h)
{
    return h->len;
}

static PyObject *
heap_arm(DeadlineHeapObject *h, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2)
        return PyErr_Format(PyExc_TypeError, "arm(watcher, deadline)");
    /* The deadline first: its __float__ may run Python code that starts
       or stops this very watcher, so where it goes is decided after. */
    double at = PyFloat_AsDouble(args[1]);
    if (at == -1.0 && PyErr_Occurred())
        return NULL;
    int held = heap_holds(h, args[0]);
    if (held < 0)
        return NULL;
    if (held)
        heap_rearm(h, (DeadlineObject *)args[0], at);
    else if (heap_push(h, (DeadlineObject *)args[0], at) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
heap_disarm(DeadlineHeapObject *h, PyObject *w)
{
    int held = heap_holds(h, w);
    if (held < 0)
        return NULL;
    if (held)
        Py_DECREF(heap_remove(h, (DeadlineObject *)w));
    Py_RETURN_NONE;
}

static PyObject *
heap_next_deadline(DeadlineHeapObject *h, PyObject *unused)
{
    if (!h->len)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(h->nodes[0].at);
}

/* Appending runs no Python code: the heap cannot change under the loop
   (a list sized first could, on 3.11: its allocation may collect). */
static PyObject *
heap_live(DeadlineHeapObject *h, PyObject *unused)
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
heap_shift(DeadlineHeapObject *h, PyObject *arg)
{
    double delta = PyFloat_AsDouble(arg);
    if (delta == -1.0 && PyErr_Occurred())
        return NULL;
    for (Py_ssize_t i = 0; i < h->len; i++)
        h->nodes[i].w->at = h->nodes[i].at += delta;
    /* rounding can make deadlines 1 ulp apart equal: restore D1 */
    for (Py_ssize_t i = h->len / 2 - 1; i >= 0; i--)
        sift_down(h, i);
    Py_RETURN_NONE;
}

static PyObject *
heap_verify(DeadlineHeapObject *h, PyObject *unused)
{
    for (Py_ssize_t i = 0; i < h->len; i++) {
        HeapNode *n = &h->nodes[i];
        if (i > 0 && node_before(n, &h->nodes[(i - 1) / 2]))
            return PyErr_Format(PyExc_AssertionError, "deadline heap order broken at index %zd (D1)", i);
        if (n->w->hindex != i || n->w->at != n->at)
            return PyErr_Format(PyExc_AssertionError, "watcher at heap index %zd believes it is at %zd (D2)",
                                i, n->w->hindex);
        if (!n->w->base.active)
            return PyErr_Format(PyExc_AssertionError, "inactive watcher in the heap at %zd (D3)", i);
    }
    Py_RETURN_NONE;
}

static PySequenceMethods heap_as_sequence = {.sq_length = (lenfunc)heap_len};

static PyMethodDef heap_methods[] = {
    {"arm", (PyCFunction)(void (*)(void))heap_arm, METH_FASTCALL,
     "arm(watcher, deadline): put watcher in the heap at deadline, or move it there."},
    {"disarm", (PyCFunction)heap_disarm, METH_O, "disarm(watcher): take watcher out, if it is in."},
    {"next_deadline", (PyCFunction)heap_next_deadline, METH_NOARGS, "The earliest deadline, or None."},
    {"live", (PyCFunction)heap_live, METH_NOARGS, "The watchers in the heap, in no particular order."},
    {"shift", (PyCFunction)heap_shift, METH_O, "shift(delta): move every deadline by delta seconds."},
    {"verify", (PyCFunction)heap_verify, METH_NOARGS, "Check D1-D3; raise AssertionError if broken."},
    {NULL},
};

PyTypeObject DeadlineHeap_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyev._core.DeadlineHeap",
    .tp_basicsize = sizeof(DeadlineHeapObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The armed Timers, or the armed Periodics, of one loop: earliest deadline first.",
    .tp_new = heap_new,
    .tp_traverse = (traverseproc)heap_traverse,
    .tp_clear = (inquiry)heap_clear,
    .tp_dealloc = (destructor)heap_dealloc,
    .tp_as_sequence = &heap_as_sequence,
    .tp_methods = heap_methods,
};
