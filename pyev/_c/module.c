/* The module pyev._core: the names the C core looks up in Python, interned
 * once; the objects it caches; the field accessors every type shares; and
 * PyInit__core, which readies the types and exports them.
 */
#include "core.h"

PyObject *str_fork, *str_rebuild_after_fork, *str_flush_fd_changes, *str_read_wall_clock, *str_kill_fd;
PyObject *str_poll, *str_armed, *str_take, *str_notify, *str_start_general, *str_checked_args, *str_fired;
PyObject *obj_timer, *obj_periodic, *obj_idle, *obj_prepare, *obj_check, *obj_fork;

/* -- object fields -------------------------------------------------------- */

PyObject *
field_get(PyObject *self, void *closure)
{
    PyObject *v = *(PyObject **)((char *)self + (Py_ssize_t)closure);
    return Py_NewRef(v != NULL ? v : Py_None);
}

int
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

int
list_field_set(PyObject *self, PyObject *value, void *closure)
{
    if (value != NULL && !PyList_CheckExact(value)) {
        PyErr_Format(PyExc_TypeError, "must be a list, not %.100s", Py_TYPE(value)->tp_name);
        return -1;
    }
    return field_set(self, value, closure);
}

/* -- the module ----------------------------------------------------------- */

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pyev._core",
    .m_doc = "The loop's hot path in C (see pyev/_c/core.h).",
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
    /* on the loop */
    if (intern(&str_fork, "fork") < 0 || intern(&str_rebuild_after_fork, "_rebuild_after_fork") < 0 ||
        intern(&str_flush_fd_changes, "_flush_fd_changes") < 0 ||
        intern(&str_read_wall_clock, "_read_wall_clock") < 0 ||
        intern(&str_kill_fd, "_kill_fd") < 0)
        return NULL;
    /* on the backend, the wake-up and watchers */
    if (intern(&str_poll, "poll") < 0 || intern(&str_armed, "armed") < 0 || intern(&str_take, "take") < 0 ||
        intern(&str_notify, "notify") < 0 || intern(&str_start_general, "_start_general") < 0 ||
        intern(&str_checked_args, "_checked_args") < 0 || intern(&str_fired, "_fired") < 0)
        return NULL;
    if (!(obj_timer = PyLong_FromLong(EV_TIMER)) || !(obj_periodic = PyLong_FromLong(EV_PERIODIC)) || !(obj_idle = PyLong_FromLong(EV_IDLE)) ||
        !(obj_prepare = PyLong_FromLong(EV_PREPARE)) || !(obj_check = PyLong_FromLong(EV_CHECK)) ||
        !(obj_fork = PyLong_FromLong(EV_FORK)))
        return NULL;
    PyTypeObject *types[] = {&WatcherBase_Type, &DeadlineBase_Type, &TimerBase_Type, &PeriodicBase_Type,
                             &IoBase_Type,      &ListedBase_Type,   &AsyncBase_Type, &DeadlineHeap_Type,
                             &FdTableBase_Type, &LoopBase_Type};
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
