/*
 * fmi_host_common.h -- what fmutwin's two C FMI hosts share: tests/fmi/c_host/fmu_host.c (the
 * test host) and benchmarks/native_bench_host.c (the benchmark host).
 *
 * The FMI 2.0 / 3.0 types (declared here as in the FMI 2.0.x and 3.0.x standard headers, so no
 * header files are needed), the FMU's log callbacks, loading the FMU binary and its functions
 * (dlopen / dlsym), instantiation and initialisation, and the status checks. All functions are
 * static: each host includes this file once (C99, clean under -Wall -Wextra).
 *
 * Before including it, a host defines
 *
 *   FMI_HOST_NAME          the program name that starts its error messages, e.g. "fmu_host"
 *   FMI_HOST_EXIT(status)  optional: how it ends the process on an error (default: exit(status))
 *   FMI_HOST_NO_FMI        optional: declare the types and fmi_host_parse_uint only, none of the
 *                          functions that call dlopen / dlsym or an FMU
 *
 * and includes it before any system header (it defines _XOPEN_SOURCE for PATH_MAX and realpath).
 * Error exits: 1 usage, 2 the binary does not load or lacks an FMI function, 3 an FMI call
 * returned anything but OK.
 */

#ifndef FMI_HOST_COMMON_H
#define FMI_HOST_COMMON_H

#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath, PATH_MAX */
#endif

#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FMI_HOST_NAME
#error "define FMI_HOST_NAME (the program name for error messages) before including fmi_host_common.h"
#endif
#ifndef FMI_HOST_EXIT
#define FMI_HOST_EXIT(status) exit(status)
#endif

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
typedef fmi2Status (*fmi2SetStringF)(fmi2Component, const fmi2ValueReference[], size_t, const fmi2String[]);
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
typedef fmi3Status (*fmi3SetStringF)(fmi3Instance, const fmi3ValueReference[], size_t, const fmi3String[], size_t);
typedef fmi3Status (*fmi3DoStepF)(fmi3Instance, fmi3Float64, fmi3Float64, fmi3Boolean, fmi3Boolean *, fmi3Boolean *,
                                  fmi3Boolean *, fmi3Float64 *);
typedef fmi3Status (*fmi3GetFMUStateF)(fmi3Instance, fmi3FMUState *);
typedef fmi3Status (*fmi3SetFMUStateF)(fmi3Instance, fmi3FMUState);
typedef fmi3Status (*fmi3FreeFMUStateF)(fmi3Instance, fmi3FMUState *);

/* ---------------------------------------------------------------- command line */

/* text as an unsigned 32-bit integer; else "NAME: WHAT: not a KIND: 'TEXT'" and exit 1. */
static unsigned int fmi_host_parse_uint(const char *text, const char *what, const char *kind)
{
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v > UINT32_MAX) {
        fprintf(stderr, FMI_HOST_NAME ": %s: not a %s: '%s'\n", what, kind, text);
        FMI_HOST_EXIT(1);
    }
    return (unsigned int)v;
}

#ifndef FMI_HOST_NO_FMI

/* FMU_DIR and VERSION arguments: dir = realpath(dir_arg), *version = 2 or 3. Returns 0, or 1 after
 * a message on stderr (the caller returns 1 from main). */
static int fmi_host_parse_fmu(const char *dir_arg, const char *version_arg, char dir[PATH_MAX], int *version)
{
    if (!realpath(dir_arg, dir)) {
        perror(dir_arg);
        return 1;
    }
    *version = atoi(version_arg);
    if (*version != 2 && *version != 3) {
        fprintf(stderr, FMI_HOST_NAME ": VERSION must be 2 or 3, got '%s'\n", version_arg);
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- status checks, log callbacks */

static const char *const STATUS_NAMES[] = {"OK", "Warning", "Discard", "Error", "Fatal", "Pending"};

static const char *status_name(int status)
{
    return (status >= 0 && status <= 5) ? STATUS_NAMES[status] : "unknown";
}

/* Exit 3 unless an FMI call returned OK (a branch per call: part of what a real host does). */
#define CHECK(call, name, t)                                                                                         \
    do {                                                                                                             \
        int status_ = (int)(call);                                                                                   \
        if (status_ != 0) {                                                                                          \
            fprintf(stderr, FMI_HOST_NAME ": %s returned %s (%d) at t = %.17g\n", (name), status_name(status_),      \
                    status_, (double)(t));                                                                           \
            FMI_HOST_EXIT(3);                                                                                        \
        }                                                                                                            \
    } while (0)

/* Exit 3 if fmi3DoStep at time t asked to terminate or returned early. */
#define CHECK_FMI3_STEP_END(stop, early, t)                                                                          \
    do {                                                                                                             \
        if ((stop) || (early)) {                                                                                     \
            fprintf(stderr, FMI_HOST_NAME ": fmi3DoStep at t = %.17g: terminateSimulation = %d, earlyReturn = %d\n", \
                    (double)(t), (int)(stop), (int)(early));                                                         \
            FMI_HOST_EXIT(3);                                                                                        \
        }                                                                                                            \
    } while (0)

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

/* ---------------------------------------------------------------- loading */

static void *symbol(void *lib, const char *name)
{
    void *f = dlsym(lib, name);
    if (!f) {
        fprintf(stderr, FMI_HOST_NAME ": %s not found in the FMU binary: %s\n", name, dlerror());
        FMI_HOST_EXIT(2);
    }
    return f;
}

/* fptr = dlsym(lib, name), exit 2 if missing (memcpy: ISO C has no object-to-function pointer cast) */
#define LOAD(lib, fptr, name)                                                                                        \
    do {                                                                                                             \
        void *sym_ = symbol((lib), (name));                                                                         \
        memcpy(&(fptr), &sym_, sizeof(fptr));                                                                        \
    } while (0)

/* dlopen DIR/binaries/PLATFORM/MODEL_ID.so, exit 2 if it does not load. */
static void *load_binary(const char *dir, const char *platform, const char *model_id)
{
    char path[PATH_MAX + 64];
    void *lib;
    snprintf(path, sizeof path, "%s/binaries/%s/%s.so", dir, platform, model_id);
    lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, FMI_HOST_NAME ": cannot load %s: %s\n", path, dlerror());
        FMI_HOST_EXIT(2);
    }
    return lib;
}

/* ---------------------------------------------------------------- FMI 2.0 co-simulation */

/* The FMI 2.0 functions both hosts call. */
typedef struct {
    void *lib;
    fmi2InstantiateF instantiate;
    fmi2FreeInstanceF free_instance;
    fmi2SetupExperimentF setup;
    fmi2ComponentF enter_init, exit_init, terminate;
    fmi2SetRealF set_real;
    fmi2GetRealF get_real;
    fmi2DoStepF do_step;
} Fmi2Api;

static const fmi2CallbackFunctions FMI2_CALLBACKS = {fmi2_logger, calloc, free, NULL, NULL};

/* Loads DIR/binaries/linux64/MODEL_ID.so and its functions into *api (exit 2 if one is missing). */
static void fmi2_load(Fmi2Api *api, const char *dir, const char *model_id)
{
    api->lib = load_binary(dir, "linux64", model_id);
    LOAD(api->lib, api->instantiate, "fmi2Instantiate");
    LOAD(api->lib, api->free_instance, "fmi2FreeInstance");
    LOAD(api->lib, api->setup, "fmi2SetupExperiment");
    LOAD(api->lib, api->enter_init, "fmi2EnterInitializationMode");
    LOAD(api->lib, api->exit_init, "fmi2ExitInitializationMode");
    LOAD(api->lib, api->terminate, "fmi2Terminate");
    LOAD(api->lib, api->set_real, "fmi2SetReal");
    LOAD(api->lib, api->get_real, "fmi2GetReal");
    LOAD(api->lib, api->do_step, "fmi2DoStep");
}

/* fmi2Instantiate as co-simulation, resources at file://DIR/resources (DIR absolute), logging to
 * stderr; exit 3 if it returns NULL. */
static fmi2Component fmi2_instantiate(const Fmi2Api *api, const char *instance_name, const char *dir,
                                      const char *guid)
{
    char uri[PATH_MAX + 32];
    fmi2Component c;
    snprintf(uri, sizeof uri, "file://%s/resources", dir);
    c = api->instantiate(instance_name, fmi2CoSimulation, guid, uri, &FMI2_CALLBACKS, 0, 0);
    if (!c) {
        fprintf(stderr, FMI_HOST_NAME ": fmi2Instantiate returned NULL\n");
        FMI_HOST_EXIT(3);
    }
    return c;
}

/* Enter and exit initialization mode (t: the time for error messages). */
static void fmi2_initialize(const Fmi2Api *api, fmi2Component c, double t)
{
    CHECK(api->enter_init(c), "fmi2EnterInitializationMode", t);
    CHECK(api->exit_init(c), "fmi2ExitInitializationMode", t);
}

/* ---------------------------------------------------------------- FMI 3.0 co-simulation */

/* The FMI 3.0 functions both hosts call. */
typedef struct {
    void *lib;
    fmi3InstantiateCoSimulationF instantiate;
    fmi3FreeInstanceF free_instance;
    fmi3EnterInitializationModeF enter_init;
    fmi3InstanceF exit_init, terminate;
    fmi3SetFloat64F set_f64;
    fmi3GetFloat64F get_f64;
    fmi3DoStepF do_step;
} Fmi3Api;

/* Loads DIR/binaries/x86_64-linux/MODEL_ID.so and its functions into *api (exit 2 if one is missing). */
static void fmi3_load(Fmi3Api *api, const char *dir, const char *model_id)
{
    api->lib = load_binary(dir, "x86_64-linux", model_id);
    LOAD(api->lib, api->instantiate, "fmi3InstantiateCoSimulation");
    LOAD(api->lib, api->free_instance, "fmi3FreeInstance");
    LOAD(api->lib, api->enter_init, "fmi3EnterInitializationMode");
    LOAD(api->lib, api->exit_init, "fmi3ExitInitializationMode");
    LOAD(api->lib, api->terminate, "fmi3Terminate");
    LOAD(api->lib, api->set_f64, "fmi3SetFloat64");
    LOAD(api->lib, api->get_f64, "fmi3GetFloat64");
    LOAD(api->lib, api->do_step, "fmi3DoStep");
}

/* fmi3InstantiateCoSimulation (no event mode, no intermediate updates), resources at DIR/resources/
 * (FMI 3.0: a path, with trailing '/'), logging to stderr; exit 3 if it returns NULL. */
static fmi3Instance fmi3_instantiate(const Fmi3Api *api, const char *instance_name, const char *dir,
                                     const char *token)
{
    char resources[PATH_MAX + 32];
    fmi3Instance c;
    snprintf(resources, sizeof resources, "%s/resources/", dir);
    c = api->instantiate(instance_name, token, resources, false, false, false, false, NULL, 0, NULL, fmi3_logger,
                         NULL);
    if (!c) {
        fprintf(stderr, FMI_HOST_NAME ": fmi3InstantiateCoSimulation returned NULL\n");
        FMI_HOST_EXIT(3);
    }
    return c;
}

/* Enter initialization mode (no tolerance; start time, stop time if stop_defined) and exit it. */
static void fmi3_initialize(const Fmi3Api *api, fmi3Instance c, double start, bool stop_defined, double stop)
{
    CHECK(api->enter_init(c, false, 0.0, start, stop_defined, stop), "fmi3EnterInitializationMode", start);
    CHECK(api->exit_init(c), "fmi3ExitInitializationMode", start);
}

#endif /* FMI_HOST_NO_FMI */

#endif /* FMI_HOST_COMMON_H */
