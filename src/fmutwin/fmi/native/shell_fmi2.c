/* fmutwin native FMU shell: FMI 2.0 co-simulation API over shell_core.c (written once for all twins). */
#include "fmi2Functions.h"
#include "shell_core.c"

#define INST ((Instance *)c)
#define CHECK_INST if (!c) return fmi2Error


static void fmi2_log_adapter(void *env, const char *instance, int status, const char *category, const char *message) {
    const fmi2CallbackFunctions *cb = (const fmi2CallbackFunctions *)env;
    cb->logger(cb->componentEnvironment, instance, (fmi2Status)status, category, "%s", message);
}

const char *fmi2GetTypesPlatform(void) { return fmi2TypesPlatform; }
const char *fmi2GetVersion(void) { return fmi2Version; }

fmi2Component fmi2Instantiate(fmi2String instanceName, fmi2Type fmuType, fmi2String fmuGUID,
                              fmi2String fmuResourceLocation, const fmi2CallbackFunctions *functions,
                              fmi2Boolean visible, fmi2Boolean loggingOn) {
    Instance *m;
    (void)fmuResourceLocation; (void)visible;
    if (fmuType != fmi2CoSimulation || !fmuGUID || strcmp(fmuGUID, MODEL_GUID) != 0) {
        if (functions && functions->logger)
            functions->logger(functions->componentEnvironment, instanceName, fmi2Error, "logStatusError",
                              "%s", "wrong FMU type or GUID: this is a co-simulation FMU built as " MODEL_GUID);
        return NULL;
    }
    m = model_new(instanceName);
    if (!m) return NULL;
    m->logging_on = loggingOn;
    if (functions && functions->logger) {
        fmi2CallbackFunctions *copy = malloc(sizeof *copy);
        if (!copy) { model_free(m); return NULL; }
        *copy = *functions;
        m->log = fmi2_log_adapter;
        m->log_env = copy;
    }
    m->phase = PHASE_INSTANTIATED;
    return m;
}

void fmi2FreeInstance(fmi2Component c) {
    if (!c) return;
    free(INST->log_env);
    model_free(INST);
}

fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean loggingOn, size_t n, const fmi2String categories[]) {
    (void)n; (void)categories;
    CHECK_INST;
    INST->logging_on = loggingOn;
    return fmi2OK;
}

fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean toleranceDefined, fmi2Real tolerance,
                               fmi2Real startTime, fmi2Boolean stopTimeDefined, fmi2Real stopTime) {
    (void)toleranceDefined; (void)tolerance; (void)stopTimeDefined; (void)stopTime;
    CHECK_INST;
    INST->s.time = startTime;
    return fmi2OK;
}

fmi2Status fmi2EnterInitializationMode(fmi2Component c) { CHECK_INST; INST->phase = PHASE_INIT; return fmi2OK; }

fmi2Status fmi2ExitInitializationMode(fmi2Component c) {
    CHECK_INST;
    if (!model_exit_init(INST)) { INST->phase = PHASE_ERROR; return fmi2Error; }
    INST->phase = PHASE_STEPPING;
    return fmi2OK;
}

fmi2Status fmi2Terminate(fmi2Component c) { CHECK_INST; INST->phase = PHASE_TERMINATED; return fmi2OK; }

fmi2Status fmi2Reset(fmi2Component c) {
    CHECK_INST;
    model_reset(INST);
    return fmi2OK;
}

fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2Real value[]) {
    CHECK_INST;
    for (size_t i = 0; i < nvr; i++) {
        const VarInfo *v = find_var(vr[i]);
        if (!v || v->type != 'R') { model_log(INST, 3, "logStatusError", "no Real variable with value reference %u", vr[i]); return fmi2Error; }
        value[i] = model_get(INST, v, 0);
    }
    return fmi2OK;
}

fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2Real value[]) {
    CHECK_INST;
    for (size_t i = 0; i < nvr; i++) {
        const VarInfo *v = find_var(vr[i]);
        if (!v || v->type != 'R') { model_log(INST, 3, "logStatusError", "no Real variable with value reference %u", vr[i]); return fmi2Error; }
        if (!model_set(INST, v, 0, value[i])) return fmi2Error;
    }
    return fmi2OK;
}

fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2Boolean value[]) {
    CHECK_INST;
    for (size_t i = 0; i < nvr; i++) {
        const VarInfo *v = find_var(vr[i]);
        if (!v || v->type != 'B') { model_log(INST, 3, "logStatusError", "no Boolean variable with value reference %u", vr[i]); return fmi2Error; }
        value[i] = model_get(INST, v, 0) > 0.5;
    }
    return fmi2OK;
}

fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2Boolean value[]) {
    (void)vr; (void)value;
    CHECK_INST;
    if (nvr) { model_log(INST, 3, "logStatusError", "this FMU has no Boolean inputs or parameters"); return fmi2Error; }
    return fmi2OK;
}

fmi2Status fmi2GetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2Integer value[]) {
    (void)vr; (void)value;
    CHECK_INST;
    if (nvr) { model_log(INST, 3, "logStatusError", "this FMU has no Integer variables"); return fmi2Error; }
    return fmi2OK;
}

fmi2Status fmi2SetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2Integer value[]) {
    return fmi2GetInteger(c, vr, nvr, (fmi2Integer *)value);
}

fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2String value[]) {
    (void)vr; (void)value;
    CHECK_INST;
    if (nvr) { model_log(INST, 3, "logStatusError", "this FMU has no String variables"); return fmi2Error; }
    return fmi2OK;
}

fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2String value[]) {
    return fmi2GetString(c, vr, nvr, (fmi2String *)value);
}

fmi2Status fmi2GetFMUstate(fmi2Component c, fmi2FMUstate *state) {
    CHECK_INST;
    return state_get(INST, state) ? fmi2OK : fmi2Error;
}

fmi2Status fmi2SetFMUstate(fmi2Component c, fmi2FMUstate state) {
    CHECK_INST;
    return state_set(INST, state) ? fmi2OK : fmi2Error;
}

fmi2Status fmi2FreeFMUstate(fmi2Component c, fmi2FMUstate *state) {
    (void)c;
    state_free(state);
    return fmi2OK;
}

fmi2Status fmi2SerializedFMUstateSize(fmi2Component c, fmi2FMUstate state, size_t *size) {
    (void)c; (void)state;
    *size = STATE_BYTES;
    return fmi2OK;
}

fmi2Status fmi2SerializeFMUstate(fmi2Component c, fmi2FMUstate state, fmi2Byte bytes[], size_t size) {
    CHECK_INST;
    return state_serialize(state, (unsigned char *)bytes, size) ? fmi2OK : fmi2Error;
}

fmi2Status fmi2DeSerializeFMUstate(fmi2Component c, const fmi2Byte bytes[], size_t size, fmi2FMUstate *state) {
    CHECK_INST;
    return state_deserialize(INST, (const unsigned char *)bytes, size, state) ? fmi2OK : fmi2Error;
}

fmi2Status fmi2GetDirectionalDerivative(fmi2Component c, const fmi2ValueReference vU[], size_t nU,
                                        const fmi2ValueReference vK[], size_t nK, const fmi2Real dvK[],
                                        fmi2Real dvU[]) {
    (void)vU; (void)nU; (void)vK; (void)nK; (void)dvK; (void)dvU;
    CHECK_INST;
    model_log(INST, 3, "logStatusError", "directional derivatives are not provided");
    return fmi2Error;
}

fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                                       const fmi2Integer order[], const fmi2Real value[]) {
    (void)vr; (void)nvr; (void)order; (void)value;
    CHECK_INST;
    return fmi2Error;
}

fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                                        const fmi2Integer order[], fmi2Real value[]) {
    (void)vr; (void)nvr; (void)order; (void)value;
    CHECK_INST;
    return fmi2Error;
}

fmi2Status fmi2DoStep(fmi2Component c, fmi2Real currentCommunicationPoint, fmi2Real communicationStepSize,
                      fmi2Boolean noSetFMUStatePriorToCurrentPoint) {
    (void)noSetFMUStatePriorToCurrentPoint;
    CHECK_INST;
    if (INST->phase != PHASE_STEPPING) {
        model_log(INST, 3, "logStatusError", "doStep called before exitInitializationMode or after an error");
        return fmi2Error;
    }
    return model_step(INST, currentCommunicationPoint, communicationStepSize) ? fmi2OK : fmi2Error;
}

fmi2Status fmi2CancelStep(fmi2Component c) { (void)c; return fmi2Error; }

fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *value) {
    (void)c; (void)s; (void)value;
    return fmi2Discard;
}

fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s, fmi2Real *value) {
    CHECK_INST;
    if (s == fmi2LastSuccessfulTime) { *value = INST->s.time; return fmi2OK; }
    return fmi2Discard;
}

fmi2Status fmi2GetIntegerStatus(fmi2Component c, const fmi2StatusKind s, fmi2Integer *value) {
    (void)c; (void)s; (void)value;
    return fmi2Discard;
}

fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *value) {
    (void)c; (void)s; (void)value;
    return fmi2Discard;
}

fmi2Status fmi2GetStringStatus(fmi2Component c, const fmi2StatusKind s, fmi2String *value) {
    (void)c; (void)s; (void)value;
    return fmi2Discard;
}
