/*
 * fmu_host.c -- a minimal, non-Python FMI 2.0 / 3.0 co-simulation host for fmutwin's tests.
 *
 * It shows that fmutwin's FMUs run in a plain C process: it dlopens the FMU binary, drives the
 * FMI C API with a current profile and writes the battery voltage and state of charge it reads
 * back. An out-of-process Python FMU (the default build) and a native FMU load with nothing set.
 * An in-process Python FMU's binary (pythonfmu's) calls into CPython without linking libpython,
 * so this process only loads it with libpython preloaded and PYTHONHOME / PYTHONPATH set
 * (see fmutwin.fmi.host_env.host_environment); otherwise dlopen fails with
 * "undefined symbol: _Py_NoneStruct" and the host exits with status 2.
 *
 * Build:  gcc -std=c99 -O2 -Wall -Wextra -o fmu_host fmu_host.c -ldl
 *
 * Usage:  fmu_host FMU_DIR VERSION MODEL_ID TOKEN VR_CURRENT VR_AMBIENT VR_VOLTAGE VR_SOC IN_CSV OUT_CSV
 *                  [s:VR=TEXT | r:VR=NUMBER ...]
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
 *   s:VR=TEXT   optional: String (s:) and Real (r:VR=NUMBER) parameters set after instantiation
 *               (e.g. a model's name, an initial state of charge)
 *
 * ambientTemperature is set to 298.15 K before every step. Exit status: 0 on success, 1 on a
 * usage or I/O error, 2 if the binary does not load or lacks an FMI function, 3 if an FMI call
 * returns anything but OK (the FMU's log messages go to stderr).
 *
 * Process exit: once the FMU binary is loaded the host ends with _exit() (after flushing its
 * files), skipping the exit handlers (the out-of-process FMUs need no such care: their tests set
 * FMU_HOST_NORMAL_EXIT), because of a bug in the binaries of pythonfmu 0.7.0 and
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
 * The FMI types, the loading of the binary and its functions, instantiation, initialisation and
 * the status checks are in fmi_host_common.h beside this file (shared with
 * benchmarks/native_bench_host.c); the FMI types are declared there as in the FMI 2.0.x and
 * 3.0.x standard headers, so no FMI header files are needed.
 */

#define _XOPEN_SOURCE 700 /* realpath */

#define FMI_HOST_NAME "fmu_host"
#define FMI_HOST_EXIT(status) finish(status)
static void finish(int status);

#include "fmi_host_common.h" /* FMI types, loading, instantiation, checks (shared with the benchmark host) */

#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

/* End the process: _exit() unless FMU_HOST_NORMAL_EXIT is set (see the header comment). */
static void finish(int status)
{
    if (getenv("FMU_HOST_NORMAL_EXIT"))
        exit(status);
    fflush(NULL);
    _exit(status);
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

/* Parameters from the trailing s:VR=TEXT and r:VR=NUMBER arguments. */
static size_t n_strings, n_reals;
static unsigned int string_vr[16], real_vr[16];
static const char *string_value[16];
static double real_value[16];

static void parse_parameters(int argc, char **argv)
{
    for (int k = 0; k < argc; k++) {
        char *eq = strchr(argv[k], '='), *end;
        if (!eq || (strncmp(argv[k], "s:", 2) != 0 && strncmp(argv[k], "r:", 2) != 0) || n_strings == 16 ||
            n_reals == 16) {
            fprintf(stderr, "fmu_host: %s is not s:VR=TEXT or r:VR=NUMBER (at most 16 of each)\n", argv[k]);
            finish(1);
        }
        *eq = 0;
        if (argv[k][0] == 's') {
            string_vr[n_strings] = fmi_host_parse_uint(argv[k] + 2, "s:VR=TEXT", "value reference");
            string_value[n_strings++] = eq + 1;
        } else {
            real_vr[n_reals] = fmi_host_parse_uint(argv[k] + 2, "r:VR=NUMBER", "value reference");
            real_value[n_reals++] = strtod(eq + 1, &end);
            if (end == eq + 1 || *end) {
                fprintf(stderr, "fmu_host: %s is not a number\n", eq + 1);
                finish(1);
            }
        }
    }
}

/* ---------------------------------------------------------------- FMI 2.0 run */

static void run_fmi2(const char *dir, const char *model_id, const char *guid, const unsigned int vr[4],
                     const double *t, const double *cur, size_t n, FILE *out)
{
    Fmi2Api api;
    const fmi2ValueReference in_vr[2] = {vr[0], vr[1]}, out_vr[2] = {vr[2], vr[3]};
    fmi2Component c;
    size_t k;

    fmi2_load(&api, dir, model_id);
    c = fmi2_instantiate(&api, "fmu_host", dir, guid); /* dir is absolute (made so in main) */
    if (n_strings) {
        fmi2SetStringF set_string;
        LOAD(api.lib, set_string, "fmi2SetString");
        CHECK(set_string(c, string_vr, n_strings, string_value), "fmi2SetString", t[0]);
    }
    if (n_reals)
        CHECK(api.set_real(c, real_vr, n_reals, real_value), "fmi2SetReal", t[0]);
    CHECK(api.setup(c, 0, 0.0, t[0], 1, t[n - 1]), "fmi2SetupExperiment", t[0]);
    fmi2_initialize(&api, c, t[0]);
    for (k = 0; k + 1 < n; k++) {
        const fmi2Real in[2] = {cur[k], 298.15};
        fmi2Real y[2];
        CHECK(api.set_real(c, in_vr, 2, in), "fmi2SetReal", t[k]);
        CHECK(api.do_step(c, t[k], t[k + 1] - t[k], 1), "fmi2DoStep", t[k]);
        CHECK(api.get_real(c, out_vr, 2, y), "fmi2GetReal", t[k + 1]);
        fprintf(out, "%.17g,%.17g,%.17g\n", t[k + 1], y[0], y[1]);
    }
    CHECK(api.terminate(c), "fmi2Terminate", t[n - 1]);
    api.free_instance(c);
    /* The library is left loaded: its CPython is finalized at process exit. */
}

/* ---------------------------------------------------------------- FMI 3.0 run */

static void run_fmi3(const char *dir, const char *model_id, const char *token, const unsigned int vr[4],
                     const double *t, const double *cur, size_t n, FILE *out)
{
    Fmi3Api api;
    const fmi3ValueReference in_vr[2] = {vr[0], vr[1]}, out_vr[2] = {vr[2], vr[3]};
    fmi3Instance c;
    size_t k;

    fmi3_load(&api, dir, model_id);
    c = fmi3_instantiate(&api, "fmu_host", dir, token);
    if (n_strings) {
        fmi3SetStringF set_string;
        LOAD(api.lib, set_string, "fmi3SetString");
        CHECK(set_string(c, string_vr, n_strings, string_value, n_strings), "fmi3SetString", t[0]);
    }
    if (n_reals)
        CHECK(api.set_f64(c, real_vr, n_reals, real_value, n_reals), "fmi3SetFloat64", t[0]);
    fmi3_initialize(&api, c, t[0], true, t[n - 1]);
    for (k = 0; k + 1 < n; k++) {
        const fmi3Float64 in[2] = {cur[k], 298.15};
        fmi3Float64 y[2];
        fmi3Boolean event = false, stop = false, early = false;
        fmi3Float64 last = t[k];
        CHECK(api.set_f64(c, in_vr, 2, in, 2), "fmi3SetFloat64", t[k]);
        CHECK(api.do_step(c, t[k], t[k + 1] - t[k], true, &event, &stop, &early, &last), "fmi3DoStep", t[k]);
        CHECK_FMI3_STEP_END(stop, early, t[k]);
        CHECK(api.get_f64(c, out_vr, 2, y, 2), "fmi3GetFloat64", t[k + 1]);
        fprintf(out, "%.17g,%.17g,%.17g\n", t[k + 1], y[0], y[1]);
    }
    CHECK(api.terminate(c), "fmi3Terminate", t[n - 1]);
    api.free_instance(c);
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

    if (argc < 11) {
        fprintf(stderr, "usage: %s FMU_DIR VERSION(2|3) MODEL_ID TOKEN VR_CURRENT VR_AMBIENT VR_VOLTAGE VR_SOC "
                        "IN_CSV OUT_CSV [s:VR=TEXT|r:VR=NUMBER ...]\n", argv[0]);
        return 1;
    }
    parse_parameters(argc - 11, argv + 11);
    if (fmi_host_parse_fmu(argv[1], argv[2], dir, &version) != 0)
        return 1;
    vr[0] = fmi_host_parse_uint(argv[5], "VR_CURRENT", "value reference");
    vr[1] = fmi_host_parse_uint(argv[6], "VR_AMBIENT", "value reference");
    vr[2] = fmi_host_parse_uint(argv[7], "VR_VOLTAGE", "value reference");
    vr[3] = fmi_host_parse_uint(argv[8], "VR_SOC", "value reference");
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
