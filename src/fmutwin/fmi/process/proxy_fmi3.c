/* fmutwin out-of-process FMU: the FMI 3.0 co-simulation API over proxy_core.c (written once for all twins).
 * Arrays travel as their nValues elements; only co-simulation is offered. */
#define _GNU_SOURCE
#include "proxy_config.h" /* MODEL_GUID, PYTHON_PARAMETER_VR: written by build.py */
#include "fmi3Functions.h"
#include "proxy_core.c"

#define PROXY ((Proxy *)instance)
#define CHECK_INST if (!instance) return fmi3Error

#define LOGGING_ON(instance) (((Proxy *)(instance))->logging_on)
#define LOG_UNSUPPORTED(instance, what) \
    proxy_log((Proxy *)(instance), ST_ERROR, "logStatusError", "%s is not supported by this FMU", what)
#include "fmi3_common.c" /* log adapter, version, debug logging, what this FMU does not offer, NO_SUCH_TYPE */

fmi3Instance fmi3InstantiateCoSimulation(fmi3String instanceName, fmi3String instantiationToken,
                                         fmi3String resourcePath, fmi3Boolean visible, fmi3Boolean loggingOn,
                                         fmi3Boolean eventModeUsed, fmi3Boolean earlyReturnAllowed,
                                         const fmi3ValueReference requiredIntermediateVariables[],
                                         size_t nRequiredIntermediateVariables,
                                         fmi3InstanceEnvironment instanceEnvironment,
                                         fmi3LogMessageCallback logMessage,
                                         fmi3IntermediateUpdateCallback intermediateUpdate) {
    Fmi3Log *cb = NULL;
    Proxy *p;
    (void)earlyReturnAllowed; (void)requiredIntermediateVariables; (void)nRequiredIntermediateVariables;
    (void)intermediateUpdate;
    if (!instantiationToken || strcmp(instantiationToken, MODEL_GUID) != 0 || eventModeUsed) {
        if (logMessage)
            logMessage(instanceEnvironment, fmi3Error, "logStatusError",
                       "wrong instantiation token or event mode requested: this FMU was built as " MODEL_GUID);
        return NULL;
    }
    if (logMessage) {
        cb = malloc(sizeof *cb);
        if (!cb) return NULL;
        cb->env = instanceEnvironment;
        cb->log = logMessage;
    }
    p = proxy_new(instanceName, resourcePath, 3, visible, loggingOn, cb ? fmi3_log_adapter : NULL, cb);
    if (!p) free(cb);
    return p;
}

void fmi3FreeInstance(fmi3Instance instance) {
    void *env;
    if (!instance) return;
    env = PROXY->log_env;
    proxy_free(PROXY);
    free(env);
}

fmi3Status fmi3EnterInitializationMode(fmi3Instance instance, fmi3Boolean toleranceDefined, fmi3Float64 tolerance,
                                       fmi3Float64 startTime, fmi3Boolean stopTimeDefined, fmi3Float64 stopTime) {
    int status;
    CHECK_INST;
    status = proxy_setup(PROXY, startTime, stopTimeDefined, stopTime, toleranceDefined, tolerance);
    if (status > ST_WARNING) return (fmi3Status)status;
    return (fmi3Status)proxy_request(PROXY, OP_ENTER_INIT, NULL, 0);
}

fmi3Status fmi3ExitInitializationMode(fmi3Instance instance) { CHECK_INST; return (fmi3Status)proxy_simple(PROXY, OP_EXIT_INIT); }
fmi3Status fmi3Terminate(fmi3Instance instance) { CHECK_INST; return (fmi3Status)proxy_simple(PROXY, OP_TERMINATE); }
fmi3Status fmi3Reset(fmi3Instance instance) { CHECK_INST; return (fmi3Status)proxy_simple(PROXY, OP_RESET); }

#define GET_SET(NAME, TYPE, CODE) \
    fmi3Status fmi3Get##NAME(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, TYPE values[], \
                             size_t nValues) { \
        CHECK_INST; \
        return (fmi3Status)proxy_get(PROXY, CODE, vr, nvr, (void *)values, nValues, sizeof *values); \
    } \
    fmi3Status fmi3Set##NAME(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, const TYPE values[], \
                             size_t nValues) { \
        CHECK_INST; \
        return (fmi3Status)proxy_set(PROXY, CODE, vr, nvr, (const void *)values, nValues, sizeof *values); \
    }
/* fmi3Boolean is a C bool: one byte, as it travels */
GET_SET(Float64, fmi3Float64, 'R')
GET_SET(Int32, fmi3Int32, 'I')
GET_SET(Boolean, fmi3Boolean, 'B')
GET_SET(String, fmi3String, 'S')

fmi3Status fmi3GetFMUState(fmi3Instance instance, fmi3FMUState *state) {
    CHECK_INST;
    return (fmi3Status)state_get(PROXY, state);
}

fmi3Status fmi3SetFMUState(fmi3Instance instance, fmi3FMUState state) {
    CHECK_INST;
    return (fmi3Status)state_set(PROXY, state);
}

fmi3Status fmi3FreeFMUState(fmi3Instance instance, fmi3FMUState *state) {
    CHECK_INST;
    return (fmi3Status)state_free(PROXY, state);
}

fmi3Status fmi3SerializedFMUStateSize(fmi3Instance instance, fmi3FMUState state, size_t *size) {
    CHECK_INST;
    return (fmi3Status)state_size(PROXY, state, size);
}

fmi3Status fmi3SerializeFMUState(fmi3Instance instance, fmi3FMUState state, fmi3Byte bytes[], size_t size) {
    CHECK_INST;
    return (fmi3Status)state_serialize(PROXY, state, bytes, size);
}

fmi3Status fmi3DeserializeFMUState(fmi3Instance instance, const fmi3Byte bytes[], size_t size, fmi3FMUState *state) {
    CHECK_INST;
    return (fmi3Status)state_deserialize(PROXY, bytes, size, state);
}

fmi3Status fmi3DoStep(fmi3Instance instance, fmi3Float64 currentCommunicationPoint, fmi3Float64 communicationStepSize,
                      fmi3Boolean noSetFMUStatePriorToCurrentPoint, fmi3Boolean *eventHandlingNeeded,
                      fmi3Boolean *terminateSimulation, fmi3Boolean *earlyReturn, fmi3Float64 *lastSuccessfulTime) {
    int terminate = 0, status;
    (void)noSetFMUStatePriorToCurrentPoint;
    CHECK_INST;
    status = proxy_step(PROXY, currentCommunicationPoint, communicationStepSize, &terminate);
    *eventHandlingNeeded = fmi3False;
    *terminateSimulation = terminate ? fmi3True : fmi3False;
    *earlyReturn = fmi3False;
    *lastSuccessfulTime = PROXY->time;
    return (fmi3Status)status;
}
