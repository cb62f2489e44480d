/* fmutwin native FMU shell: the part written once for every twin and FMI version.
 *
 * A model is described by model_config.h (generated from the twin's variable declaration):
 * sizes, default parameters and initial state, the generated CasADi functions, and a table
 * of variables (value reference -> parameter / initial state / input / output slot).
 * Two generated functions: DERIVE_FUNCTION p -> d computes what depends on the parameters alone
 * (e.g. a table's cumulative integral); it runs whenever the parameters may have changed (at
 * instantiation/reset and at exit of initialisation, the only times parameters can be set), and
 * d is part of the FMU state. STEP_FUNCTION (x, u, p, d) -> (x_next, y) is the step.
 * Generic: one input may be limited in magnitude by a parameter (KIND_LIMIT), and one output may
 * warn when it leaves a range; the model config names them.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_config.h"

typedef enum { KIND_PARAM = 'p', KIND_INIT = 'x', KIND_INPUT = 'u', KIND_OUTPUT = 'y', KIND_LIMIT = 'l',
               KIND_ZERO = 'z' /* an output the model structure does not have */, KIND_TIME = 't' } VarKind;

typedef struct {
    unsigned int vr;
    char kind;      /* VarKind */
    char type;      /* 'R' real, 'B' boolean */
    int index;      /* first slot */
    int count;      /* number of slots (initial state of several nodes, arrays) */
    double min, max;
    int increasing; /* an array (a table grid) that must stay strictly increasing */
    const char *name;
} VarInfo;

#include "model_vars.h"

typedef enum { PHASE_INSTANTIATED, PHASE_INIT, PHASE_STEPPING, PHASE_TERMINATED, PHASE_ERROR } Phase;

/* Everything an instance owns; the FMU state is a plain copy of the "state" part. */
typedef struct {
    double time;
    double x[NX];
    double u[NU];
    double y[NY];
    double p[NP];
    double d[ND > 0 ? ND : 1]; /* derived from p by DERIVE_FUNCTION */
    double x0[NX];
    double input_limit;
} ModelState;

typedef struct {
    ModelState s;
    Phase phase;
    char *instance_name;
    int logging_on;
    void (*log)(void *env, const char *instance, int status, const char *category, const char *message);
    void *log_env;
    /* CasADi work buffers, sized from the generated *_work functions (one set per instance,
       large enough for both the step and derive) */
    const double **arg;
    double **res;
    casadi_int *iw;
    double *w;
} Instance;

static void model_log(Instance *m, int status, const char *category, const char *fmt, ...) {
    char buffer[1024];
    va_list ap;
    if (!m->log) return;
    va_start(ap, fmt);
    vsnprintf(buffer, sizeof buffer, fmt, ap);
    va_end(ap);
    m->log(m->log_env, m->instance_name, status, category, buffer);
}

static const VarInfo *find_var(unsigned int vr) {
    if (vr < NVARS && VARS[vr].vr == vr) return &VARS[vr]; /* the builder numbers them in order */
    for (int i = 0; i < NVARS; i++)
        if (VARS[i].vr == vr) return &VARS[i];
    return NULL;
}

static int model_reset(Instance *m);
static void model_free(Instance *m);

static Instance *model_new(const char *name) {
    Instance *m = calloc(1, sizeof(Instance));
    casadi_int sz_arg, sz_res, sz_iw, sz_w, d_arg, d_res, d_iw, d_w;
    if (!m) return NULL;
    m->instance_name = strdup(name ? name : "");
    STEP_WORK(&sz_arg, &sz_res, &sz_iw, &sz_w);
    DERIVE_WORK(&d_arg, &d_res, &d_iw, &d_w);
    if (d_arg > sz_arg) sz_arg = d_arg;
    if (d_res > sz_res) sz_res = d_res;
    if (d_iw > sz_iw) sz_iw = d_iw;
    if (d_w > sz_w) sz_w = d_w;
    m->arg = calloc((size_t)sz_arg + 1, sizeof(double *));
    m->res = calloc((size_t)sz_res + 1, sizeof(double *));
    m->iw = calloc((size_t)sz_iw + 1, sizeof(casadi_int));
    m->w = calloc((size_t)sz_w + 1, sizeof(double));
    if (!m->instance_name || !m->arg || !m->res || !m->iw || !m->w) {
        model_free(m);
        return NULL;
    }
    if (!model_reset(m)) {
        model_free(m);
        return NULL;
    }
    return m;
}

static void model_free(Instance *m) {
    if (!m) return;
    free(m->instance_name);
    free(m->arg);
    free(m->res);
    free(m->iw);
    free(m->w);
    free(m);
}

/* d = derive(p): after any change of the parameters, before the next step. Returns 1 on success. */
static int model_derive(Instance *m) {
    m->arg[0] = m->s.p;
    m->res[0] = m->s.d;
    return DERIVE_FUNCTION(m->arg, m->res, m->iw, m->w, 0) == 0;
}

/* Back to the state right after instantiation (parameters and initial state at their defaults). */
static int model_reset(Instance *m) {
    memcpy(m->s.p, P_DEFAULT, sizeof m->s.p);
    memcpy(m->s.x0, X0_DEFAULT, sizeof m->s.x0);
    memcpy(m->s.x, X0_DEFAULT, sizeof m->s.x);
    memcpy(m->s.u, U_START, sizeof m->s.u);
    memset(m->s.y, 0, sizeof m->s.y);
    m->s.time = 0.0;
    m->s.input_limit = LIMIT_DEFAULT;
    m->phase = PHASE_INSTANTIATED;
    return model_derive(m);
}

/* Outputs at the initial state: a zero-current step of negligible length on a copy. */
static int model_initial_outputs(Instance *m) {
    double x_next[NX], u[NU];
    memcpy(u, m->s.u, sizeof u);
    u[U_LIMITED] = 0.0; /* outputs at rest */
    u[U_DT] = 1e-12;
    m->arg[0] = m->s.x; m->arg[1] = u; m->arg[2] = m->s.p; m->arg[3] = m->s.d;
    m->res[0] = x_next; m->res[1] = m->s.y;
    return STEP_FUNCTION(m->arg, m->res, m->iw, m->w, 0);
}

static int model_exit_init(Instance *m) {
    memcpy(m->s.x, m->s.x0, sizeof m->s.x);
    m->s.x[X_TIME] = m->s.time;
    if (!model_derive(m)) { /* the parameters are final now */
        model_log(m, 3, "logStatusError", "quantities derived from the parameters could not be evaluated");
        return 0;
    }
    for (int i = 0; i < ND; i++) {
        if (!isfinite(m->s.d[i])) {
            model_log(m, 3, "logStatusError", "a quantity derived from the parameters is %g: check the parameters",
                      m->s.d[i]);
            return 0;
        }
    }
    if (model_initial_outputs(m) != 0) {
        model_log(m, 3, "logStatusError", "initial outputs could not be evaluated");
        return 0;
    }
    for (int i = 0; i < NY; i++) {
        if (!isfinite(m->s.y[i])) {
            model_log(m, 3, "logStatusError", "output %s is %g after initialisation: check the parameters",
                      Y_NAMES[i], m->s.y[i]);
            return 0;
        }
    }
    return 1;
}

/* One communication step. Returns 1 on success; on failure nothing changes and one line is logged. */
static int model_step(Instance *m, double t, double dt) {
    double x_next[NX], y_next[NY];
    for (int i = 0; i < NINPUTS; i++) {
        const VarInfo *v = &VARS[INPUT_VARS[i]];
        double value = m->s.u[v->index];
        if (!isfinite(value)) {
            model_log(m, 3, "logStatusError", "t = %.17g: input %s = %g is not finite", t, v->name, value);
            return 0;
        }
        if (value < v->min || value > v->max) {
            model_log(m, 3, "logStatusError", "t = %.17g: input %s = %.17g is outside its range [%g, %g]", t,
                      v->name, value, v->min, v->max);
            return 0;
        }
    }
    if (fabs(m->s.u[U_LIMITED]) > m->s.input_limit) {
        model_log(m, 3, "logStatusError", "t = %.17g: input %s = %.17g is beyond %s = %g", t, LIMITED_NAME,
                  m->s.u[U_LIMITED], LIMIT_NAME, m->s.input_limit);
        return 0;
    }
    if (!(dt > 0)) {
        model_log(m, 3, "logStatusError", "t = %.17g: communication step size %g must be > 0", t, dt);
        return 0;
    }
    m->s.u[U_DT] = dt;
    m->arg[0] = m->s.x; m->arg[1] = m->s.u; m->arg[2] = m->s.p; m->arg[3] = m->s.d;
    m->res[0] = x_next; m->res[1] = y_next;
    if (STEP_FUNCTION(m->arg, m->res, m->iw, m->w, 0) != 0) {
        model_log(m, 3, "logStatusError", "t = %.17g: the step function failed", t);
        return 0;
    }
    /* generated code returns 0 even when a result is NaN: check every value */
    for (int i = 0; i < NY; i++) {
        if (!isfinite(y_next[i])) {
            model_log(m, 3, "logStatusError", "t = %.17g: output %s became %g (a table with extrapolation "
                      "'error' left its grid, or a parameter is invalid)", t, Y_NAMES[i], y_next[i]);
            return 0;
        }
    }
    for (int i = 0; i < NX; i++) {
        if (!isfinite(x_next[i])) {
            model_log(m, 3, "logStatusError", "t = %.17g: state %d became %g", t, i, x_next[i]);
            return 0;
        }
    }
    memcpy(m->s.x, x_next, sizeof x_next);
    memcpy(m->s.y, y_next, sizeof y_next);
    m->s.time = t + dt;
    if (y_next[Y_WARNED] < WARN_MIN || y_next[Y_WARNED] > WARN_MAX)
        model_log(m, 1, "logStatusWarning", "t = %.17g: %s = %g outside [%g, %g]", m->s.time, Y_NAMES[Y_WARNED],
                  y_next[Y_WARNED], WARN_MIN, WARN_MAX);
    return 1;
}

/* Value access by value reference; element `k` of variable `v`. */
static double model_get(const Instance *m, const VarInfo *v, int k) {
    switch (v->kind) {
    case KIND_PARAM: return m->s.p[v->index + k];
    case KIND_INIT: return m->s.x0[v->index + k];
    case KIND_INPUT: return m->s.u[v->index + k];
    case KIND_OUTPUT: return m->s.y[v->index + k];
    case KIND_ZERO: return 0.0;
    case KIND_TIME: return m->s.time;
    default: return m->s.input_limit;
    }
}

static int model_set(Instance *m, const VarInfo *v, int k, double value) {
    if (v->kind == KIND_OUTPUT || v->kind == KIND_ZERO || v->kind == KIND_TIME) {
        model_log(m, 3, "logStatusError", "variable %s is an output and cannot be set", v->name);
        return 0;
    }
    if (v->kind != KIND_INPUT && m->phase == PHASE_STEPPING) {
        model_log(m, 3, "logStatusError", "parameter %s cannot be changed after initialisation", v->name);
        return 0;
    }
    if (v->kind != KIND_INPUT && (!isfinite(value) || value < v->min || value > v->max)) {
        model_log(m, 3, "logStatusError", "parameter %s = %g is outside its range [%g, %g]", v->name, value, v->min,
                  v->max);
        return 0;
    }
    /* a grid is written left to right in one call: each element must exceed the one before */
    if (v->increasing && k > 0 && value <= m->s.p[v->index + k - 1]) {
        model_log(m, 3, "logStatusError", "parameter %s: element %d = %g is not above element %d = %g (a grid "
                  "must be strictly increasing)", v->name, k, value, k - 1, m->s.p[v->index + k - 1]);
        return 0;
    }
    switch (v->kind) {
    case KIND_PARAM: m->s.p[v->index + k] = value; break;
    case KIND_INIT:
        for (int i = 0; i < v->count; i++) m->s.x0[v->index + i] = value; /* all nodes alike */
        break;
    case KIND_INPUT: m->s.u[v->index + k] = value; break;
    default: m->s.input_limit = value; break;
    }
    return 1;
}

/* FMU state: a copy of the model state. Serialized form: the build's GUID, then the copy. */
#define STATE_BYTES (sizeof(ModelState) + sizeof(MODEL_GUID))

static int state_get(const Instance *m, void **state) {
    ModelState *copy = *state ? (ModelState *)*state : malloc(sizeof *copy);
    if (!copy) return 0;
    *copy = m->s;
    *state = copy;
    return 1;
}

static int state_set(Instance *m, const void *state) {
    if (!state) return 0;
    m->s = *(const ModelState *)state;
    return 1;
}

static void state_free(void **state) {
    if (state && *state) { free(*state); *state = NULL; }
}

static int state_serialize(const void *state, unsigned char *bytes, size_t size) {
    if (!state || size < STATE_BYTES) return 0;
    memcpy(bytes, MODEL_GUID, sizeof(MODEL_GUID));
    memcpy(bytes + sizeof(MODEL_GUID), state, sizeof(ModelState));
    return 1;
}

static int state_deserialize(Instance *m, const unsigned char *bytes, size_t size, void **state) {
    ModelState *copy;
    if (size != STATE_BYTES || memcmp(bytes, MODEL_GUID, sizeof(MODEL_GUID)) != 0) {
        model_log(m, 3, "logStatusError", "serialized state does not belong to this FMU build");
        return 0;
    }
    copy = malloc(sizeof *copy);
    if (!copy) return 0;
    memcpy(copy, bytes + sizeof(MODEL_GUID), sizeof *copy);
    *state = copy;
    return 1;
}
