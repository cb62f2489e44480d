/* fmutwin native FMU shell: FMI 2.0 co-simulation API over shell_core.c (written once for all twins). */
#include "fmi2Functions.h"
#include "shell_core.c"

#define INST ((Instance *)c)
#define CHECK_INST if (!c) return fmi2Error

#define LOGGING_ON(c) (((Instance *)(c))->logging_on)
#define LOG_UNSUPPORTED(c, what) model_log((Instance *)(c), 3, "logStatusError", "%s is not supported by this FMU", what)
#include "fmi2_common.c" /* log adapter, version, debug logging, what this FMU does not offer */

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
    return m;
}

void fmi2FreeInstance(fmi2Component c) {
    if (!c) return;
    free(INST->log_env);
    model_free(INST);
}

fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean toleranceDefined, fmi2Real tolerance,
                               fmi2Real startTime, fmi2Boolean stopTimeDefined, fmi2Real stopTime) {
    (void)toleranceDefined; (void)tolerance; (void)stopTimeDefined; (void)stopTime;
    CHECK_INST;
    if (!model_allowed(INST, PHASE_INSTANTIATED, "fmi2SetupExperiment")) return fmi2Error;
    INST->s.time = startTime;
    return fmi2OK;
}

fmi2Status fmi2EnterInitializationMode(fmi2Component c) {
    CHECK_INST;
    if (!model_allowed(INST, PHASE_INSTANTIATED, "fmi2EnterInitializationMode")) return fmi2Error;
    INST->s.phase = PHASE_INIT;
    return fmi2OK;
}

fmi2Status fmi2ExitInitializationMode(fmi2Component c) {
    CHECK_INST;
    if (!model_allowed(INST, PHASE_INIT, "fmi2ExitInitializationMode")) return fmi2Error;
    if (!model_exit_init(INST)) { INST->s.phase = PHASE_ERROR; return fmi2Error; }
    INST->s.phase = PHASE_STEPPING;
    return fmi2OK;
}

fmi2Status fmi2Terminate(fmi2Component c) {
    CHECK_INST;
    if (!model_allowed(INST, PHASE_STEPPING | PHASE_ERROR, "fmi2Terminate")) return fmi2Error;
    INST->s.phase = PHASE_TERMINATED;
    return fmi2OK;
}

fmi2Status fmi2Reset(fmi2Component c) {
    CHECK_INST;
    return model_reset(INST) ? fmi2OK : fmi2Error;
}

/* Real, Integer and Boolean values all live as doubles in the model state. */
#define GET_SET(NAME, TYPE, CODE, TO_C, FROM_C) \
    fmi2Status fmi2Get##NAME(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, TYPE value[]) { \
        double buffer[64]; \
        CHECK_INST; \
        for (size_t i = 0; i < nvr; i += 64) { \
            size_t n = nvr - i < 64 ? nvr - i : 64; \
            if (!model_values(INST, CODE, vr + i, n, buffer, n, "fmi2Get" #NAME, 0)) return fmi2Error; \
            for (size_t k = 0; k < n; k++) value[i + k] = TO_C(buffer[k]); \
        } \
        return fmi2OK; \
    } \
    fmi2Status fmi2Set##NAME(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const TYPE value[]) { \
        double buffer[64]; \
        CHECK_INST; \
        for (size_t i = 0; i < nvr; i += 64) { \
            size_t n = nvr - i < 64 ? nvr - i : 64; \
            for (size_t k = 0; k < n; k++) buffer[k] = FROM_C(value[i + k]); \
            if (!model_values(INST, CODE, vr + i, n, buffer, n, "fmi2Set" #NAME, 1)) return fmi2Error; \
        } \
        return fmi2OK; \
    }
#define AS_REAL(x) (x)
#define AS_INTEGER(x) ((fmi2Integer)lround(x))
#define AS_BOOLEAN(x) ((x) > 0.5 ? fmi2True : fmi2False)
#define FROM_VALUE(x) ((double)(x))
#define FROM_BOOLEAN(x) ((x) ? 1.0 : 0.0)
GET_SET(Real, fmi2Real, 'R', AS_REAL, FROM_VALUE)
GET_SET(Integer, fmi2Integer, 'I', AS_INTEGER, FROM_VALUE)
GET_SET(Boolean, fmi2Boolean, 'B', AS_BOOLEAN, FROM_BOOLEAN)

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

fmi2Status fmi2DoStep(fmi2Component c, fmi2Real currentCommunicationPoint, fmi2Real communicationStepSize,
                      fmi2Boolean noSetFMUStatePriorToCurrentPoint) {
    (void)noSetFMUStatePriorToCurrentPoint;
    CHECK_INST;
    if (!model_allowed(INST, PHASE_STEPPING, "fmi2DoStep")) return fmi2Error;
    return (fmi2Status)model_step(INST, currentCommunicationPoint, communicationStepSize);
}

fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s, fmi2Real *value) {
    CHECK_INST;
    if (s == fmi2LastSuccessfulTime) { *value = INST->s.time; return fmi2OK; }
    return fmi2Discard;
}
