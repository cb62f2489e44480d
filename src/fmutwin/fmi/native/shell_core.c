/* fmutwin native FMU shell: the part written once for every twin and FMI version.
 *
 * A model is described by model_config.h and model_vars.h, generated from the twin's variable
 * declaration: sizes, the default parameter vector, the generated CasADi functions, and a table
 * of variables (value reference -> slot in the parameter vector, the inputs or the outputs, with
 * type, range and warn range). Nothing here knows what the model is.
 *
 * Three generated functions:
 *   INIT_FUNCTION   p -> x0               the initial state (at the end of initialisation)
 *   DERIVE_FUNCTION p -> d                what depends on the parameters alone (e.g. a table's
 *                                         cumulative integral); part of the FMU state
 *   STEP_FUNCTION   (x, u, p, d) -> (x_next, y)   one step of length u[U_DT]
 * Parameters can change only before the end of initialisation, so INIT and DERIVE run there.
 *
 * Checks, from the declaration: a parameter is finite and inside its range when it is set (a
 * bound may be another parameter's value, e.g. |current| <= currentLimit), grids are strictly
 * increasing at the end of initialisation, inputs are finite and in range at its end and before
 * every step (outputs read during initialisation are computed from what is set so far),
 * outputs and states are finite after it (else the step is refused and nothing changes), an
 * output outside its validity limits (its min/max, e.g. a voltage cut-off) refuses the step with
 * a discard status and a line naming the limit and the time it was reached, and an output outside
 * its warn range logs a warning. The FMI state machine is kept here too: calls in
 * the wrong state are refused with a log line, and after a failed step only getters, reset,
 * terminate, FMU-state restore and free are accepted (as in the Modelica Reference-FMUs).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_config.h"

typedef enum { KIND_PARAM = 'p', KIND_INPUT = 'u', KIND_OUTPUT = 'y',
               KIND_ZERO = 'z' /* an output the model structure does not have */, KIND_TIME = 't' } VarKind;

typedef struct {
    unsigned int vr;
    char kind;        /* VarKind */
    char type;        /* 'R' real, 'I' integer, 'B' boolean */
    int index;        /* first slot */
    int count;        /* number of slots (elements of an array) */
    int element;      /* the variable's element this row starts at (FMI 2.0 rows of an array) */
    double min, max;  /* the range; a bound given by a parameter is min_p / max_p below */
    int min_p, max_p; /* parameter-vector slot of a bound set by a parameter, or -1 */
    double min_sign, max_sign;
    int increasing;   /* an array (a table grid) that must be strictly increasing */
    double warn_min, warn_max; /* an output outside logs a warning (rows listed in WARNED_ROWS) */
    const char *name;
    const char *unit;             /* " A", or "" for a dimensionless or untyped variable (for messages) */
    const char *min_name, *max_name; /* the bounds as declared, e.g. "-currentLimit", or "" (for messages) */
} VarInfo;

#include "model_vars.h" /* VARS, and the rows of the inputs (INPUT_ROWS) and warned outputs (WARNED_ROWS) */

typedef enum { PHASE_INSTANTIATED = 1, PHASE_INIT = 2, PHASE_STEPPING = 4, PHASE_TERMINATED = 8,
               PHASE_ERROR = 16 } Phase;
#define PHASE_ANY (PHASE_INSTANTIATED | PHASE_INIT | PHASE_STEPPING | PHASE_TERMINATED | PHASE_ERROR)

/* Everything an instance owns that an FMU state holds: a plain copy of it is the FMU state. */
typedef struct {
    double time;
    double x[NX];
    double u[NU];
    double y[NY];
    double p[NP];
    double d[ND > 0 ? ND : 1]; /* derived from p by DERIVE_FUNCTION */
    Phase phase;
    int looked; /* in initialisation: y follows the values set so far (cleared by every set) */
} ModelState;

typedef struct {
    ModelState s;
    char *instance_name;
    int logging_on;
    void (*log)(void *env, const char *instance, int status, const char *category, const char *message);
    void *log_env;
    /* CasADi work buffers, sized from the generated *_work functions (one set per instance,
       large enough for every generated function) */
    const double **arg;
    double **res;
    casadi_int *iw;
    double *w;
} Instance;

static const char *phase_name(Phase phase) {
    switch (phase) {
    case PHASE_INSTANTIATED: return "instantiated";
    case PHASE_INIT: return "initialisation mode";
    case PHASE_STEPPING: return "step mode";
    case PHASE_TERMINATED: return "terminated";
    default: return "error (after a failed call: reset or free the instance)";
    }
}

static void model_log(Instance *m, int status, const char *category, const char *fmt, ...) {
    char buffer[1024];
    va_list ap;
    if (!m->log) return;
    va_start(ap, fmt);
    vsnprintf(buffer, sizeof buffer, fmt, ap);
    va_end(ap);
    m->log(m->log_env, m->instance_name, status, category, buffer);
}

/* 1 if the instance may take `what` in its present state (a mask of phases), else a log line. */
static int model_allowed(Instance *m, int phases, const char *what) {
    if (m->s.phase & phases) return 1;
    model_log(m, 3, "logStatusError", "%s is not allowed in state %s", what, phase_name(m->s.phase));
    return 0;
}

static const VarInfo *find_var(unsigned int vr) {
    if (vr < NVARS && VARS[vr].vr == vr) return &VARS[vr]; /* the builder numbers them in order */
    for (int i = 0; i < NVARS; i++)
        if (VARS[i].vr == vr) return &VARS[i];
    return NULL;
}

static void work_size(int (*work)(casadi_int *, casadi_int *, casadi_int *, casadi_int *), casadi_int size[4]) {
    /* CasADi's generated *_work functions return int (0) */
    casadi_int s[4];
    work(&s[0], &s[1], &s[2], &s[3]);
    for (int i = 0; i < 4; i++)
        if (s[i] > size[i]) size[i] = s[i];
}

static int model_reset(Instance *m);
static void model_free(Instance *m);

static Instance *model_new(const char *name) {
    Instance *m = calloc(1, sizeof(Instance));
    casadi_int size[4] = {0, 0, 0, 0}; /* arg, res, iw, w */
    if (!m) return NULL;
    m->instance_name = strdup(name ? name : "");
    work_size(STEP_WORK, size);
    work_size(DERIVE_WORK, size);
    work_size(INIT_WORK, size);
    m->arg = calloc((size_t)size[0] + 1, sizeof(double *));
    m->res = calloc((size_t)size[1] + 1, sizeof(double *));
    m->iw = calloc((size_t)size[2] + 1, sizeof(casadi_int));
    m->w = calloc((size_t)size[3] + 1, sizeof(double));
    if (!m->instance_name || !m->arg || !m->res || !m->iw || !m->w || !model_reset(m)) {
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

/* x0 = INIT(p) and d = DERIVE(p). Returns 1 on success. */
static int model_initial_state(Instance *m) {
    m->arg[0] = m->s.p;
    m->res[0] = m->s.x;
    if (INIT_FUNCTION(m->arg, m->res, m->iw, m->w, 0) != 0) return 0;
    m->arg[0] = m->s.p;
    m->res[0] = m->s.d;
    return DERIVE_FUNCTION(m->arg, m->res, m->iw, m->w, 0) == 0;
}

/* Back to the state right after instantiation (parameters and inputs at their starts). */
static int model_reset(Instance *m) {
    memcpy(m->s.p, P_DEFAULT, sizeof m->s.p);
    memcpy(m->s.u, U_START, sizeof m->s.u);
    memset(m->s.y, 0, sizeof m->s.y);
    m->s.time = 0.0;
    m->s.phase = PHASE_INSTANTIATED;
    m->s.looked = 0;
    return model_initial_state(m);
}

/* The range of element values of `v` now (a bound set by a parameter is read from p). */
static double var_min(const Instance *m, const VarInfo *v) {
    return v->min_p >= 0 ? v->min_sign * m->s.p[v->min_p] : v->min;
}

static double var_max(const Instance *m, const VarInfo *v) {
    return v->max_p >= 0 ? v->max_sign * m->s.p[v->max_p] : v->max;
}

/* "variable = value unit is outside its range [lo, hi]" with parameter-named bounds named, as the
   Python FMUs write it. */
static void log_range(Instance *m, const char *prefix, const VarInfo *v, double value, double lo, double hi,
                      const char *note) {
    char lo_text[96], hi_text[96];
    if (v->min_name[0]) snprintf(lo_text, sizeof lo_text, "%s = %g", v->min_name, lo);
    else snprintf(lo_text, sizeof lo_text, "%g", lo);
    if (v->max_name[0]) snprintf(hi_text, sizeof hi_text, "%s = %g", v->max_name, hi);
    else snprintf(hi_text, sizeof hi_text, "%g", hi);
    model_log(m, 3, "logStatusError", "%s%s = %.17g%s is outside its range [%s, %s]%s", prefix, v->name, value,
              v->unit, lo_text, hi_text, note);
}

/* y = the outputs at state x with inputs u, over a step of length dt (the state is not kept). */
static int model_outputs(Instance *m, double dt, double *x_next, double *y) {
    double u[NU];
    memcpy(u, m->s.u, sizeof u);
    u[U_DT] = dt;
    m->arg[0] = m->s.x; m->arg[1] = u; m->arg[2] = m->s.p; m->arg[3] = m->s.d;
    m->res[0] = x_next; m->res[1] = y;
    return STEP_FUNCTION(m->arg, m->res, m->iw, m->w, 0) == 0;
}

/* An output outside its warn range: one warning line per variable. */
static void model_warn(Instance *m) {
    for (int i = 0; i < NWARNED; i++) {
        const VarInfo *v = &VARS[WARNED_ROWS[i]];
        for (int e = 0; e < v->count; e++) {
            double value = m->s.y[v->index + e];
            if (value < v->warn_min || value > v->warn_max) {
                char where[160];
                if (v->count > 1) snprintf(where, sizeof where, "%s[%d]", v->name, e + 1); /* FMI 3.0 arrays */
                else snprintf(where, sizeof where, "%s", v->name);
                model_log(m, 1, "logStatusWarning", "t = %.17g: %s = %g outside [%g, %g]", m->s.time, where, value,
                          v->warn_min, v->warn_max);
                break;
            }
        }
    }
}

/* The first non-finite entry of y (outputs) or x (states) as a log line naming the time t (or
   the end of initialisation when `initialising`); 1 if all are finite. */
static int model_finite(Instance *m, const double *x, const double *y, double t, int initialising) {
    const char *when = initialising ? "after initialisation" : "at t =";
    double at = initialising ? 0.0 : t;
    for (int i = 0; i < NY; i++) {
        if (!isfinite(y[i])) {
            model_log(m, 3, "logStatusError", "%s %.17g: output %s became %g (a table with extrapolation 'error' "
                      "left its grid, or a parameter is invalid)", when, at, Y_NAMES[i], y[i]);
            return 0;
        }
    }
    for (int i = 0; i < NX; i++) {
        if (!isfinite(x[i])) {
            model_log(m, 3, "logStatusError", "%s %.17g: state %d became %g", when, at, i, x[i]);
            return 0;
        }
    }
    return 1;
}

/* Every input finite and inside its range (bounds named by parameters read now), else one line
   naming it, at time t. */
static int model_check_inputs(Instance *m, double t) {
    for (int i = 0; i < NINPUTS; i++) {
        const VarInfo *v = &VARS[INPUT_ROWS[i]];
        for (int e = 0; e < v->count; e++) {
            double value = m->s.u[v->index + e], lo = var_min(m, v), hi = var_max(m, v);
            if (!isfinite(value)) {
                model_log(m, 3, "logStatusError", "t = %.17g: input %s = %g is not finite", t, v->name, value);
                return 0;
            }
            if (value < lo || value > hi) {
                char prefix[64];
                snprintf(prefix, sizeof prefix, "t = %.17g: input ", t);
                log_range(m, prefix, v, value, lo, hi, "");
                return 0;
            }
        }
    }
    return 1;
}

/* End of initialisation (and an output read during it): grids, initial state, derived
   quantities, outputs with the inputs set so far, which must be finite and in range. */
static int model_exit_init(Instance *m) {
    double x_look[NX];
    for (int i = 0; i < NVARS; i++) {
        const VarInfo *v = &VARS[i];
        if (!v->increasing) continue;
        for (int e = 1; e < v->count; e++) {
            if (!(m->s.p[v->index + e] > m->s.p[v->index + e - 1])) {
                model_log(m, 3, "logStatusError", "parameter %s: element %d = %g is not above element %d = %g (a "
                          "grid must be strictly increasing)", v->name, e + 1, m->s.p[v->index + e], e,
                          m->s.p[v->index + e - 1]);
                return 0;
            }
        }
        if (v->count == 1 && v->element > 0 && !(m->s.p[v->index] > m->s.p[v->index - 1])) { /* FMI 2.0 rows */
            model_log(m, 3, "logStatusError", "parameter %s = %g is not above the element before, %g (a grid must "
                      "be strictly increasing)", v->name, m->s.p[v->index], m->s.p[v->index - 1]);
            return 0;
        }
    }
    if (!model_check_inputs(m, m->s.time)) return 0;
    if (!model_initial_state(m)) {
        model_log(m, 3, "logStatusError", "the initial state could not be evaluated from the parameters");
        return 0;
    }
    if (X_TIME >= 0) m->s.x[X_TIME] = m->s.time;
    for (int i = 0; i < ND; i++) {
        if (!isfinite(m->s.d[i])) {
            model_log(m, 3, "logStatusError", "a quantity derived from the parameters is %g: check the parameters",
                      m->s.d[i]);
            return 0;
        }
    }
    if (!model_outputs(m, LOOK_STEP, x_look, m->s.y)) {
        model_log(m, 3, "logStatusError", "the outputs at the initial state could not be evaluated");
        return 0;
    }
    if (!model_finite(m, m->s.x, m->s.y, m->s.time, 1)) return 0;
    model_warn(m);
    return 1;
}

/* The first output of y outside its validity limits (an output's declared min/max: a voltage
   cut-off), or NULL; the element in *element. */
static const VarInfo *model_outside(const Instance *m, const double *y, int *element) {
    for (int i = 0; i < NLIMITED; i++) {
        const VarInfo *v = &VARS[LIMITED_ROWS[i]];
        for (int e = 0; e < v->count; e++) {
            double value = y[v->index + e];
            if (value < var_min(m, v) || value > var_max(m, v)) {
                *element = e;
                return v;
            }
        }
    }
    return NULL;
}

static int all_finite(const double *a, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

/* A step from t of length dt that ends with output v outside its limits: the time the limit was
   reached, by bisection on the step length with the same inputs (to 1e-6 of the step), logged. */
static void model_log_limit(Instance *m, double t, double dt, const VarInfo *v, int element, const double *y) {
    double inside = 0.0, outside = dt, x_try[NX], y_try[NY];
    double value = y[v->index + element], lo = var_min(m, v), hi = var_max(m, v);
    int e;
    char where[160];
    while (outside - inside > 1e-6 * dt) {
        double trial = 0.5 * (inside + outside);
        if (!model_outputs(m, trial, x_try, y_try) || !all_finite(y_try, NY) || model_outside(m, y_try, &e) != NULL)
            outside = trial;
        else inside = trial;
    }
    if (v->count > 1) snprintf(where, sizeof where, "%s[%d]", v->name, element + 1);
    else snprintf(where, sizeof where, "%s", v->name);
    model_log(m, 2, "logStatusDiscard", "output %s = %.9g%s at the end of the step passes its limit %g%s: reached "
              "at t = %.6f s; the step from t = %.17g to %.17g is refused and the state stays at its start", where,
              value, v->unit, value > hi ? hi : lo, v->unit, t + 0.5 * (inside + outside), t, t + dt);
}

static int model_try_step(Instance *m, double t, double dt);

/* FMI status codes, the same numbers in FMI 2.0 and 3.0 */
enum { STATUS_OK = 0, STATUS_DISCARD = 2, STATUS_ERROR = 3 };

/* One communication step. Returns STATUS_OK, STATUS_DISCARD when an output would pass its
   validity limits, else STATUS_ERROR; on failure nothing changes but the phase (after a failed
   step only getters, reset, terminate, FMU-state restore and free) and one line is logged. */
static int model_step(Instance *m, double t, double dt) {
    int status = model_try_step(m, t, dt);
    if (status != STATUS_OK) m->s.phase = PHASE_ERROR;
    return status;
}

static int model_try_step(Instance *m, double t, double dt) {
    double x_next[NX], y_next[NY];
    const VarInfo *limited;
    int element;
    if (!model_check_inputs(m, t)) return STATUS_ERROR;
    if (!(dt > 0)) {
        model_log(m, 3, "logStatusError", "t = %.17g: communication step size %g must be > 0", t, dt);
        return STATUS_ERROR;
    }
    if (!model_outputs(m, dt, x_next, y_next)) {
        model_log(m, 3, "logStatusError", "t = %.17g: the step function failed", t);
        return STATUS_ERROR;
    }
    if (!model_finite(m, x_next, y_next, t, 0)) return STATUS_ERROR; /* generated code returns 0 even on NaN */
    if ((limited = model_outside(m, y_next, &element)) != NULL) {
        model_log_limit(m, t, dt, limited, element, y_next);
        return STATUS_DISCARD;
    }
    memcpy(m->s.x, x_next, sizeof x_next);
    memcpy(m->s.y, y_next, sizeof y_next);
    m->s.time = t + dt;
    model_warn(m);
    return STATUS_OK;
}

/* Value access by value reference; element `k` of variable `v`. */
static double model_get(const Instance *m, const VarInfo *v, int k) {
    switch (v->kind) {
    case KIND_PARAM: return m->s.p[v->index + k];
    case KIND_INPUT: return m->s.u[v->index + k];
    case KIND_OUTPUT: return m->s.y[v->index + k];
    case KIND_TIME: return m->s.time;
    default: return 0.0;
    }
}

static int model_set(Instance *m, const VarInfo *v, int k, double value) {
    double lo, hi;
    if (v->kind == KIND_OUTPUT || v->kind == KIND_ZERO || v->kind == KIND_TIME) {
        model_log(m, 3, "logStatusError", "variable %s is an output and cannot be set", v->name);
        return 0;
    }
    if (v->kind == KIND_PARAM) {
        if (!model_allowed(m, PHASE_INSTANTIATED | PHASE_INIT, "setting a parameter")) return 0;
        lo = var_min(m, v);
        hi = var_max(m, v);
        if (!isfinite(value)) {
            model_log(m, 3, "logStatusError", "parameter %s = %g is not finite", v->name, value);
            return 0;
        }
        if (value < lo || value > hi) {
            log_range(m, "parameter ", v, value, lo, hi, lo == hi ? " (fixed when the FMU was built)" : "");
            return 0;
        }
        m->s.p[v->index + k] = value;
        m->s.looked = 0;
        return 1;
    }
    if (!model_allowed(m, PHASE_INSTANTIATED | PHASE_INIT | PHASE_STEPPING, "setting an input")) return 0;
    m->s.u[v->index + k] = value; /* checked before the next step: it may depend on parameters set later */
    m->s.looked = 0;
    return 1;
}

/* Get (`set` 0) or set (`set` 1) the values of the `n` variables `vrs` of type `type` (arrays
   take `count` values each; `values_size` is FMI 3.0's nValues, or n for FMI 2.0 scalars).
   Returns 1 on success, else 0 with a log line. */
static int model_values(Instance *m, char type, const unsigned int vrs[], size_t n, double values[],
                        size_t values_size, const char *what, int set) {
    size_t k = 0;
    if (set && !model_allowed(m, PHASE_INSTANTIATED | PHASE_INIT | PHASE_STEPPING, what)) return 0;
    if (!set && m->s.phase == PHASE_INIT && !m->s.looked) { /* outputs read during initialisation */
        for (size_t i = 0; i < n; i++) {
            const VarInfo *v = find_var(vrs[i]);
            if (v && v->kind == KIND_OUTPUT) {
                if (!model_exit_init(m)) return 0; /* from what is set so far, once per change */
                m->s.looked = 1;
                break;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const VarInfo *v = find_var(vrs[i]);
        if (!v || v->type != type) {
            model_log(m, 3, "logStatusError", "%s: no such variable with value reference %u", what, vrs[i]);
            return 0;
        }
        for (int e = 0; e < v->count; e++, k++) {
            if (k >= values_size) {
                model_log(m, 3, "logStatusError", "%s: %s needs more values than the %zu given", what, v->name,
                          values_size);
                return 0;
            }
            if (!set) values[k] = model_get(m, v, e);
            else if (!model_set(m, v, e, values[k])) return 0;
        }
    }
    return 1;
}

/* FMU state: a copy of the model state (phase included, so a restore undoes a failed step).
   Serialized form: the build's GUID, then the copy. */
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
