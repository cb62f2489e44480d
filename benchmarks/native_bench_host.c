/*
 * native_bench_host.c -- steps per second of a native fmutwin FMU (FMI 2.0 or 3.0) in a C loop.
 *
 * Used by benchmarks/bench_native.py. It dlopens the unzipped FMU's binary, instantiates it,
 * sets ambientTemperature, initialises it and saves its state right after initialisation
 * (get FMU state). A "pass" restores that state (set FMU state), then runs the whole current
 * profile, one communication step of DT seconds per value:
 *
 *     set current  ->  doStep  ->  get batteryVoltage
 *
 * (fmi2SetReal / fmi2DoStep / fmi2GetReal, or fmi3SetFloat64 / fmi3DoStep / fmi3GetFloat64),
 * each call's status checked. Only these step loops are timed, with
 * clock_gettime(CLOCK_MONOTONIC) around each pass; the state restore between passes is not.
 * The state is restored because the profile (US06, mostly discharge: about 1.4 % of the default
 * cell's charge per pass) repeated many times would empty the cell.
 *
 * One untimed warm-up pass comes first; with VOLTAGE_OUT given, its voltages are written there
 * (%.17g, one per line) so that the caller can check them against the twin. Then REPEATS timed
 * repeats of PASSES passes each. Output on stdout, one line per repeat and a summary:
 *
 *     repeat K STEPS SECONDS CPU_SECONDS STEPS_PER_S
 *     median_steps_per_s X
 *     checksum C            (sum of every voltage read, so that nothing is optimised away)
 *
 * SECONDS: the timed step loops of the repeat; CPU_SECONDS: CLOCK_PROCESS_CPUTIME_ID over the
 * whole repeat, state restores included (well below SECONDS: the process waited for a CPU).
 *
 * Build:  gcc -std=c99 -O2 -Wall -Wextra -o native_bench_host native_bench_host.c -ldl
 *
 * Usage:  native_bench_host FMU_DIR VERSION MODEL_ID TOKEN VR_CURRENT VR_AMBIENT VR_VOLTAGE
 *                           PROFILE PASSES REPEATS [VOLTAGE_OUT]
 *
 *   FMU_DIR     the unzipped FMU; loads binaries/linux64/MODEL_ID.so (FMI 2.0) or
 *               binaries/x86_64-linux/MODEL_ID.so (FMI 3.0)
 *   VERSION     2 or 3
 *   MODEL_ID    CoSimulation modelIdentifier
 *   TOKEN       guid (FMI 2.0) or instantiationToken (FMI 3.0)
 *   VR_*        value references of the inputs current and ambientTemperature and of the
 *               output batteryVoltage
 *   PROFILE     a text file with one current [A] per line (positive = discharge); value k is
 *               held over [k*DT, (k+1)*DT]
 *
 * A native FMU needs no environment variables (no Python). Exit status: 0 on success, 1 on a
 * usage or I/O error, 2 if the binary does not load or lacks an FMI function, 3 if an FMI call
 * returns anything but OK (the FMU's log messages go to stderr).
 *
 * Diagnostic mode, the generated step function alone (no FMI, no shell checks): compiled with
 * the FMU's own sources,
 *
 *     gcc -std=c99 -O2 -DBENCH_STEP_FUNCTION -DCASADI_SYMBOL_EXPORT= -I FMU_DIR/sources \
 *         -o step_bench native_bench_host.c FMU_DIR/sources/model.c -lm
 *     step_bench PROFILE PASSES REPEATS [VOLTAGE_OUT]
 *
 * it calls the CasADi step (x, u, p) -> (x_next, y) of model.c with the default parameters and
 * initial state of model_config.h, input current set and output voltage_V read per step, the
 * state reset to the initial one between passes (untimed), as in the FMI mode.
 *
 * The FMI types are declared here as in the FMI 2.0.x / 3.0.x standard headers.
 */

#define _XOPEN_SOURCE 700 /* realpath, clock_gettime */

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

#define DT 1.0
#define AMBIENT_K 298.15
#define MAX_REPEATS 1000

/* ---------------------------------------------------------------- FMI 2.0 types */

typedef void *fmi2Component;
typedef void *fmi2ComponentEnvironment;
typedef void *fmi2FMUstate;
typedef unsigned int fmi2ValueReference;
typedef double fmi2Real;
typedef int fmi2Boolean;
typedef const char *fmi2String;
typedef enum { fmi2OK, fmi2Warning, fmi2Discard, fmi2Error, fmi2Fatal, fmi2Pending } fmi2Status;
typedef enum { fmi2ModelExchange, fmi2CoSimulation } fmi2Type;

typedef void (*fmi2CallbackLogger)(fmi2ComponentEnvironment, fmi2String, fmi2Status, fmi2String, fmi2String, ...);
typedef struct {
    fmi2CallbackLogger logger;
    void *(*allocateMemory)(size_t, size_t);
    void (*freeMemory)(void *);
    void (*stepFinished)(fmi2ComponentEnvironment, fmi2Status);
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
typedef fmi2Status (*fmi2GetFMUstateF)(fmi2Component, fmi2FMUstate *);
typedef fmi2Status (*fmi2SetFMUstateF)(fmi2Component, fmi2FMUstate);
typedef fmi2Status (*fmi2FreeFMUstateF)(fmi2Component, fmi2FMUstate *);

/* ---------------------------------------------------------------- FMI 3.0 types */

typedef void *fmi3Instance;
typedef void *fmi3InstanceEnvironment;
typedef void *fmi3FMUState;
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
typedef fmi3Status (*fmi3GetFMUStateF)(fmi3Instance, fmi3FMUState *);
typedef fmi3Status (*fmi3SetFMUStateF)(fmi3Instance, fmi3FMUState);
typedef fmi3Status (*fmi3FreeFMUStateF)(fmi3Instance, fmi3FMUState *);

/* ---------------------------------------------------------------- helpers */

#ifndef BENCH_STEP_FUNCTION /* FMI only */

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
        fprintf(stderr, "native_bench_host: %s not found in the FMU binary: %s\n", name, dlerror());
        exit(2);
    }
    return f;
}

/* fptr = dlsym(lib, name), exit 2 if missing (memcpy: ISO C has no object-to-function pointer cast) */
#define LOAD(lib, fptr, name)                                                                                        \
    do {                                                                                                             \
        void *sym_ = symbol((lib), (name));                                                                         \
        memcpy(&(fptr), &sym_, sizeof(fptr));                                                                        \
    } while (0)

static void *load_binary(const char *dir, const char *platform, const char *model_id)
{
    char path[PATH_MAX + 64];
    void *lib;
    snprintf(path, sizeof path, "%s/binaries/%s/%s.so", dir, platform, model_id);
    lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "native_bench_host: cannot load %s: %s\n", path, dlerror());
        exit(2);
    }
    return lib;
}

/* Exit 3 unless an FMI call returned OK (a branch per call: part of what a real host does). */
#define CHECK(call, name, t)                                                                                         \
    do {                                                                                                             \
        int status_ = (int)(call);                                                                                   \
        if (status_ != 0) {                                                                                          \
            fprintf(stderr, "native_bench_host: %s returned %s (%d) at t = %.17g\n", (name),                        \
                    status_name(status_), status_, (double)(t));                                                     \
            exit(3);                                                                                                 \
        }                                                                                                            \
    } while (0)

#endif /* FMI only */

static unsigned int parse_uint(const char *text, const char *what)
{
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v > UINT32_MAX) {
        fprintf(stderr, "native_bench_host: %s: not a non-negative integer: '%s'\n", what, text);
        exit(1);
    }
    return (unsigned int)v;
}

/* One current per line; returns the count (array malloc'ed into *cur). */
static size_t read_profile(const char *path, double **cur)
{
    FILE *f = fopen(path, "r");
    size_t n = 0, cap = 1024;
    char line[256];
    if (!f) {
        perror(path);
        exit(1);
    }
    *cur = malloc(cap * sizeof **cur);
    while (fgets(line, sizeof line, f)) {
        char *end;
        double v = strtod(line, &end);
        if (end == line)
            continue; /* blank line */
        if (n == cap) {
            cap *= 2;
            *cur = realloc(*cur, cap * sizeof **cur);
        }
        (*cur)[n++] = v;
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "native_bench_host: %s: no values\n", path);
        exit(1);
    }
    return n;
}

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + 1e-9 * (double)(b->tv_nsec - a->tv_nsec);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* What a run needs: the profile, the value references and where results go. */
typedef struct {
    const double *cur;
    size_t n;
    unsigned int vr_current, vr_ambient, vr_voltage;
    unsigned int passes, repeats;
    FILE *voltage_out; /* warm-up pass voltages, or NULL */
    double seconds[MAX_REPEATS];     /* timed step loops of each repeat (CLOCK_MONOTONIC) */
    double cpu_seconds[MAX_REPEATS]; /* CPU time of the process over each repeat, resets included */
    double checksum;
} Run;

/* The untimed warm-up pass (rep -1, voltages to r->voltage_out), then r->repeats timed repeats of
 * r->passes passes: reset(ctx) before each pass (untimed), pass(ctx, r, out) timed; pass returns
 * the sum of the voltages it read and writes each one to `out` when that is not NULL. */
static void measure(Run *r, void *ctx, void (*reset)(void *), double (*pass)(void *, const Run *, FILE *))
{
    double sum = 0.0;
    for (long rep = -1; rep < (long)r->repeats; rep++) {
        unsigned int passes = rep < 0 ? 1 : r->passes;
        double elapsed = 0.0;
        struct timespec c0, c1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        for (unsigned int p = 0; p < passes; p++) {
            struct timespec t0, t1;
            reset(ctx);
            clock_gettime(CLOCK_MONOTONIC, &t0);
            sum += pass(ctx, r, rep < 0 ? r->voltage_out : NULL);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            elapsed += seconds_between(&t0, &t1);
        }
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        if (rep >= 0) {
            r->seconds[rep] = elapsed;
            r->cpu_seconds[rep] = seconds_between(&c0, &c1);
        }
    }
    r->checksum = sum;
}

#ifndef BENCH_STEP_FUNCTION

/* ---------------------------------------------------------------- FMI 2.0 */

typedef struct {
    fmi2Component c;
    fmi2FMUstate start;
    fmi2SetRealF set_real;
    fmi2GetRealF get_real;
    fmi2DoStepF do_step;
    fmi2SetFMUstateF set_state;
} Fmi2;

static void fmi2_reset(void *ctx)
{
    Fmi2 *f = ctx;
    CHECK(f->set_state(f->c, f->start), "fmi2SetFMUstate", 0.0);
}

/* The timed loop: set current, doStep, get batteryVoltage, every call checked. */
static double fmi2_pass(void *ctx, const Run *r, FILE *out)
{
    const Fmi2 *f = ctx;
    const fmi2Component c = f->c;
    const fmi2ValueReference vr_in = r->vr_current, vr_out = r->vr_voltage;
    double sum = 0.0;
    for (size_t k = 0; k < r->n; k++) {
        const double t = (double)k * DT;
        fmi2Real v;
        CHECK(f->set_real(c, &vr_in, 1, &r->cur[k]), "fmi2SetReal", t);
        CHECK(f->do_step(c, t, DT, 1), "fmi2DoStep", t);
        CHECK(f->get_real(c, &vr_out, 1, &v), "fmi2GetReal", t + DT);
        sum += v;
        if (out)
            fprintf(out, "%.17g\n", v);
    }
    return sum;
}

static void run_fmi2(const char *dir, const char *model_id, const char *guid, Run *r)
{
    void *lib = load_binary(dir, "linux64", model_id);
    fmi2InstantiateF instantiate;
    fmi2FreeInstanceF free_instance;
    fmi2SetupExperimentF setup;
    fmi2ComponentF enter_init, exit_init, terminate;
    fmi2GetFMUstateF get_state;
    fmi2FreeFMUstateF free_state;
    fmi2CallbackFunctions callbacks = {fmi2_logger, calloc, free, NULL, NULL};
    const fmi2ValueReference vr_amb = r->vr_ambient;
    const fmi2Real ambient = AMBIENT_K;
    char uri[PATH_MAX + 32];
    Fmi2 f = {0};

    LOAD(lib, instantiate, "fmi2Instantiate");
    LOAD(lib, free_instance, "fmi2FreeInstance");
    LOAD(lib, setup, "fmi2SetupExperiment");
    LOAD(lib, enter_init, "fmi2EnterInitializationMode");
    LOAD(lib, exit_init, "fmi2ExitInitializationMode");
    LOAD(lib, terminate, "fmi2Terminate");
    LOAD(lib, f.set_real, "fmi2SetReal");
    LOAD(lib, f.get_real, "fmi2GetReal");
    LOAD(lib, f.do_step, "fmi2DoStep");
    LOAD(lib, get_state, "fmi2GetFMUstate");
    LOAD(lib, f.set_state, "fmi2SetFMUstate");
    LOAD(lib, free_state, "fmi2FreeFMUstate");
    snprintf(uri, sizeof uri, "file://%s/resources", dir);
    f.c = instantiate("bench", fmi2CoSimulation, guid, uri, &callbacks, 0, 0);
    if (!f.c) {
        fprintf(stderr, "native_bench_host: fmi2Instantiate returned NULL\n");
        exit(3);
    }
    CHECK(setup(f.c, 0, 0.0, 0.0, 0, 0.0), "fmi2SetupExperiment", 0.0);
    CHECK(f.set_real(f.c, &vr_amb, 1, &ambient), "fmi2SetReal(ambientTemperature)", 0.0);
    CHECK(enter_init(f.c), "fmi2EnterInitializationMode", 0.0);
    CHECK(exit_init(f.c), "fmi2ExitInitializationMode", 0.0);
    CHECK(get_state(f.c, &f.start), "fmi2GetFMUstate", 0.0);

    measure(r, &f, fmi2_reset, fmi2_pass);

    CHECK(free_state(f.c, &f.start), "fmi2FreeFMUstate", 0.0);
    CHECK(terminate(f.c), "fmi2Terminate", 0.0);
    free_instance(f.c);
    dlclose(lib);
}

/* ---------------------------------------------------------------- FMI 3.0 */

typedef struct {
    fmi3Instance c;
    fmi3FMUState start;
    fmi3SetFloat64F set_f64;
    fmi3GetFloat64F get_f64;
    fmi3DoStepF do_step;
    fmi3SetFMUStateF set_state;
} Fmi3;

static void fmi3_reset(void *ctx)
{
    Fmi3 *f = ctx;
    CHECK(f->set_state(f->c, f->start), "fmi3SetFMUState", 0.0);
}

static double fmi3_pass(void *ctx, const Run *r, FILE *out)
{
    const Fmi3 *f = ctx;
    const fmi3Instance c = f->c;
    const fmi3ValueReference vr_in = r->vr_current, vr_out = r->vr_voltage;
    double sum = 0.0;
    for (size_t k = 0; k < r->n; k++) {
        const double t = (double)k * DT;
        fmi3Float64 v, last;
        fmi3Boolean event, stop, early;
        CHECK(f->set_f64(c, &vr_in, 1, &r->cur[k], 1), "fmi3SetFloat64", t);
        CHECK(f->do_step(c, t, DT, true, &event, &stop, &early, &last), "fmi3DoStep", t);
        if (stop || early) {
            fprintf(stderr, "native_bench_host: fmi3DoStep at t = %.17g: terminateSimulation = %d, "
                            "earlyReturn = %d\n", t, (int)stop, (int)early);
            exit(3);
        }
        CHECK(f->get_f64(c, &vr_out, 1, &v, 1), "fmi3GetFloat64", t + DT);
        sum += v;
        if (out)
            fprintf(out, "%.17g\n", v);
    }
    return sum;
}

static void run_fmi3(const char *dir, const char *model_id, const char *token, Run *r)
{
    void *lib = load_binary(dir, "x86_64-linux", model_id);
    fmi3InstantiateCoSimulationF instantiate;
    fmi3FreeInstanceF free_instance;
    fmi3EnterInitializationModeF enter_init;
    fmi3InstanceF exit_init, terminate;
    fmi3GetFMUStateF get_state;
    fmi3FreeFMUStateF free_state;
    const fmi3ValueReference vr_amb = r->vr_ambient;
    const fmi3Float64 ambient = AMBIENT_K;
    char resources[PATH_MAX + 32];
    Fmi3 f = {0};

    LOAD(lib, instantiate, "fmi3InstantiateCoSimulation");
    LOAD(lib, free_instance, "fmi3FreeInstance");
    LOAD(lib, enter_init, "fmi3EnterInitializationMode");
    LOAD(lib, exit_init, "fmi3ExitInitializationMode");
    LOAD(lib, terminate, "fmi3Terminate");
    LOAD(lib, f.set_f64, "fmi3SetFloat64");
    LOAD(lib, f.get_f64, "fmi3GetFloat64");
    LOAD(lib, f.do_step, "fmi3DoStep");
    LOAD(lib, get_state, "fmi3GetFMUState");
    LOAD(lib, f.set_state, "fmi3SetFMUState");
    LOAD(lib, free_state, "fmi3FreeFMUState");
    snprintf(resources, sizeof resources, "%s/resources/", dir);
    f.c = instantiate("bench", token, resources, false, false, false, false, NULL, 0, NULL, fmi3_logger, NULL);
    if (!f.c) {
        fprintf(stderr, "native_bench_host: fmi3InstantiateCoSimulation returned NULL\n");
        exit(3);
    }
    CHECK(f.set_f64(f.c, &vr_amb, 1, &ambient, 1), "fmi3SetFloat64(ambientTemperature)", 0.0);
    CHECK(enter_init(f.c, false, 0.0, 0.0, false, 0.0), "fmi3EnterInitializationMode", 0.0);
    CHECK(exit_init(f.c), "fmi3ExitInitializationMode", 0.0);
    CHECK(get_state(f.c, &f.start), "fmi3GetFMUState", 0.0);

    measure(r, &f, fmi3_reset, fmi3_pass);

    CHECK(free_state(f.c, &f.start), "fmi3FreeFMUState", 0.0);
    CHECK(terminate(f.c), "fmi3Terminate", 0.0);
    free_instance(f.c);
    dlclose(lib);
}

#else /* BENCH_STEP_FUNCTION: the generated step alone, linked with the FMU's model.c */

#include "model_config.h"

typedef struct {
    double x[NX], x0[NX], u[NU], y[NY], p[NP];
    const casadi_real **arg;
    casadi_real **res;
    casadi_int *iw;
    casadi_real *w;
    int y_voltage;
} Step;

static void step_reset(void *ctx)
{
    Step *s = ctx;
    memcpy(s->x, s->x0, sizeof s->x);
}

static double step_pass(void *ctx, const Run *r, FILE *out)
{
    Step *s = ctx;
    double x_next[NX], sum = 0.0;
    s->arg[0] = s->x; s->arg[1] = s->u; s->arg[2] = s->p;
    s->res[0] = x_next; s->res[1] = s->y;
    for (size_t k = 0; k < r->n; k++) {
        s->u[U_LIMITED] = r->cur[k];
        if (STEP_FUNCTION(s->arg, s->res, s->iw, s->w, 0) != 0) {
            fprintf(stderr, "step_bench: the step function failed at step %zu\n", k);
            exit(3);
        }
        memcpy(s->x, x_next, sizeof x_next);
        sum += s->y[s->y_voltage];
        if (out)
            fprintf(out, "%.17g\n", s->y[s->y_voltage]);
    }
    return sum;
}

static void run_step_function(Run *r)
{
    static Step s;
    casadi_int sz_arg, sz_res, sz_iw, sz_w;
    STEP_WORK(&sz_arg, &sz_res, &sz_iw, &sz_w); /* buffer sizes, allocated as the shell does */
    s.arg = calloc((size_t)sz_arg + 1, sizeof(casadi_real *));
    s.res = calloc((size_t)sz_res + 1, sizeof(casadi_real *));
    s.iw = calloc((size_t)sz_iw + 1, sizeof(casadi_int));
    s.w = calloc((size_t)sz_w + 1, sizeof(casadi_real));
    memcpy(s.p, P_DEFAULT, sizeof s.p);
    memcpy(s.x0, X0_DEFAULT, sizeof s.x0); /* time state 0, as after initialisation at t = 0 */
    memcpy(s.u, U_START, sizeof s.u);      /* ambient temperature at its start value */
    s.u[U_DT] = DT;
    s.y_voltage = -1;
    for (int i = 0; i < NY; i++)
        if (strcmp(Y_NAMES[i], "voltage_V") == 0)
            s.y_voltage = i;
    if (s.y_voltage < 0) {
        fprintf(stderr, "step_bench: no output voltage_V\n");
        exit(1);
    }
    measure(r, &s, step_reset, step_pass);
    free(s.arg);
    free(s.res);
    free(s.iw);
    free(s.w);
}

#endif /* BENCH_STEP_FUNCTION */

/* ---------------------------------------------------------------- main */

static void report(const Run *r)
{
    double sorted[MAX_REPEATS], steps_per_repeat = (double)r->n * (double)r->passes, median;
    for (unsigned int k = 0; k < r->repeats; k++) {
        printf("repeat %u %.0f %.9f %.9f %.1f\n", k + 1, steps_per_repeat, r->seconds[k], r->cpu_seconds[k],
               steps_per_repeat / r->seconds[k]);
        sorted[k] = r->seconds[k];
    }
    qsort(sorted, r->repeats, sizeof sorted[0], compare_doubles);
    median = r->repeats % 2 ? sorted[r->repeats / 2] : 0.5 * (sorted[r->repeats / 2 - 1] + sorted[r->repeats / 2]);
    printf("median_steps_per_s %.1f\n", steps_per_repeat / median);
    printf("checksum %.17g\n", r->checksum);
}

/* PROFILE PASSES REPEATS [VOLTAGE_OUT], from argv[first] on. */
static void parse_run(Run *r, int argc, char **argv, int first, double **cur)
{
    r->n = read_profile(argv[first], cur);
    r->cur = *cur;
    r->passes = parse_uint(argv[first + 1], "PASSES");
    r->repeats = parse_uint(argv[first + 2], "REPEATS");
    if (r->passes < 1 || r->repeats < 1 || r->repeats > MAX_REPEATS) {
        fprintf(stderr, "native_bench_host: need PASSES >= 1 and 1 <= REPEATS <= %d\n", MAX_REPEATS);
        exit(1);
    }
    if (argc == first + 4) {
        r->voltage_out = fopen(argv[first + 3], "w");
        if (!r->voltage_out) {
            perror(argv[first + 3]);
            exit(1);
        }
    }
}

static void close_voltage_out(Run *r)
{
    if (r->voltage_out && fclose(r->voltage_out) != 0) {
        perror("VOLTAGE_OUT");
        exit(1);
    }
}

#ifndef BENCH_STEP_FUNCTION
int main(int argc, char **argv)
{
    char dir[PATH_MAX];
    double *cur;
    int version;
    static Run r;

    if (argc != 11 && argc != 12) {
        fprintf(stderr, "usage: %s FMU_DIR VERSION(2|3) MODEL_ID TOKEN VR_CURRENT VR_AMBIENT VR_VOLTAGE PROFILE "
                        "PASSES REPEATS [VOLTAGE_OUT]\n", argv[0]);
        return 1;
    }
    if (!realpath(argv[1], dir)) {
        perror(argv[1]);
        return 1;
    }
    version = atoi(argv[2]);
    if (version != 2 && version != 3) {
        fprintf(stderr, "native_bench_host: VERSION must be 2 or 3, got '%s'\n", argv[2]);
        return 1;
    }
    r.vr_current = parse_uint(argv[5], "VR_CURRENT");
    r.vr_ambient = parse_uint(argv[6], "VR_AMBIENT");
    r.vr_voltage = parse_uint(argv[7], "VR_VOLTAGE");
    parse_run(&r, argc, argv, 8, &cur);
    if (version == 2)
        run_fmi2(dir, argv[3], argv[4], &r);
    else
        run_fmi3(dir, argv[3], argv[4], &r);
    close_voltage_out(&r);
    report(&r);
    free(cur);
    return 0;
}
#else
int main(int argc, char **argv)
{
    double *cur;
    static Run r;

    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: %s PROFILE PASSES REPEATS [VOLTAGE_OUT]\n", argv[0]);
        return 1;
    }
    parse_run(&r, argc, argv, 1, &cur);
    run_step_function(&r);
    close_voltage_out(&r);
    report(&r);
    free(cur);
    return 0;
}
#endif
