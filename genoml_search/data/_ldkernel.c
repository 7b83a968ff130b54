/* Greedy LD pruning of one sub-contig with plink2's --indep-pairwise rules, on bit-packed genotypes.
 *
 * genoml_search/data/ld.py prepares everything (windows, frequencies, monomorphic variants, packed bit planes,
 * missing-call lists) and documents the rules; this file only runs the greedy passes with r^2 computed on
 * demand, as plink2 does, so that a pair is evaluated at most once and never when one of its variants is
 * already gone. The Python fallback in ld.py computes the same decisions with matrix products.
 *
 * Genotype x (0, 1, 2; missing stored as 0) is b1 + b2 with b1 = (x >= 1), b2 = (x == 2), one bit per founder.
 * A third plane marks missing calls: for a pair (i, j) the sums over the founders called at both are the full
 * sums minus the sums over the other variant's missing calls, all from popcounts of ANDed words.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Sums over the founders of a pair: the dosage dot product, each variant's sum and sum of squares over the
 * other's missing calls (c*1 counts x >= 1, c*2 counts x == 2 there), and the calls missing at both. */
typedef struct {
    int64_t dot, ci1, ci2, cj1, cj2, both;
} PairSums;

#define PAIR_SUMS_BODY                                                                           \
    int64_t dot = 0, ci1 = 0, ci2 = 0, cj1 = 0, cj2 = 0, both = 0;                               \
    for (Py_ssize_t w = 0; w < n_words; w++) {                                                   \
        uint64_t ones = a1[w] & b1[w];                                                           \
        dot += __builtin_popcountll(ones) + __builtin_popcountll(ones & a2[w]) +                 \
               __builtin_popcountll(ones & b2[w]) + __builtin_popcountll(a2[w] & b2[w]);         \
        ci1 += __builtin_popcountll(a1[w] & bm[w]);                                              \
        ci2 += __builtin_popcountll(a2[w] & bm[w]);                                              \
        cj1 += __builtin_popcountll(b1[w] & am[w]);                                              \
        cj2 += __builtin_popcountll(b2[w] & am[w]);                                              \
        both += __builtin_popcountll(am[w] & bm[w]);                                             \
    }                                                                                            \
    PairSums sums = {dot, ci1, ci2, cj1, cj2, both};                                             \
    return sums;

#define PAIR_SUMS_ARGS                                                                           \
    const uint64_t *restrict a1, const uint64_t *restrict a2, const uint64_t *restrict am,       \
        const uint64_t *restrict b1, const uint64_t *restrict b2, const uint64_t *restrict bm,   \
        Py_ssize_t n_words

typedef PairSums (*PairSumsFn)(PAIR_SUMS_ARGS);

static PairSums pair_sums_default(PAIR_SUMS_ARGS) { PAIR_SUMS_BODY }

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
/* One build runs everywhere: the popcount instruction, or AVX-512 vector popcounts, where the CPU has them. */
__attribute__((target("popcnt"))) static PairSums pair_sums_popcnt(PAIR_SUMS_ARGS) { PAIR_SUMS_BODY }

__attribute__((target("avx512f,avx512vpopcntdq,popcnt"))) static PairSums pair_sums_avx512(PAIR_SUMS_ARGS) {
    PAIR_SUMS_BODY
}

static PairSumsFn choose_pair_sums(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("avx512f")) return pair_sums_avx512;
    if (__builtin_cpu_supports("popcnt")) return pair_sums_popcnt;
    return pair_sums_default;
}
#else
static PairSumsFn choose_pair_sums(void) { return pair_sums_default; }
#endif

static PairSumsFn pair_sums = pair_sums_default;

typedef struct {
    const uint64_t *planes; /* per variant: b1, b2, missing, n_words each */
    Py_ssize_t n_words;
    const int64_t *n_missing, *sums, *ssqs;
    int64_t n_founders;
    double thresh;
} PairData;

/* Whether variants i and j are in LD: cov^2 > thresh * var_i * var_j, in the order ld.py documents. */
static int in_ld(const PairData *d, Py_ssize_t i, Py_ssize_t j) {
    const Py_ssize_t nw = d->n_words;
    const uint64_t *a = d->planes + 3 * nw * i, *b = d->planes + 3 * nw * j;
    PairSums p = pair_sums(a, a + nw, a + 2 * nw, b, b + nw, b + 2 * nw, nw);
    int64_t s1 = d->sums[i] - (p.ci1 + p.ci2), q1 = d->ssqs[i] - (p.ci1 + 3 * p.ci2);
    int64_t s2 = d->sums[j] - (p.cj1 + p.cj2), q2 = d->ssqs[j] - (p.cj1 + 3 * p.cj2);
    int64_t nm = d->n_founders - d->n_missing[i] - d->n_missing[j] + p.both;
    double n = (double)nm;
    double cov = (double)p.dot * n - (double)s1 * (double)s2;
    double var1 = (double)q1 * n - (double)s1 * (double)s1;
    double var2 = (double)q2 * n - (double)s2 * (double)s2;
    return cov * cov > d->thresh * var1 * var2;
}

/* The greedy passes of one window [start, end) whose new variants start at new_lo. */
static void prune_window(const PairData *d, Py_ssize_t start, Py_ssize_t new_lo, Py_ssize_t end,
                         const double *major, double limit, uint8_t *removed, int64_t *unchecked) {
    int changed = 1;
    while (changed) {
        changed = 0;
        for (Py_ssize_t first = start; first < end; first++) {
            if (removed[first]) continue;
            Py_ssize_t second = unchecked[first] > new_lo ? unchecked[first] : new_lo;
            for (; second < end; second++) {
                if (!removed[second] && in_ld(d, first, second)) break;
            }
            if (second >= end) {
                unchecked[first] = end;
                continue;
            }
            changed = 1;
            if (major[first] > major[second] * limit) {
                removed[first] = 1;
            } else {
                removed[second] = 1;
                unchecked[first] = second + 1;
            }
        }
    }
}

static int get_buffer(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, Py_ssize_t min_items, int writable,
                      const char *name) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0) return -1;
    if (view->itemsize != itemsize || view->len < min_items * itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: expected at least %zd items of %zd bytes", name, min_items, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(prune_doc,
"prune(planes, n_words, n_missing, sums, ssqs, n_founders, windows, major, removed, thresh, limit)\n"
"\n"
"Run plink2's greedy --indep-pairwise passes over the (start, new_lo, end) rows of ``windows`` (int64),\n"
"marking pruned variants in ``removed`` (uint8, in place; monomorphic variants set beforehand). ``planes``\n"
"(uint64) holds per variant the bit planes x >= 1, x == 2 and missing, of ``n_words`` words each. See ld.py.");

static PyObject *prune(PyObject *self, PyObject *args) {
    PyObject *oplanes, *omiss, *osums, *ossqs, *owin, *omajor, *oremoved;
    Py_ssize_t n_words;
    long long n_founders;
    double thresh, limit;
    if (!PyArg_ParseTuple(args, "OnOOOLOOOdd", &oplanes, &n_words, &omiss, &osums, &ossqs, &n_founders, &owin,
                          &omajor, &oremoved, &thresh, &limit))
        return NULL;
    Py_buffer planes = {0}, miss = {0}, sums = {0}, ssqs = {0}, win = {0}, major = {0}, rem = {0};
    PyObject *result = NULL;
    if (get_buffer(oremoved, &rem, 1, 0, 1, "removed") < 0) return NULL;
    Py_ssize_t n = rem.len;
    if (get_buffer(oplanes, &planes, 8, 3 * n * n_words, 0, "planes") < 0 ||
        get_buffer(omiss, &miss, 8, n, 0, "n_missing") < 0 || get_buffer(osums, &sums, 8, n, 0, "sums") < 0 ||
        get_buffer(ossqs, &ssqs, 8, n, 0, "ssqs") < 0 || get_buffer(owin, &win, 8, 0, 0, "windows") < 0 ||
        get_buffer(omajor, &major, 8, n, 0, "major") < 0)
        goto done;
    const int64_t *w = win.buf;
    Py_ssize_t n_windows = win.len / (3 * 8);
    for (Py_ssize_t k = 0; k < 3 * n_windows; k++) {
        if (w[k] < 0 || w[k] > n) {
            PyErr_SetString(PyExc_ValueError, "window bounds outside the variants");
            goto done;
        }
    }
    int64_t *unchecked = PyMem_RawMalloc((n + 1) * sizeof(int64_t));
    if (!unchecked) {
        PyErr_NoMemory();
        goto done;
    }
    PairData d = {planes.buf, n_words, miss.buf, sums.buf, ssqs.buf, n_founders, thresh};
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t v = 0; v < n; v++) unchecked[v] = v + 1;
    for (Py_ssize_t k = 0; k < n_windows; k++)
        if (w[3 * k + 1] < w[3 * k + 2])
            prune_window(&d, w[3 * k], w[3 * k + 1], w[3 * k + 2], major.buf, limit, rem.buf, unchecked);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(unchecked);
    result = Py_None;
    Py_INCREF(result);
done:;
    Py_buffer *views[] = {&planes, &miss, &sums, &ssqs, &win, &major, &rem};
    for (size_t k = 0; k < sizeof(views) / sizeof(views[0]); k++)
        if (views[k]->obj) PyBuffer_Release(views[k]);
    return result;
}

static PyMethodDef methods[] = {
    {"prune", prune, METH_VARARGS, prune_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_ldkernel", "Compiled greedy LD pruning (see genoml_search/data/ld.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__ldkernel(void) {
    pair_sums = choose_pair_sums();
    return PyModule_Create(&module);
}
