/* Callgrind client requests for the suite's instruction windows (retrace_bench/instructions.py).
 *
 * A Python extension outside Retrace's list of proxied modules: its calls are not recorded, and the
 * waiting it does (stat and nanosleep from C) adds no Python-level call for Retrace to record.
 * Outside Valgrind every client request is a no-op. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sys/stat.h>
#include <time.h>
#include <stdio.h>
#include <valgrind/callgrind.h>
#include <valgrind/valgrind.h>

static PyObject *on_valgrind(PyObject *self, PyObject *unused) {
    return PyLong_FromLong((long)RUNNING_ON_VALGRIND);
}

static PyObject *start(PyObject *self, PyObject *unused) {
    CALLGRIND_START_INSTRUMENTATION;
    Py_RETURN_NONE;
}

/* Callgrind's client requests CALLGRIND_ZERO_STATS and CALLGRIND_DUMP_STATS_AT act on the calling
 * thread only; its monitor commands "zero" and "dump", sent as a client request, act on every
 * thread: Retrace's writer included (one file per thread with --separate-threads=yes). */
static PyObject *zero(PyObject *self, PyObject *unused) {
    VALGRIND_MONITOR_COMMAND("zero");
    Py_RETURN_NONE;
}

static PyObject *dump(PyObject *self, PyObject *args) {
    const char *name;
    char command[256];
    if (!PyArg_ParseTuple(args, "s", &name))
        return NULL;
    snprintf(command, sizeof command, "dump %s", name);
    VALGRIND_MONITOR_COMMAND(command);
    Py_RETURN_NONE;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* wait_quiet(path, quiet_s, poll_s, cap_s) -> (seconds waited, capped): wait, with the GIL released,
 * until the file at `path` has not changed size for `quiet_s` seconds (Retrace's writer has written
 * everything the calls before queued), or `cap_s` seconds have passed. */
static PyObject *wait_quiet(PyObject *self, PyObject *args) {
    const char *path;
    double quiet_s, poll_s, cap_s;
    if (!PyArg_ParseTuple(args, "sddd", &path, &quiet_s, &poll_s, &cap_s))
        return NULL;
    double started, changed, t;
    int capped = 0;
    Py_BEGIN_ALLOW_THREADS
    struct stat st;
    off_t size = -1;
    struct timespec pause = {(time_t)poll_s, (long)((poll_s - (time_t)poll_s) * 1e9)};
    started = changed = now();
    for (;;) {
        off_t current = stat(path, &st) == 0 ? st.st_size : -1;
        t = now();
        if (current != size) {
            size = current;
            changed = t;
        } else if (t - changed >= quiet_s) {
            break;
        }
        if (t - started >= cap_s) {
            capped = 1;
            break;
        }
        nanosleep(&pause, NULL);
    }
    Py_END_ALLOW_THREADS
    return Py_BuildValue("(dO)", t - started, capped ? Py_True : Py_False);
}

static PyMethodDef methods[] = {
    {"on_valgrind", on_valgrind, METH_NOARGS, "Running under Valgrind (0: no)."},
    {"start", start, METH_NOARGS, "Turn Callgrind's instrumentation on."},
    {"zero", zero, METH_NOARGS, "Zero Callgrind's counters (every thread)."},
    {"dump", dump, METH_VARARGS, "Dump Callgrind's counters (every thread) under a name."},
    {"wait_quiet", wait_quiet, METH_VARARGS, "Wait until a file stops growing."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_retrace_bench_callgrind", NULL, -1, methods};

PyMODINIT_FUNC PyInit__retrace_bench_callgrind(void) { return PyModule_Create(&module); }
