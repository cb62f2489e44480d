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
 * Build:  gcc -std=c99 -O2 -Wall -Wextra -I ../tests/fmi/c_host -o native_bench_host native_bench_host.c -ldl
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
 *     gcc -std=c99 -O2 -DBENCH_STEP_FUNCTION -DBENCH_U_CURRENT=0 -DCASADI_SYMBOL_EXPORT= \
 *         -I FMU_DIR/sources -I ../tests/fmi/c_host \
 *         -o step_bench native_bench_host.c FMU_DIR/sources/model.c -lm
 *     step_bench PROFILE PASSES REPEATS [VOLTAGE_OUT]
 *
 * it calls the CasADi step (x, u, p, d) -> (x_next, y) of model.c with the default parameters of
 * model_config.h (the initial state and d = derive(p) computed once before timing, as the shell
 * does at exit of initialisation), the input current (step input BENCH_U_CURRENT) set and the
 * output voltage_V read per step, the state reset to the initial one between passes (untimed),
 * as in the FMI mode.
 *
 * The FMI types (declared as in the FMI 2.0.x / 3.0.x standard headers), the loading of the
 * binary and its functions, instantiation, initialisation and the status checks are in
 * tests/fmi/c_host/fmi_host_common.h, shared with the test host tests/fmi/c_host/fmu_host.c
 * (hence -I ../tests/fmi/c_host, from this folder).
 */

#define _XOPEN_SOURCE 700 /* realpath, clock_gettime */

#define FMI_HOST_NAME "native_bench_host"
#ifdef BENCH_STEP_FUNCTION
#define FMI_HOST_NO_FMI /* the step function alone: no dlopen, no FMI calls */
#endif
#include "fmi_host_common.h" /* FMI types, loading, instantiation, checks (shared with the test host) */

#include <time.h>

#define DT 1.0
#define AMBIENT_K 298.15
#define MAX_REPEATS 1000

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
    Fmi2Api api; /* set_real, get_real, do_step for the timed loop */
    fmi2Component c;
    fmi2FMUstate start;
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
        CHECK(f->api.set_real(c, &vr_in, 1, &r->cur[k]), "fmi2SetReal", t);
        CHECK(f->api.do_step(c, t, DT, 1), "fmi2DoStep", t);
        CHECK(f->api.get_real(c, &vr_out, 1, &v), "fmi2GetReal", t + DT);
        sum += v;
        if (out)
            fprintf(out, "%.17g\n", v);
    }
    return sum;
}

static void run_fmi2(const char *dir, const char *model_id, const char *guid, Run *r)
{
    fmi2GetFMUstateF get_state;
    fmi2FreeFMUstateF free_state;
    const fmi2ValueReference vr_amb = r->vr_ambient;
    const fmi2Real ambient = AMBIENT_K;
    Fmi2 f = {0};

    fmi2_load(&f.api, dir, model_id);
    LOAD(f.api.lib, get_state, "fmi2GetFMUstate");
    LOAD(f.api.lib, f.set_state, "fmi2SetFMUstate");
    LOAD(f.api.lib, free_state, "fmi2FreeFMUstate");
    f.c = fmi2_instantiate(&f.api, "bench", dir, guid);
    CHECK(f.api.setup(f.c, 0, 0.0, 0.0, 0, 0.0), "fmi2SetupExperiment", 0.0);
    CHECK(f.api.set_real(f.c, &vr_amb, 1, &ambient), "fmi2SetReal(ambientTemperature)", 0.0);
    fmi2_initialize(&f.api, f.c, 0.0);
    CHECK(get_state(f.c, &f.start), "fmi2GetFMUstate", 0.0);

    measure(r, &f, fmi2_reset, fmi2_pass);

    CHECK(free_state(f.c, &f.start), "fmi2FreeFMUstate", 0.0);
    CHECK(f.api.terminate(f.c), "fmi2Terminate", 0.0);
    f.api.free_instance(f.c);
    dlclose(f.api.lib);
}

/* ---------------------------------------------------------------- FMI 3.0 */

typedef struct {
    Fmi3Api api; /* set_f64, get_f64, do_step for the timed loop */
    fmi3Instance c;
    fmi3FMUState start;
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
        CHECK(f->api.set_f64(c, &vr_in, 1, &r->cur[k], 1), "fmi3SetFloat64", t);
        CHECK(f->api.do_step(c, t, DT, true, &event, &stop, &early, &last), "fmi3DoStep", t);
        CHECK_FMI3_STEP_END(stop, early, t);
        CHECK(f->api.get_f64(c, &vr_out, 1, &v, 1), "fmi3GetFloat64", t + DT);
        sum += v;
        if (out)
            fprintf(out, "%.17g\n", v);
    }
    return sum;
}

static void run_fmi3(const char *dir, const char *model_id, const char *token, Run *r)
{
    fmi3GetFMUStateF get_state;
    fmi3FreeFMUStateF free_state;
    const fmi3ValueReference vr_amb = r->vr_ambient;
    const fmi3Float64 ambient = AMBIENT_K;
    Fmi3 f = {0};

    fmi3_load(&f.api, dir, model_id);
    LOAD(f.api.lib, get_state, "fmi3GetFMUState");
    LOAD(f.api.lib, f.set_state, "fmi3SetFMUState");
    LOAD(f.api.lib, free_state, "fmi3FreeFMUState");
    f.c = fmi3_instantiate(&f.api, "bench", dir, token);
    CHECK(f.api.set_f64(f.c, &vr_amb, 1, &ambient, 1), "fmi3SetFloat64(ambientTemperature)", 0.0);
    fmi3_initialize(&f.api, f.c, 0.0, false, 0.0);
    CHECK(get_state(f.c, &f.start), "fmi3GetFMUState", 0.0);

    measure(r, &f, fmi3_reset, fmi3_pass);

    CHECK(free_state(f.c, &f.start), "fmi3FreeFMUState", 0.0);
    CHECK(f.api.terminate(f.c), "fmi3Terminate", 0.0);
    f.api.free_instance(f.c);
    dlclose(f.api.lib);
}

#else /* BENCH_STEP_FUNCTION: the generated step alone, linked with the FMU's model.c */

#include "model_config.h"

typedef struct {
    double x[NX], x0[NX], u[NU], y[NY], p[NP], d[ND > 0 ? ND : 1];
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
    s->arg[0] = s->x; s->arg[1] = s->u; s->arg[2] = s->p; s->arg[3] = s->d;
    s->res[0] = x_next; s->res[1] = s->y;
    for (size_t k = 0; k < r->n; k++) {
        s->u[BENCH_U_CURRENT] = r->cur[k];
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
    casadi_int sz_arg, sz_res, sz_iw, sz_w, d_arg, d_res, d_iw, d_w, i_arg, i_res, i_iw, i_w;
    STEP_WORK(&sz_arg, &sz_res, &sz_iw, &sz_w); /* buffer sizes, allocated as the shell does */
    DERIVE_WORK(&d_arg, &d_res, &d_iw, &d_w);
    INIT_WORK(&i_arg, &i_res, &i_iw, &i_w);
    if (d_arg > sz_arg) sz_arg = d_arg;
    if (d_res > sz_res) sz_res = d_res;
    if (d_iw > sz_iw) sz_iw = d_iw;
    if (d_w > sz_w) sz_w = d_w;
    if (i_arg > sz_arg) sz_arg = i_arg;
    if (i_res > sz_res) sz_res = i_res;
    if (i_iw > sz_iw) sz_iw = i_iw;
    if (i_w > sz_w) sz_w = i_w;
    s.arg = calloc((size_t)sz_arg + 1, sizeof(casadi_real *));
    s.res = calloc((size_t)sz_res + 1, sizeof(casadi_real *));
    s.iw = calloc((size_t)sz_iw + 1, sizeof(casadi_int));
    s.w = calloc((size_t)sz_w + 1, sizeof(casadi_real));
    memcpy(s.p, P_DEFAULT, sizeof s.p);
    s.arg[0] = s.p; /* d = derive(p), once, as the shell does at exit of initialisation */
    s.res[0] = s.d;
    if (DERIVE_FUNCTION(s.arg, s.res, s.iw, s.w, 0) != 0) {
        fprintf(stderr, "step_bench: derive failed\n");
        exit(3);
    }
    s.arg[0] = s.p; /* x0 = initial_state(p), as the shell does at exit of initialisation (time 0) */
    s.res[0] = s.x0;
    if (INIT_FUNCTION(s.arg, s.res, s.iw, s.w, 0) != 0) {
        fprintf(stderr, "step_bench: initial state failed\n");
        exit(3);
    }
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
    r->passes = fmi_host_parse_uint(argv[first + 1], "PASSES", "non-negative integer");
    r->repeats = fmi_host_parse_uint(argv[first + 2], "REPEATS", "non-negative integer");
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
    if (fmi_host_parse_fmu(argv[1], argv[2], dir, &version) != 0)
        return 1;
    r.vr_current = fmi_host_parse_uint(argv[5], "VR_CURRENT", "non-negative integer");
    r.vr_ambient = fmi_host_parse_uint(argv[6], "VR_AMBIENT", "non-negative integer");
    r.vr_voltage = fmi_host_parse_uint(argv[7], "VR_VOLTAGE", "non-negative integer");
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
