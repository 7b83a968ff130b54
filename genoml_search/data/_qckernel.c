/* Genotype call counts for QC, one pass over a variant-major block of int8 calls.
 *
 * genoml_search/data/qc.py documents the counts (dosage 0, 1, 2, missing per variant; missing calls per
 * sample) and keeps a numpy path that gives the same numbers; this file only makes the one pass fast. The
 * calls are read as bytes: 0, 1, 2 and 129 (the int8 missing code -127).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define MISSING_BYTE 129

#define COUNT_BODY                                                                               \
    for (Py_ssize_t v = 0; v < n_variants; v++) {                                                \
        const uint8_t *restrict call = calls + v * n_samples;                                    \
        uint32_t ones = 0, twos = 0, missing = 0;                                                \
        for (Py_ssize_t s = 0; s < n_samples; s++) {                                             \
            ones += call[s] == 1;                                                                \
            twos += call[s] == 2;                                                                \
            missing += call[s] == MISSING_BYTE;                                                  \
        }                                                                                        \
        counts[4 * v] = n_samples - ones - twos - missing;                                       \
        counts[4 * v + 1] = ones;                                                                \
        counts[4 * v + 2] = twos;                                                                \
        counts[4 * v + 3] = missing;                                                             \
        if (sample_missing)                                                                      \
            for (Py_ssize_t s = 0; s < n_samples; s++) sample_missing[s] += call[s] == MISSING_BYTE; \
    }

#define COUNT_ARGS                                                                               \
    const uint8_t *restrict calls, Py_ssize_t n_variants, Py_ssize_t n_samples, int64_t *restrict counts, \
        int32_t *restrict sample_missing

typedef void (*CountFn)(COUNT_ARGS);

static void count_default(COUNT_ARGS) { COUNT_BODY }

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
/* One build runs everywhere: wider vectors where the CPU has them. */
__attribute__((target("avx2"))) static void count_avx2(COUNT_ARGS) { COUNT_BODY }

static CountFn choose_count(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? count_avx2 : count_default;
}
#else
static CountFn choose_count(void) { return count_default; }
#endif

static CountFn count_fn = count_default;

PyDoc_STRVAR(count_calls_doc,
"count_calls(calls, n_samples, counts, sample_missing)\n"
"\n"
"Count the calls of a variant-major uint8 block (n_variants x n_samples, C-contiguous): ``counts``\n"
"(int64, n_variants x 4, written) gets dosage 0, 1, 2 and missing per variant; ``sample_missing`` (int32,\n"
"n_samples, or None) is incremented by each sample's missing calls. Sample counts must stay below 2^32.");

static PyObject *count_calls(PyObject *self, PyObject *args) {
    PyObject *ocalls, *ocounts, *omissing;
    Py_ssize_t n_samples;
    if (!PyArg_ParseTuple(args, "OnOO", &ocalls, &n_samples, &ocounts, &omissing)) return NULL;
    if (n_samples <= 0 || n_samples >= ((Py_ssize_t)1 << 31)) {
        PyErr_SetString(PyExc_ValueError, "n_samples must be in [1, 2^31)");
        return NULL;
    }
    Py_buffer calls = {0}, counts = {0}, missing = {0};
    PyObject *result = NULL;
    if (PyObject_GetBuffer(ocalls, &calls, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    Py_ssize_t n_variants = calls.len / n_samples;
    if (calls.itemsize != 1 || calls.len != n_variants * n_samples) {
        PyErr_SetString(PyExc_ValueError, "calls: expected n_variants x n_samples bytes");
        goto done;
    }
    if (PyObject_GetBuffer(ocounts, &counts, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) goto done;
    if (counts.itemsize != 8 || counts.len < 4 * 8 * n_variants) {
        PyErr_SetString(PyExc_ValueError, "counts: expected int64, n_variants x 4");
        goto done;
    }
    if (omissing != Py_None) {
        if (PyObject_GetBuffer(omissing, &missing, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) goto done;
        if (missing.itemsize != 4 || missing.len < 4 * n_samples) {
            PyErr_SetString(PyExc_ValueError, "sample_missing: expected int32, n_samples");
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    count_fn(calls.buf, n_variants, n_samples, counts.buf, omissing != Py_None ? missing.buf : NULL);
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    if (calls.obj) PyBuffer_Release(&calls);
    if (counts.obj) PyBuffer_Release(&counts);
    if (missing.obj) PyBuffer_Release(&missing);
    return result;
}

static PyMethodDef methods[] = {
    {"count_calls", count_calls, METH_VARARGS, count_calls_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_qckernel", "Compiled genotype call counts (see genoml_search/data/qc.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__qckernel(void) {
    count_fn = choose_count();
    return PyModule_Create(&module);
}
