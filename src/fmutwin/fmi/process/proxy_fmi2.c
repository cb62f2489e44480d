/* fmutwin out-of-process FMU: the FMI 2.0 co-simulation API over proxy_core.c (written once for all twins). */
#define _GNU_SOURCE
#include "proxy_config.h" /* MODEL_GUID, PYTHON_PARAMETER_VR: written by build.py */
#include "fmi2Functions.h"
#include "proxy_core.c"

#define PROXY ((Proxy *)c)
#define CHECK_INST if (!c) return fmi2Error

#define LOGGING_ON(c) (((Proxy *)(c))->logging_on)
#define LOG_UNSUPPORTED(c, what) proxy_log((Proxy *)(c), ST_ERROR, "logStatusError", "%s is not supported by this FMU", what)
#include "fmi2_common.c" /* log adapter, version, debug logging, what this FMU does not offer */

fmi2Component fmi2Instantiate(fmi2String instanceName, fmi2Type fmuType, fmi2String fmuGUID,
                              fmi2String fmuResourceLocation, const fmi2CallbackFunctions *functions,
                              fmi2Boolean visible, fmi2Boolean loggingOn) {
    fmi2CallbackFunctions *cb = NULL;
    Proxy *p;
    if (fmuType != fmi2CoSimulation || !fmuGUID || strcmp(fmuGUID, MODEL_GUID) != 0) {
        if (functions && functions->logger)
            functions->logger(functions->componentEnvironment, instanceName, fmi2Error, "logStatusError",
                              "%s", "wrong FMU type or GUID: this is a co-simulation FMU built as " MODEL_GUID);
        return NULL;
    }
    if (functions && functions->logger) {
        cb = malloc(sizeof *cb);
        if (!cb) return NULL;
        *cb = *functions;
    }
    p = proxy_new(instanceName, fmuResourceLocation, 2, visible, loggingOn, cb ? fmi2_log_adapter : NULL, cb);
    if (!p) free(cb);
    return p;
}

void fmi2FreeInstance(fmi2Component c) {
    void *env;
    if (!c) return;
    env = PROXY->log_env;
    proxy_free(PROXY);
    free(env);
}

fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean toleranceDefined, fmi2Real tolerance,
                               fmi2Real startTime, fmi2Boolean stopTimeDefined, fmi2Real stopTime) {
    CHECK_INST;
    return (fmi2Status)proxy_setup(PROXY, startTime, stopTimeDefined, stopTime, toleranceDefined, tolerance);
}

fmi2Status fmi2EnterInitializationMode(fmi2Component c) { CHECK_INST; return (fmi2Status)proxy_request(PROXY, OP_ENTER_INIT, NULL, 0); }
fmi2Status fmi2ExitInitializationMode(fmi2Component c) { CHECK_INST; return (fmi2Status)proxy_simple(PROXY, OP_EXIT_INIT); }
fmi2Status fmi2Terminate(fmi2Component c) { CHECK_INST; return (fmi2Status)proxy_simple(PROXY, OP_TERMINATE); }
fmi2Status fmi2Reset(fmi2Component c) { CHECK_INST; return (fmi2Status)proxy_simple(PROXY, OP_RESET); }

#define GET_SET(NAME, TYPE, CODE, WIRE) \
    fmi2Status fmi2Get##NAME(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, TYPE value[]) { \
        WIRE *wire; \
        int status; \
        CHECK_INST; \
        if (sizeof(WIRE) == sizeof(TYPE)) return (fmi2Status)proxy_get(PROXY, CODE, vr, nvr, value, nvr, sizeof(WIRE)); \
        if (!(wire = malloc((nvr ? nvr : 1) * sizeof *wire))) return fmi2Error; \
        status = proxy_get(PROXY, CODE, vr, nvr, wire, nvr, sizeof(WIRE)); \
        for (size_t k = 0; status <= ST_WARNING && k < nvr; k++) value[k] = (TYPE)wire[k]; \
        free(wire); \
        return (fmi2Status)status; \
    } \
    fmi2Status fmi2Set##NAME(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const TYPE value[]) { \
        WIRE *wire; \
        int status; \
        CHECK_INST; \
        if (sizeof(WIRE) == sizeof(TYPE)) return (fmi2Status)proxy_set(PROXY, CODE, vr, nvr, value, nvr, sizeof(WIRE)); \
        if (!(wire = malloc((nvr ? nvr : 1) * sizeof *wire))) return fmi2Error; \
        for (size_t k = 0; k < nvr; k++) wire[k] = (WIRE)(value[k] != 0); \
        status = proxy_set(PROXY, CODE, vr, nvr, wire, nvr, sizeof(WIRE)); \
        free(wire); \
        return (fmi2Status)status; \
    }
/* fmi2Boolean is an int; it travels as one byte */
GET_SET(Real, fmi2Real, 'R', double)
GET_SET(Integer, fmi2Integer, 'I', int32_t)
GET_SET(Boolean, fmi2Boolean, 'B', unsigned char)

fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2String value[]) {
    CHECK_INST;
    return (fmi2Status)proxy_get(PROXY, 'S', vr, nvr, (void *)value, nvr, sizeof *value);
}

fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2String value[]) {
    CHECK_INST;
    return (fmi2Status)proxy_set(PROXY, 'S', vr, nvr, (const void *)value, nvr, sizeof *value);
}

fmi2Status fmi2GetFMUstate(fmi2Component c, fmi2FMUstate *state) {
    CHECK_INST;
    return (fmi2Status)state_get(PROXY, state);
}

fmi2Status fmi2SetFMUstate(fmi2Component c, fmi2FMUstate state) {
    CHECK_INST;
    return (fmi2Status)state_set(PROXY, state);
}

fmi2Status fmi2FreeFMUstate(fmi2Component c, fmi2FMUstate *state) {
    CHECK_INST;
    return (fmi2Status)state_free(PROXY, state);
}

fmi2Status fmi2SerializedFMUstateSize(fmi2Component c, fmi2FMUstate state, size_t *size) {
    CHECK_INST;
    return (fmi2Status)state_size(PROXY, state, size);
}

fmi2Status fmi2SerializeFMUstate(fmi2Component c, fmi2FMUstate state, fmi2Byte bytes[], size_t size) {
    CHECK_INST;
    return (fmi2Status)state_serialize(PROXY, state, (unsigned char *)bytes, size);
}

fmi2Status fmi2DeSerializeFMUstate(fmi2Component c, const fmi2Byte bytes[], size_t size, fmi2FMUstate *state) {
    CHECK_INST;
    return (fmi2Status)state_deserialize(PROXY, (const unsigned char *)bytes, size, state);
}

fmi2Status fmi2DoStep(fmi2Component c, fmi2Real currentCommunicationPoint, fmi2Real communicationStepSize,
                      fmi2Boolean noSetFMUStatePriorToCurrentPoint) {
    int terminate;
    (void)noSetFMUStatePriorToCurrentPoint;
    CHECK_INST;
    return (fmi2Status)proxy_step(PROXY, currentCommunicationPoint, communicationStepSize, &terminate);
}

fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s, fmi2Real *value) {
    CHECK_INST;
    if (s == fmi2LastSuccessfulTime) { *value = PROXY->time; return fmi2OK; }
    return fmi2Discard;
}
