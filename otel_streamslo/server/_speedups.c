/* The server middleware's per-body-message hot path in C (optional; otel_streamslo.server.hotpath
 * falls back to the pure-Python path when this module is not built).
 *
 * Counters: the base of ServedResponse, holding the three fields the hot path reads and writes.
 * SendHook: the `send` an app gets. A data message of a response already streaming (`hot`), with
 *   `more_body` True and a non-empty `bytes` body (SSE: not a comment, no `event:` field) is counted
 *   here and handed to the server's send; every other message goes to the Python full path.
 *   On ASGI spec 2.4 (`failed` set) the result is wrapped in a CheckedSend.
 * CheckedSend: awaits the server's send; if that raises OSError (spec 2.4: the client is gone) it
 *   restores the chunk count taken before the message, awaits `failed()`, and re-raises the OSError.
 *   It is a collections.abc.Coroutine (send/throw/close/__await__), delegating all four.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

static PyObject *str_more_body, *str_body, *str_throw, *str_close;

/* ---------------------------------------------------------------- Counters */

typedef struct {
    PyObject_HEAD
    Py_ssize_t chunks;
    char hot;
    char sse;
} Counters;

static PyMemberDef counters_members[] = {
    {"chunks", T_PYSSIZET, offsetof(Counters, chunks), 0, "Data messages delivered."},
    {"hot", T_BOOL, offsetof(Counters, hot), 0, "The hot path may count (streaming, first data seen, not ended)."},
    {"sse", T_BOOL, offsetof(Counters, sse), 0, "The response is text/event-stream."},
    {NULL}
};

static PyTypeObject CountersType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "otel_streamslo.server._speedups.Counters",
    .tp_basicsize = sizeof(Counters),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The fields of a served response that the C hot path reads and writes.",
    .tp_members = counters_members,
    .tp_new = PyType_GenericNew,
};

/* ---------------------------------------------------------------- CheckedSend */

enum { CS_INNER = 0, CS_HANDLER = 1, CS_DONE = 2 };

typedef struct {
    PyObject_HEAD
    PyObject *awaitable;  /* the server's send(message) result, until its iterator is taken */
    PyObject *it;         /* the iterator being delegated to */
    PyObject *failed;     /* callable -> awaitable, run when the inner send raises OSError */
    Counters *resp;
    Py_ssize_t counted;
    PyObject *saved;      /* the OSError, re-raised once the handler finished */
    PyObject *pending;    /* an exception raised by the send call itself, raised at the first step */
    int phase;
} CheckedSend;

static PyTypeObject CheckedSendType;

static PyObject *
await_iter(PyObject *aw)
{
    if (PyCoro_CheckExact(aw)) {
        Py_INCREF(aw);
        return aw;
    }
    PyTypeObject *t = Py_TYPE(aw);
    if (t->tp_as_async != NULL && t->tp_as_async->am_await != NULL) {
        PyObject *it = t->tp_as_async->am_await(aw);
        if (it != NULL && !PyIter_Check(it)) {
            PyErr_Format(PyExc_TypeError, "__await__() returned non-iterator of type '%.100s'",
                         Py_TYPE(it)->tp_name);
            Py_CLEAR(it);
        }
        return it;
    }
    if (PyGen_CheckExact(aw)) { /* a @types.coroutine generator */
        Py_INCREF(aw);
        return aw;
    }
    PyErr_Format(PyExc_TypeError, "object %.100s can't be used in 'await' expression", t->tp_name);
    return NULL;
}

/* The pending exception, normalized, with its traceback attached (new ref); clears it. */
static PyObject *
take_exception(void)
{
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (tb != NULL && v != NULL) {
        PyException_SetTraceback(v, tb);
    }
    Py_XDECREF(t);
    Py_XDECREF(tb);
    return v;
}

/* Raise `exc` (stolen) again, with its traceback. */
static void
raise_exception(PyObject *exc)
{
    PyObject *type = (PyObject *)Py_TYPE(exc);
    Py_INCREF(type);
    PyErr_Restore(type, exc, PyException_GetTraceback(exc));
}

static void
cs_drop(CheckedSend *self)
{
    Py_CLEAR(self->awaitable);
    Py_CLEAR(self->it);
    Py_CLEAR(self->saved);
    Py_CLEAR(self->pending);
    self->phase = CS_DONE;
}

static int
cs_ensure_iter(CheckedSend *self)
{
    if (self->pending != NULL) { /* raised where an `await send(...)` would have seen it */
        PyObject *exc = self->pending;
        self->pending = NULL;
        raise_exception(exc);
        return -1;
    }
    if (self->it == NULL && self->awaitable != NULL) {
        self->it = await_iter(self->awaitable);
        Py_CLEAR(self->awaitable);
        if (self->it == NULL) {
            return -1;
        }
    }
    return 0;
}

/* Raise StopIteration(value) (steals value). */
static void
set_stop(PyObject *value)
{
    PyObject *exc = PyObject_CallOneArg(PyExc_StopIteration, value);
    Py_DECREF(value);
    if (exc != NULL) {
        PyErr_SetObject(PyExc_StopIteration, exc);
        Py_DECREF(exc);
    }
}

/* Fetch the value of a pending StopIteration into *value (new ref); returns 0 if there is none. */
static int
fetch_stop(PyObject **value)
{
    if (!PyErr_ExceptionMatches(PyExc_StopIteration)) {
        return 0;
    }
    PyObject *v = take_exception();
    PyObject *r = v != NULL ? PyObject_GetAttrString(v, "value") : NULL;
    if (r == NULL) {
        PyErr_Clear();
        r = Py_None;
        Py_INCREF(r);
    }
    Py_XDECREF(v);
    *value = r;
    return 1;
}

static PyObject *cs_advance(CheckedSend *self, PySendResult r, PyObject *result, int as_method);

/* The handler failed (exception pending): raise that, with the saved OSError as its context. */
static PyObject *
cs_handler_failed(CheckedSend *self)
{
    PyObject *exc = take_exception();
    if (exc != NULL && exc != self->saved) {
        Py_INCREF(self->saved);
        PyException_SetContext(exc, self->saved);
    }
    cs_drop(self);
    if (exc != NULL) {
        raise_exception(exc);
    }
    return NULL;
}

/* The inner send raised (exception pending): on OSError switch to the handler, else finish. */
static PyObject *
cs_error(CheckedSend *self, int as_method)
{
    if (self->phase == CS_INNER && PyErr_ExceptionMatches(PyExc_OSError)) {
        Py_CLEAR(self->it);
        self->saved = take_exception();
        self->resp->chunks = self->counted; /* that message never reached the client */
        self->phase = CS_HANDLER;
        PyObject *aw = PyObject_CallNoArgs(self->failed);
        if (aw != NULL) {
            self->it = await_iter(aw);
            Py_DECREF(aw);
        }
        if (self->it == NULL) {
            return cs_handler_failed(self);
        }
        PyObject *result;
        PySendResult r = PyIter_Send(self->it, Py_None, &result);
        return cs_advance(self, r, result, as_method);
    }
    if (self->phase == CS_HANDLER && self->saved != NULL) {
        return cs_handler_failed(self);
    }
    cs_drop(self);
    return NULL;
}

static PyObject *
cs_advance(CheckedSend *self, PySendResult r, PyObject *result, int as_method)
{
    if (r == PYGEN_NEXT) {
        return result;
    }
    if (r == PYGEN_ERROR) {
        return cs_error(self, as_method);
    }
    /* PYGEN_RETURN */
    if (self->phase == CS_HANDLER) {
        Py_DECREF(result);
        PyObject *saved = self->saved;
        self->saved = NULL;
        cs_drop(self);
        raise_exception(saved);
        return NULL;
    }
    cs_drop(self);
    if (result == Py_None && !as_method) {
        Py_DECREF(result);
        return NULL; /* StopIteration(None), the tp_iternext way */
    }
    set_stop(result);
    return NULL;
}

static PyObject *
cs_send_value(CheckedSend *self, PyObject *value, int as_method)
{
    if (self->phase == CS_DONE) {
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited send");
        return NULL;
    }
    if (cs_ensure_iter(self) < 0) {
        return cs_error(self, as_method);
    }
    PyObject *result;
    PySendResult r = PyIter_Send(self->it, value, &result);
    return cs_advance(self, r, result, as_method);
}

static PyObject *
cs_iternext(CheckedSend *self)
{
    return cs_send_value(self, Py_None, 0);
}

static PyObject *
cs_send(CheckedSend *self, PyObject *value)
{
    return cs_send_value(self, value, 1);
}

static PyObject *
cs_throw(CheckedSend *self, PyObject *args)
{
    if (self->phase == CS_DONE || cs_ensure_iter(self) < 0 || self->it == NULL) {
        if (PyErr_Occurred()) {
            return cs_error(self, 1);
        }
        /* Nothing to delegate to: raise what was thrown, as a finished coroutine does. */
        PyObject *typ, *val = NULL, *tb = NULL;
        if (!PyArg_UnpackTuple(args, "throw", 1, 3, &typ, &val, &tb)) {
            return NULL;
        }
        if (PyExceptionInstance_Check(typ)) {
            PyErr_SetObject((PyObject *)Py_TYPE(typ), typ);
        } else {
            PyErr_SetObject(typ, val);
        }
        return NULL;
    }
    PyObject *meth = PyObject_GetAttr(self->it, str_throw);
    if (meth == NULL) {
        return NULL;
    }
    PyObject *result = PyObject_Call(meth, args, NULL);
    Py_DECREF(meth);
    if (result != NULL) {
        return result;
    }
    PyObject *value;
    if (fetch_stop(&value)) {
        return cs_advance(self, PYGEN_RETURN, value, 1);
    }
    return cs_error(self, 1);
}

static PyObject *
cs_close(CheckedSend *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *it = self->it;
    self->it = NULL;
    cs_drop(self);
    if (it != NULL) {
        PyObject *meth = PyObject_GetAttr(it, str_close);
        Py_DECREF(it);
        if (meth == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
                return NULL;
            }
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        PyObject *r = PyObject_CallNoArgs(meth);
        Py_DECREF(meth);
        if (r == NULL) {
            return NULL;
        }
        Py_DECREF(r);
    }
    Py_RETURN_NONE;
}

static PyObject *
cs_await(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

static int
cs_traverse(CheckedSend *self, visitproc visit, void *arg)
{
    Py_VISIT(self->awaitable);
    Py_VISIT(self->it);
    Py_VISIT(self->failed);
    Py_VISIT(self->resp);
    Py_VISIT(self->saved);
    Py_VISIT(self->pending);
    return 0;
}

static int
cs_clear(CheckedSend *self)
{
    Py_CLEAR(self->awaitable);
    Py_CLEAR(self->it);
    Py_CLEAR(self->failed);
    Py_CLEAR(self->resp);
    Py_CLEAR(self->saved);
    Py_CLEAR(self->pending);
    return 0;
}

static void
cs_dealloc(CheckedSend *self)
{
    PyObject_GC_UnTrack(self);
    cs_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef cs_methods[] = {
    {"send", (PyCFunction)cs_send, METH_O, "Send a value into the awaited send."},
    {"throw", (PyCFunction)cs_throw, METH_VARARGS, "Throw an exception into the awaited send."},
    {"close", (PyCFunction)cs_close, METH_NOARGS, "Close the awaited send."},
    {NULL}
};

static PyAsyncMethods cs_async = {
    .am_await = cs_await,
};

static PyTypeObject CheckedSendType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "otel_streamslo.server._speedups.CheckedSend",
    .tp_basicsize = sizeof(CheckedSend),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The server's send, awaited; an OSError from it is a client disconnect (ASGI 2.4).",
    .tp_as_async = &cs_async,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)cs_iternext,
    .tp_methods = cs_methods,
    .tp_traverse = (traverseproc)cs_traverse,
    .tp_clear = (inquiry)cs_clear,
    .tp_dealloc = (destructor)cs_dealloc,
};

/* ---------------------------------------------------------------- SendHook */

typedef struct {
    PyObject_HEAD
    Counters *resp;
    PyObject *send;
    PyObject *full;
    PyObject *failed; /* NULL unless ASGI spec 2.4 */
    vectorcallfunc vectorcall;
} SendHook;

/* An SSE body's `event:` field, searched only when the body holds a "v" (a memchr first). */
static int
has_event_field(const char *s, Py_ssize_t n)
{
    if (memchr(s, 'v', (size_t)n) == NULL) {
        return 0;
    }
    const char *end = s + n;
    const char *p = s;
    while (end - p >= 6) {
        p = memchr(p, 'e', (size_t)(end - p - 5));
        if (p == NULL) {
            return 0;
        }
        if (memcmp(p, "event:", 6) == 0) {
            return 1;
        }
        p++;
    }
    return 0;
}

/* 1 if the message is a data message the hot path counts; 0 otherwise (never raises). */
static int
hot_message(Counters *resp, PyObject *message)
{
    if (!resp->hot || !PyDict_CheckExact(message)) {
        return 0;
    }
    PyObject *more = PyDict_GetItemWithError(message, str_more_body);
    if (more != Py_True) {
        PyErr_Clear();
        return 0;
    }
    PyObject *data = PyDict_GetItemWithError(message, str_body);
    if (data == NULL || !PyBytes_CheckExact(data)) {
        PyErr_Clear();
        return 0;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    if (n == 0) {
        return 0;
    }
    if (resp->sse) {
        const char *s = PyBytes_AS_STRING(data);
        if ((unsigned char)s[0] < (unsigned char)';' || has_event_field(s, n)) {
            return 0;
        }
    }
    return 1;
}

/* Wraps `aw` (stolen), or the pending exception when `aw` is NULL. */
static PyObject *
checked(SendHook *self, PyObject *aw, Py_ssize_t counted)
{
    PyObject *pending = aw == NULL ? take_exception() : NULL;
    CheckedSend *cs = PyObject_GC_New(CheckedSend, &CheckedSendType);
    if (cs == NULL) {
        Py_XDECREF(aw);
        Py_XDECREF(pending);
        return NULL;
    }
    cs->pending = pending;
    cs->awaitable = aw;
    cs->it = NULL;
    Py_INCREF(self->failed);
    cs->failed = self->failed;
    Py_INCREF(self->resp);
    cs->resp = self->resp;
    cs->counted = counted;
    cs->saved = NULL;
    cs->phase = CS_INNER;
    PyObject_GC_Track(cs);
    return (PyObject *)cs;
}

static PyObject *
hook_vectorcall(SendHook *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Counters *resp = self->resp;
    Py_ssize_t counted = resp->chunks;
    PyObject *aw;
    if (PyVectorcall_NARGS(nargsf) == 1 && kwnames == NULL && hot_message(resp, args[0])) {
        resp->chunks = counted + 1;
        aw = PyObject_Vectorcall(self->send, args, 1, NULL);
    } else {
        aw = PyObject_Vectorcall(self->full, args, nargsf, kwnames);
    }
    if (self->failed == NULL) {
        return aw;
    }
    return checked(self, aw, counted);
}

static PyObject *
hook_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"resp", "send", "full", "failed", NULL};
    PyObject *resp, *send, *full, *failed = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!OO|O", kwlist, &CountersType, &resp, &send, &full, &failed)) {
        return NULL;
    }
    SendHook *self = (SendHook *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    Py_INCREF(resp);
    self->resp = (Counters *)resp;
    Py_INCREF(send);
    self->send = send;
    Py_INCREF(full);
    self->full = full;
    if (failed != Py_None) {
        Py_INCREF(failed);
        self->failed = failed;
    } else {
        self->failed = NULL;
    }
    self->vectorcall = (vectorcallfunc)hook_vectorcall;
    return (PyObject *)self;
}

static int
hook_traverse(SendHook *self, visitproc visit, void *arg)
{
    Py_VISIT(self->resp);
    Py_VISIT(self->send);
    Py_VISIT(self->full);
    Py_VISIT(self->failed);
    return 0;
}

static int
hook_clear(SendHook *self)
{
    Py_CLEAR(self->resp);
    Py_CLEAR(self->send);
    Py_CLEAR(self->full);
    Py_CLEAR(self->failed);
    return 0;
}

static void
hook_dealloc(SendHook *self)
{
    PyObject_GC_UnTrack(self);
    hook_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject SendHookType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "otel_streamslo.server._speedups.SendHook",
    .tp_basicsize = sizeof(SendHook),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "SendHook(resp, send, full, failed=None): the send an app gets from the middleware.",
    .tp_vectorcall_offset = offsetof(SendHook, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = hook_new,
    .tp_traverse = (traverseproc)hook_traverse,
    .tp_clear = (inquiry)hook_clear,
    .tp_dealloc = (destructor)hook_dealloc,
};

/* ---------------------------------------------------------------- module */

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "otel_streamslo.server._speedups",
    .m_doc = "The server middleware's per-body-message hot path in C.",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    str_more_body = PyUnicode_InternFromString("more_body");
    str_body = PyUnicode_InternFromString("body");
    str_throw = PyUnicode_InternFromString("throw");
    str_close = PyUnicode_InternFromString("close");
    if (!str_more_body || !str_body || !str_throw || !str_close) {
        return NULL;
    }
    if (PyType_Ready(&CountersType) < 0 || PyType_Ready(&CheckedSendType) < 0 ||
        PyType_Ready(&SendHookType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&speedups_module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&CountersType);
    Py_INCREF(&CheckedSendType);
    Py_INCREF(&SendHookType);
    if (PyModule_AddObject(m, "Counters", (PyObject *)&CountersType) < 0 ||
        PyModule_AddObject(m, "CheckedSend", (PyObject *)&CheckedSendType) < 0 ||
        PyModule_AddObject(m, "SendHook", (PyObject *)&SendHookType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
