/*
 * fmu_host.c -- a minimal, non-Python FMI 2.0 / 3.0 co-simulation host for fmutwin's tests.
 *
 * It shows that fmutwin's Python FMUs run in a plain C process: it dlopens the FMU binary,
 * drives the FMI C API with a current profile and writes the battery voltage and state of
 * charge it reads back. A Python FMU's binary calls into CPython without linking libpython,
 * so this process only loads it with libpython preloaded and PYTHONHOME / PYTHONPATH set
 * (see fmutwin.fmi.host_env.host_environment); otherwise dlopen fails with
 * "undefined symbol: _Py_NoneStruct" and the host exits with status 2.
 *
 * Build:  gcc -std=c99 -O2 -Wall -Wextra -o fmu_host fmu_host.c -ldl
 *
 * Usage:  fmu_host FMU_DIR VERSION MODEL_ID TOKEN VR_CURRENT VR_AMBIENT VR_VOLTAGE VR_SOC IN_CSV OUT_CSV
 *
 *   FMU_DIR     the unzipped FMU (holds modelDescription.xml, binaries/, resources/)
 *   VERSION     2 or 3
 *   MODEL_ID    CoSimulation modelIdentifier: loads binaries/linux64/MODEL_ID.so (FMI 2.0)
 *               or binaries/x86_64-linux/MODEL_ID.so (FMI 3.0)
 *   TOKEN       guid (FMI 2.0) or instantiationToken (FMI 3.0) of modelDescription.xml
 *   VR_*        value references of the inputs current and ambientTemperature and of the
 *               outputs batteryVoltage and stateOfCharge
 *   IN_CSV      rows "time,current" (s, A; a non-numeric header line is skipped);
 *               current[k] is held from time[k] to time[k+1]
 *   OUT_CSV     written: "time,batteryVoltage,stateOfCharge" at time[1:], %.17g
 *
 * ambientTemperature is set to 298.15 K before every step. Exit status: 0 on success, 1 on a
 * usage or I/O error, 2 if the binary does not load or lacks an FMI function, 3 if an FMI call
 * returns anything but OK (the FMU's log messages go to stderr).
 *
 * Process exit: once the FMU binary is loaded the host ends with _exit() (after flushing its
 * files), skipping the exit handlers, because of a bug in the binaries of pythonfmu 0.7.0 and
 * pythonfmu3 0.3.4 (PySlaveInstance.cpp): at exit, the C++ static destructor of their global
 * `std::shared_ptr<PyState> pyState` frees it (its worker thread runs Py_Finalize), and then
 * the library destructor onLibraryUnload() -> finalizePythonInterpreter() assigns nullptr to
 * that destroyed shared_ptr, decrementing the use count inside the freed control block. With
 * scipy imported (as fmutwin's FMUs do) the freed block lies in glibc's unsorted bin, so the
 * decrement corrupts its `bk` pointer and the next free() (libgfortran's destructor) aborts:
 * "free(): corrupted unsorted chunks", SIGABRT, after all results were written. dlclose() does
 * not avoid it (the binary has STB_GNU_UNIQUE symbols, so it stays loaded until exit).
 * Set FMU_HOST_NORMAL_EXIT=1 to return from main normally and see it.
 *
 * The FMI types used are declared here (as in the FMI 2.0.x and 3.0.x standard headers), so
 * no header files are needed.
 */

#define _XOPEN_SOURCE 700 /* realpath */

#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- FMI 2.0 types */

typedef void *fmi2Component;
typedef void *fmi2ComponentEnvironment;
typedef unsigned int fmi2ValueReference;
typedef double fmi2Real;
typedef int fmi2Boolean;
typedef const char *fmi2String;
typedef enum { fmi2OK, fmi2Warning, fmi2Discard, fmi2Error, fmi2Fatal, fmi2Pending } fmi2Status;
typedef enum { fmi2ModelExchange, fmi2CoSimulation } fmi2Type;

typedef void (*fmi2CallbackLogger)(fmi2ComponentEnvironment, fmi2String, fmi2Status, fmi2String, fmi2String, ...);
typedef void *(*fmi2CallbackAllocateMemory)(size_t, size_t);
typedef void (*fmi2CallbackFreeMemory)(void *);
typedef void (*fmi2StepFinished)(fmi2ComponentEnvironment, fmi2Status);

typedef struct {
    fmi2CallbackLogger logger;
    fmi2CallbackAllocateMemory allocateMemory;
    fmi2CallbackFreeMemory freeMemory;
    fmi2StepFinished stepFinished;
    fmi2ComponentEnvironment componentEnvironment;
} fmi2CallbackFunctions;

typedef fmi2Component (*fmi2InstantiateF)(fmi2String, fmi2Type, fmi2String, fmi2String,
                                          const fmi2CallbackFunctions *, fmi2Boolean, fmi2Boolean);
typedef void (*fmi2FreeInstanceF)(fmi2Component);
typedef fmi2Status (*fmi2SetupExperimentF)(fmi2Component, fmi2Boolean, fmi2Real, fmi2Real, fmi2Boolean, fmi2Real);
typedef fmi2Status (*fmi2ComponentF)(fmi2Component); /* enter/exit initialization mode, terminate */
typedef fmi2Status (*fmi2SetRealF)(fmi2Component, const fmi2ValueReference[], size_t, const fmi2Real[]);
typedef fmi2Status (*fmi2GetRealF)(fmi2Component, const fmi2ValueReference[], size_t, fmi2Real[]);
typedef fmi2Status (*fmi2DoStepF)(fmi2Component, fmi2Real, fmi2Real, fmi2Boolean);

/* ---------------------------------------------------------------- FMI 3.0 types */

typedef void *fmi3Instance;
typedef void *fmi3InstanceEnvironment;
typedef uint32_t fmi3ValueReference;
typedef double fmi3Float64;
typedef bool fmi3Boolean;
typedef const char *fmi3String;
typedef enum { fmi3OK, fmi3Warning, fmi3Discard, fmi3Error, fmi3Fatal } fmi3Status;

typedef void (*fmi3LogMessageCallback)(fmi3InstanceEnvironment, fmi3Status, fmi3String, fmi3String);
typedef void (*fmi3IntermediateUpdateCallback)(fmi3InstanceEnvironment, fmi3Float64, fmi3Boolean, fmi3Boolean,
                                               fmi3Boolean, fmi3Boolean, fmi3Boolean *, fmi3Float64 *);

typedef fmi3Instance (*fmi3InstantiateCoSimulationF)(fmi3String, fmi3String, fmi3String, fmi3Boolean, fmi3Boolean,
                                                     fmi3Boolean, fmi3Boolean, const fmi3ValueReference[], size_t,
                                                     fmi3InstanceEnvironment, fmi3LogMessageCallback,
                                                     fmi3IntermediateUpdateCallback);
typedef void (*fmi3FreeInstanceF)(fmi3Instance);
typedef fmi3Status (*fmi3EnterInitializationModeF)(fmi3Instance, fmi3Boolean, fmi3Float64, fmi3Float64, fmi3Boolean,
                                                   fmi3Float64);
typedef fmi3Status (*fmi3InstanceF)(fmi3Instance); /* exit initialization mode, terminate */
typedef fmi3Status (*fmi3SetFloat64F)(fmi3Instance, const fmi3ValueReference[], size_t, const fmi3Float64[], size_t);
typedef fmi3Status (*fmi3GetFloat64F)(fmi3Instance, const fmi3ValueReference[], size_t, fmi3Float64[], size_t);
typedef fmi3Status (*fmi3DoStepF)(fmi3Instance, fmi3Float64, fmi3Float64, fmi3Boolean, fmi3Boolean *, fmi3Boolean *,
                                  fmi3Boolean *, fmi3Float64 *);

/* ---------------------------------------------------------------- helpers */

/* End the process: _exit() unless FMU_HOST_NORMAL_EXIT is set (see the header comment). */
static void finish(int status)
{
    if (getenv("FMU_HOST_NORMAL_EXIT"))
        exit(status);
    fflush(NULL);
    _exit(status);
}

static const char *const STATUS_NAMES[] = {"OK", "Warning", "Discard", "Error", "Fatal", "Pending"};

static const char *status_name(int status)
{
    return (status >= 0 && status <= 5) ? STATUS_NAMES[status] : "unknown";
}

static void fmi2_logger(fmi2ComponentEnvironment env, fmi2String instance, fmi2Status status, fmi2String category,
                        fmi2String message, ...)
{
    va_list args;
    (void)env;
    fprintf(stderr, "[FMU %s] %s %s: ", instance ? instance : "?", status_name((int)status),
            category ? category : "");
    va_start(args, message);
    vfprintf(stderr, message ? message : "", args);
    va_end(args);
    fputc('\n', stderr);
}

static void fmi3_logger(fmi3InstanceEnvironment env, fmi3Status status, fmi3String category, fmi3String message)
{
    (void)env;
    fprintf(stderr, "[FMU] %s %s: %s\n", status_name((int)status), category ? category : "",
            message ? message : "");
}

static void *symbol(void *lib, const char *name)
{
    void *f = dlsym(lib, name);
    if (!f) {
        fprintf(stderr, "fmu_host: %s not found in the FMU binary: %s\n", name, dlerror());
        finish(2);
    }
    return f;
}

/* fptr = dlsym(lib, name), exit 2 if missing (memcpy: ISO C has no object-to-function pointer cast) */
#define LOAD(lib, fptr, name)                                                                                        \
    do {                                                                                                             \
        void *sym_ = symbol((lib), (name));                                                                         \
        memcpy(&(fptr), &sym_, sizeof(fptr));                                                                        \
    } while (0)

/* Exit 3 unless an FMI call returned OK. */
static void check(int status, const char *call, double t)
{
    if (status != 0) {
        fprintf(stderr, "fmu_host: %s returned %s (%d) at t = %.17g\n", call, status_name(status), status, t);
        finish(3);
    }
}

static unsigned int parse_vr(const char *text, const char *what)
{
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v > UINT32_MAX) {
        fprintf(stderr, "fmu_host: %s: not a value reference: '%s'\n", what, text);
        finish(1);
    }
    return (unsigned int)v;
}

/* Reads "time,current" rows; returns the number of rows (arrays malloc'ed into *t, *i). */
static size_t read_profile(const char *path, double **t, double **i)
{
    FILE *f = fopen(path, "r");
    size_t n = 0, cap = 1024;
    char line[512];
    if (!f) {
        perror(path);
        finish(1);
    }
    *t = malloc(cap * sizeof **t);
    *i = malloc(cap * sizeof **i);
    while (fgets(line, sizeof line, f)) {
        char *p = line, *end;
        double tv, iv;
        tv = strtod(p, &end);
        if (end == p) /* header or blank line */
            continue;
        p = end;
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        iv = strtod(p, &end);
        if (end == p) {
            fprintf(stderr, "fmu_host: %s: row %zu has no current\n", path, n + 1);
            finish(1);
        }
        if (n == cap) {
            cap *= 2;
            *t = realloc(*t, cap * sizeof **t);
            *i = realloc(*i, cap * sizeof **i);
        }
        (*t)[n] = tv;
        (*i)[n] = iv;
        n++;
    }
    fclose(f);
    if (n < 2) {
        fprintf(stderr, "fmu_host: %s: need at least two rows, got %zu\n", path, n);
        finish(1);
    }
    return n;
}

static void *load_binary(const char *dir, const char *platform, const char *model_id)
{
    char path[PATH_MAX];
    void *lib;
    snprintf(path, sizeof path, "%s/binaries/%s/%s.so", dir, platform, model_id);
    lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "fmu_host: cannot load %s: %s\n", path, dlerror());
        finish(2);
    }
    return lib;
}

/* ---------------------------------------------------------------- FMI 2.0 run */

static void run_fmi2(const char *dir, const char *model_id, const char *guid, const unsigned int vr[4],
                     const double *t, const double *cur, size_t n, FILE *out)
{
    void *lib = load_binary(dir, "linux64", model_id);
    fmi2InstantiateF instantiate;
    fmi2FreeInstanceF free_instance;
    fmi2SetupExperimentF setup;
    fmi2ComponentF enter_init;
    fmi2ComponentF exit_init;
    fmi2ComponentF terminate;
    fmi2SetRealF set_real;
    fmi2GetRealF get_real;
    fmi2DoStepF do_step;
    fmi2CallbackFunctions callbacks = {fmi2_logger, calloc, free, NULL, NULL};
    const fmi2ValueReference in_vr[2] = {vr[0], vr[1]}, out_vr[2] = {vr[2], vr[3]};
    char uri[PATH_MAX + 32];
    fmi2Component c;
    size_t k;

    LOAD(lib, instantiate, "fmi2Instantiate");
    LOAD(lib, free_instance, "fmi2FreeInstance");
    LOAD(lib, setup, "fmi2SetupExperiment");
    LOAD(lib, enter_init, "fmi2EnterInitializationMode");
    LOAD(lib, exit_init, "fmi2ExitInitializationMode");
    LOAD(lib, terminate, "fmi2Terminate");
    LOAD(lib, set_real, "fmi2SetReal");
    LOAD(lib, get_real, "fmi2GetReal");
    LOAD(lib, do_step, "fmi2DoStep");
    snprintf(uri, sizeof uri, "file://%s/resources", dir); /* dir is absolute (made so in main) */
    c = instantiate("fmu_host", fmi2CoSimulation, guid, uri, &callbacks, 0, 0);
    if (!c) {
        fprintf(stderr, "fmu_host: fmi2Instantiate returned NULL\n");
        finish(3);
    }
    check(setup(c, 0, 0.0, t[0], 1, t[n - 1]), "fmi2SetupExperiment", t[0]);
    check(enter_init(c), "fmi2EnterInitializationMode", t[0]);
    check(exit_init(c), "fmi2ExitInitializationMode", t[0]);
    for (k = 0; k + 1 < n; k++) {
        const fmi2Real in[2] = {cur[k], 298.15};
        fmi2Real y[2];
        check(set_real(c, in_vr, 2, in), "fmi2SetReal", t[k]);
        check(do_step(c, t[k], t[k + 1] - t[k], 1), "fmi2DoStep", t[k]);
        check(get_real(c, out_vr, 2, y), "fmi2GetReal", t[k + 1]);
        fprintf(out, "%.17g,%.17g,%.17g\n", t[k + 1], y[0], y[1]);
    }
    check(terminate(c), "fmi2Terminate", t[n - 1]);
    free_instance(c);
    /* The library is left loaded: its CPython is finalized at process exit. */
}

/* ---------------------------------------------------------------- FMI 3.0 run */

static void run_fmi3(const char *dir, const char *model_id, const char *token, const unsigned int vr[4],
                     const double *t, const double *cur, size_t n, FILE *out)
{
    void *lib = load_binary(dir, "x86_64-linux", model_id);
    fmi3InstantiateCoSimulationF instantiate;
    fmi3FreeInstanceF free_instance;
    fmi3EnterInitializationModeF enter_init;
    fmi3InstanceF exit_init;
    fmi3InstanceF terminate;
    fmi3SetFloat64F set_f64;
    fmi3GetFloat64F get_f64;
    fmi3DoStepF do_step;
    const fmi3ValueReference in_vr[2] = {vr[0], vr[1]}, out_vr[2] = {vr[2], vr[3]};
    char resources[PATH_MAX + 32];
    fmi3Instance c;
    size_t k;

    LOAD(lib, instantiate, "fmi3InstantiateCoSimulation");
    LOAD(lib, free_instance, "fmi3FreeInstance");
    LOAD(lib, enter_init, "fmi3EnterInitializationMode");
    LOAD(lib, exit_init, "fmi3ExitInitializationMode");
    LOAD(lib, terminate, "fmi3Terminate");
    LOAD(lib, set_f64, "fmi3SetFloat64");
    LOAD(lib, get_f64, "fmi3GetFloat64");
    LOAD(lib, do_step, "fmi3DoStep");
    snprintf(resources, sizeof resources, "%s/resources/", dir); /* FMI 3.0: a path, with trailing '/' */
    c = instantiate("fmu_host", token, resources, false, false, false, false, NULL, 0, NULL, fmi3_logger, NULL);
    if (!c) {
        fprintf(stderr, "fmu_host: fmi3InstantiateCoSimulation returned NULL\n");
        finish(3);
    }
    check(enter_init(c, false, 0.0, t[0], true, t[n - 1]), "fmi3EnterInitializationMode", t[0]);
    check(exit_init(c), "fmi3ExitInitializationMode", t[0]);
    for (k = 0; k + 1 < n; k++) {
        const fmi3Float64 in[2] = {cur[k], 298.15};
        fmi3Float64 y[2];
        fmi3Boolean event = false, stop = false, early = false;
        fmi3Float64 last = t[k];
        check(set_f64(c, in_vr, 2, in, 2), "fmi3SetFloat64", t[k]);
        check(do_step(c, t[k], t[k + 1] - t[k], true, &event, &stop, &early, &last), "fmi3DoStep", t[k]);
        if (stop || early) {
            fprintf(stderr, "fmu_host: fmi3DoStep at t = %.17g: terminateSimulation = %d, earlyReturn = %d\n",
                    t[k], (int)stop, (int)early);
            finish(3);
        }
        check(get_f64(c, out_vr, 2, y, 2), "fmi3GetFloat64", t[k + 1]);
        fprintf(out, "%.17g,%.17g,%.17g\n", t[k + 1], y[0], y[1]);
    }
    check(terminate(c), "fmi3Terminate", t[n - 1]);
    free_instance(c);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    char dir[PATH_MAX];
    unsigned int vr[4];
    double *t, *cur;
    size_t n;
    int version;
    FILE *out;
    struct timespec t0, t1;

    if (argc != 11) {
        fprintf(stderr, "usage: %s FMU_DIR VERSION(2|3) MODEL_ID TOKEN VR_CURRENT VR_AMBIENT VR_VOLTAGE VR_SOC "
                        "IN_CSV OUT_CSV\n", argv[0]);
        return 1;
    }
    if (!realpath(argv[1], dir)) {
        perror(argv[1]);
        return 1;
    }
    version = atoi(argv[2]);
    if (version != 2 && version != 3) {
        fprintf(stderr, "fmu_host: VERSION must be 2 or 3, got '%s'\n", argv[2]);
        return 1;
    }
    vr[0] = parse_vr(argv[5], "VR_CURRENT");
    vr[1] = parse_vr(argv[6], "VR_AMBIENT");
    vr[2] = parse_vr(argv[7], "VR_VOLTAGE");
    vr[3] = parse_vr(argv[8], "VR_SOC");
    n = read_profile(argv[9], &t, &cur);
    out = fopen(argv[10], "w");
    if (!out) {
        perror(argv[10]);
        return 1;
    }
    fprintf(out, "time,batteryVoltage,stateOfCharge\n");

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (version == 2)
        run_fmi2(dir, argv[3], argv[4], vr, t, cur, n, out);
    else
        run_fmi3(dir, argv[3], argv[4], vr, t, cur, n, out);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    if (fclose(out) != 0) {
        perror(argv[10]);
        return 1;
    }
    fprintf(stderr, "fmu_host: FMI %d, %zu steps in %.3f s (load, instantiate, steps, terminate)\n", version, n - 1,
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    free(t);
    free(cur);
    finish(0);
    return 0;
}
