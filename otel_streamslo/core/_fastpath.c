/* The per-chunk fast path of the stream proxies: "this chunk is one delivered token" in C.
 *
 * An adapter may declare ``token_shapes`` (see otel_streamslo/core/shapes.py): the shapes of the
 * chunk it reads as exactly one delivered token and nothing else (an OpenAI content delta, an
 * Anthropic text delta). ``TokenReader(shapes, on_chunk)`` is then what the observed loop calls per
 * chunk: a chunk of one of those shapes, on a record whose ``token()`` would only count, is counted
 * here (``rec.tokens += 1``) without a Python frame, reading the chunk's fields from the instance
 * dicts of its objects, so without a type attribute lookup; any other chunk, the first chunk of a
 * stream, a record with content capture on or a token mark due, and any error of this module's
 * own, go to the adapter's ``on_chunk``, which then does everything. The result is the same as
 * ``on_chunk`` alone by construction: a field is read from an instance dict only where attribute
 * access would return the same object (the type's ``__getattribute__`` is object's and the class
 * has no data descriptor of that name: checked once per type and name, the verdict kept).
 *
 * Built at install on CPython 3.10+ (hatch_build.py), like server/_speedups.c; without it, or with
 * OTEL_STREAMSLO_PURE_PYTHON=1, the adapter's ``on_chunk`` is called directly.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <structmember.h>

#define MAX_SHAPES 4
#define MAX_TESTS 4
#define MAX_STEPS 4

enum { CHECK_NONE = 0, CHECK_TEXT = 1, CHECK_EQ = 2 };

typedef struct {
    PyObject *key;           /* field name (str), or NULL: "a list of exactly one item, take it" */
    PyTypeObject *verified;  /* strong ref: last type whose attribute access matches its dict */
} Step;

typedef struct {
    int nsteps;
    Step steps[MAX_STEPS];
    int check;
    PyObject *value; /* CHECK_EQ: the str the field must equal */
} Test;

typedef struct {
    int ntests;
    Test tests[MAX_TESTS];
} Shape;

typedef struct {
    PyObject_HEAD
    int nshapes;
    Shape shapes[MAX_SHAPES];
    PyTypeObject *record_type; /* strong ref */
    Py_ssize_t off_tokens, off_mark, off_capture;
} Shapes;

typedef struct {
    PyObject_HEAD
    Shapes *shapes;
    PyObject *on_chunk;
    int primed; /* the first chunk always goes to on_chunk (response metadata) */
    vectorcallfunc vectorcall;
} TokenReader;

static PyObject *s_getattribute, *object_getattribute;
static PyTypeObject ShapesType, TokenReaderType;

#define SLOT(o, off) (*(PyObject **)((char *)(o) + (off)))

/* ---- Shapes: the compiled token_shapes of one adapter class --------------------------------- */

static Py_ssize_t slot_offset(PyTypeObject *t, const char *name) {
    PyObject *key = PyUnicode_InternFromString(name);
    if (key == NULL) return -1;
    PyObject *d = _PyType_Lookup(t, key);
    Py_DECREF(key);
    if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type)) goto bad;
    PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
    if (m->type != T_OBJECT_EX || (m->flags & READONLY)) goto bad;
    return m->offset;
bad:
    PyErr_Format(PyExc_TypeError, "%s.%s is not a writable __slots__ member", t->tp_name, name);
    return -1;
}

static int compile_test(Test *test, PyObject *spec) {
    PyObject *path, *check, *value = Py_None;
    if (!PyTuple_Check(spec) || !PyArg_ParseTuple(spec, "O!U|O", &PyTuple_Type, &path, &check, &value)) {
        PyErr_SetString(PyExc_TypeError, "a test is (path: tuple, check: str[, value])");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(path);
    if (n < 1 || n > MAX_STEPS) {
        PyErr_Format(PyExc_ValueError, "a path has 1 to %d steps", MAX_STEPS);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *step = PyTuple_GET_ITEM(path, i);
        if (PyUnicode_CheckExact(step)) {
            Py_INCREF(step);
            PyUnicode_InternInPlace(&step);
            test->steps[i].key = step;
        } else if (PyLong_CheckExact(step) && PyLong_AsLong(step) == 0) {
            test->steps[i].key = NULL;
        } else {
            PyErr_SetString(PyExc_ValueError, "a step is a field name (str) or ONLY (0)");
            return -1;
        }
        test->nsteps = (int)i + 1;
    }
    if (PyUnicode_CompareWithASCIIString(check, "none") == 0) {
        test->check = CHECK_NONE;
    } else if (PyUnicode_CompareWithASCIIString(check, "text") == 0) {
        test->check = CHECK_TEXT;
    } else if (PyUnicode_CompareWithASCIIString(check, "eq") == 0 && PyUnicode_CheckExact(value)) {
        test->check = CHECK_EQ;
        Py_INCREF(value);
        test->value = value;
    } else {
        PyErr_SetString(PyExc_ValueError, "a check is 'none', 'text' or ('eq', a str)");
        return -1;
    }
    return 0;
}

static void Shapes_release(Shapes *self) {
    for (int s = 0; s < MAX_SHAPES; s++) {
        for (int t = 0; t < MAX_TESTS; t++) {
            Test *test = &self->shapes[s].tests[t];
            for (int i = 0; i < MAX_STEPS; i++) {
                Py_CLEAR(test->steps[i].key);
                Py_CLEAR(test->steps[i].verified);
            }
            Py_CLEAR(test->value);
        }
    }
    Py_CLEAR(self->record_type);
}

static PyObject *Shapes_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    PyObject *spec;
    PyTypeObject *record_type;
    static char *kwlist[] = {"shapes", "record_type", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O!", kwlist, &PyTuple_Type, &spec, &PyType_Type,
                                     &record_type))
        return NULL;
    Shapes *self = (Shapes *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(spec);
    if (n < 1 || n > MAX_SHAPES) {
        PyErr_Format(PyExc_ValueError, "1 to %d shapes", MAX_SHAPES);
        goto fail;
    }
    for (Py_ssize_t s = 0; s < n; s++) {
        PyObject *shape = PyTuple_GET_ITEM(spec, s);
        Py_ssize_t m = PyTuple_Check(shape) ? PyTuple_GET_SIZE(shape) : 0;
        if (m < 1 || m > MAX_TESTS) {
            PyErr_Format(PyExc_ValueError, "a shape is a tuple of 1 to %d tests", MAX_TESTS);
            goto fail;
        }
        for (Py_ssize_t t = 0; t < m; t++) {
            if (compile_test(&self->shapes[s].tests[t], PyTuple_GET_ITEM(shape, t)) < 0) goto fail;
            self->shapes[s].ntests = (int)t + 1;
        }
        self->nshapes = (int)s + 1;
    }
    if ((self->off_tokens = slot_offset(record_type, "tokens")) < 0) goto fail;
    if ((self->off_mark = slot_offset(record_type, "_token_mark")) < 0) goto fail;
    if ((self->off_capture = slot_offset(record_type, "capture")) < 0) goto fail;
    Py_INCREF(record_type);
    self->record_type = record_type;
    return (PyObject *)self;
fail:
    Py_DECREF(self);
    return NULL;
}

static void Shapes_dealloc(Shapes *self) {
    Shapes_release(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject ShapesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "otel_streamslo.core._fastpath.Shapes",
    .tp_doc = "Shapes(shapes, record_type): token shapes compiled once per adapter class.",
    .tp_basicsize = sizeof(Shapes),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Shapes_new,
    .tp_dealloc = (destructor)Shapes_dealloc,
};

/* ---- matching -------------------------------------------------------------------------------- */

/* 1: attribute access on instances of t returns the instance dict's entry for key; 0: not */
static int plain_field(PyTypeObject *t, PyObject *key) {
    if (_PyType_Lookup(t, s_getattribute) != object_getattribute) return 0;
    PyObject *d = _PyType_Lookup(t, key);
    return d == NULL || Py_TYPE(d)->tp_descr_set == NULL;
}

/* The field ``step->key`` of obj as attribute access would return it (borrowed), or NULL: not
 * a plain field, no instance dict, or no such entry (an error may be set). */
static PyObject *field(Step *step, PyObject *obj) {
    PyTypeObject *t = Py_TYPE(obj);
    if (step->verified != t) {
        if (!plain_field(t, step->key)) return NULL;
        Py_INCREF(t);
        Py_XSETREF(step->verified, t);
    }
    PyObject **dictptr = _PyObject_GetDictPtr(obj);
    if (dictptr == NULL || *dictptr == NULL) return NULL;
    return PyDict_GetItemWithError(*dictptr, step->key);
}

static int test_holds(Test *test, PyObject *obj) {
    for (int i = 0; i < test->nsteps && obj != NULL; i++) {
        Step *step = &test->steps[i];
        if (step->key == NULL) {
            obj = (PyList_CheckExact(obj) && PyList_GET_SIZE(obj) == 1) ? PyList_GET_ITEM(obj, 0) : NULL;
        } else {
            obj = field(step, obj);
        }
    }
    if (obj == NULL) return 0;
    switch (test->check) {
    case CHECK_NONE:
        return obj == Py_None;
    case CHECK_TEXT:
        return PyUnicode_CheckExact(obj) && PyUnicode_GET_LENGTH(obj) > 0;
    default:
        return PyUnicode_CheckExact(obj) && PyUnicode_Compare(obj, test->value) == 0;
    }
}

/* 1: counted here; 0: on_chunk must read it (an error may be set, and is then cleared) */
static int count_token(Shapes *sh, PyObject *rec, PyObject *chunk) {
    if (Py_TYPE(rec) != sh->record_type || SLOT(rec, sh->off_capture) != Py_False) return 0;
    int matched = 0;
    for (int s = 0; s < sh->nshapes && !matched; s++) {
        Shape *shape = &sh->shapes[s];
        matched = 1;
        for (int t = 0; t < shape->ntests && matched; t++) matched = test_holds(&shape->tests[t], chunk);
    }
    if (!matched) return 0;
    PyObject *tokens = SLOT(rec, sh->off_tokens), *mark = SLOT(rec, sh->off_mark);
    if (tokens == NULL || mark == NULL || !PyLong_CheckExact(tokens) || !PyLong_CheckExact(mark)) return 0;
    int overflow = 0;
    long long t = PyLong_AsLongLongAndOverflow(tokens, &overflow);
    if (overflow || (t == -1 && PyErr_Occurred())) return 0;
    long long m = PyLong_AsLongLongAndOverflow(mark, &overflow);
    if (overflow || (m == -1 && PyErr_Occurred()) || t + 1 >= m) return 0; /* bookkeeping due */
    PyObject *next = PyLong_FromLongLong(t + 1);
    if (next == NULL) return 0;
    SLOT(rec, sh->off_tokens) = next;
    Py_DECREF(tokens);
    return 1;
}

/* ---- TokenReader: what the observed loop calls per chunk -------------------------------------- */

static PyObject *TokenReader_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                                        PyObject *kwnames) {
    TokenReader *self = (TokenReader *)callable;
    if (self->primed && PyVectorcall_NARGS(nargsf) == 2 && kwnames == NULL) {
        if (count_token(self->shapes, args[0], args[1])) Py_RETURN_NONE;
        if (PyErr_Occurred()) PyErr_Clear();
    }
    PyObject *res = PyObject_Vectorcall(self->on_chunk, args, nargsf, kwnames);
    self->primed = 1;
    return res;
}

static PyObject *TokenReader_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    Shapes *shapes;
    PyObject *on_chunk;
    static char *kwlist[] = {"shapes", "on_chunk", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O", kwlist, &ShapesType, &shapes, &on_chunk)) return NULL;
    if (!PyCallable_Check(on_chunk)) {
        PyErr_SetString(PyExc_TypeError, "on_chunk must be callable");
        return NULL;
    }
    TokenReader *self = (TokenReader *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    Py_INCREF(shapes);
    Py_INCREF(on_chunk);
    self->shapes = shapes;
    self->on_chunk = on_chunk;
    self->vectorcall = TokenReader_vectorcall;
    return (PyObject *)self;
}

static int TokenReader_traverse(TokenReader *self, visitproc visit, void *arg) {
    Py_VISIT(self->on_chunk);
    return 0;
}

static int TokenReader_clear(TokenReader *self) {
    Py_CLEAR(self->on_chunk);
    return 0;
}

static void TokenReader_dealloc(TokenReader *self) {
    PyObject_GC_UnTrack(self);
    TokenReader_clear(self);
    Py_CLEAR(self->shapes);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *TokenReader_primed(TokenReader *self, void *closure) { return PyBool_FromLong(self->primed); }

static PyGetSetDef TokenReader_getset[] = {
    {"primed", (getter)TokenReader_primed, NULL, "True once on_chunk has read a chunk", NULL},
    {NULL},
};

static PyTypeObject TokenReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "otel_streamslo.core._fastpath.TokenReader",
    .tp_doc = "TokenReader(shapes, on_chunk): called (rec, chunk) per chunk; counts token-shaped "
              "chunks itself, hands every other chunk to on_chunk.",
    .tp_basicsize = sizeof(TokenReader),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(TokenReader, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = TokenReader_new,
    .tp_traverse = (traverseproc)TokenReader_traverse,
    .tp_clear = (inquiry)TokenReader_clear,
    .tp_dealloc = (destructor)TokenReader_dealloc,
    .tp_getset = TokenReader_getset,
};

static struct PyModuleDef fastpath_module = {
    PyModuleDef_HEAD_INIT, "otel_streamslo.core._fastpath",
    "The per-chunk token fast path of the stream proxies (see otel_streamslo.core.shapes).", -1, NULL,
};

PyMODINIT_FUNC PyInit__fastpath(void) {
    if ((s_getattribute = PyUnicode_InternFromString("__getattribute__")) == NULL) return NULL;
    object_getattribute = _PyType_Lookup(&PyBaseObject_Type, s_getattribute);
    if (object_getattribute == NULL) return NULL;
    Py_INCREF(object_getattribute);
    if (PyType_Ready(&ShapesType) < 0 || PyType_Ready(&TokenReaderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&fastpath_module);
    if (m == NULL) return NULL;
    Py_INCREF(&ShapesType);
    Py_INCREF(&TokenReaderType);
    if (PyModule_AddObject(m, "Shapes", (PyObject *)&ShapesType) < 0 ||
        PyModule_AddObject(m, "TokenReader", (PyObject *)&TokenReaderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
