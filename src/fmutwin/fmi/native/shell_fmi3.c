/* fmutwin native FMU shell: FMI 3.0 co-simulation API over shell_core.c (written once for all twins).
 * Only co-simulation is offered; the other interface types and unused value types answer fmi3Error. */
#include "fmi3Functions.h"
#include "shell_core.c"

#define INST ((Instance *)instance)
#define CHECK_INST if (!instance) return fmi3Error

#define LOGGING_ON(instance) (((Instance *)(instance))->logging_on)
#define LOG_UNSUPPORTED(instance, what) \
    model_log((Instance *)(instance), 3, "logStatusError", "%s is not supported by this FMU", what)
#include "fmi3_common.c" /* log adapter, version, debug logging, what this FMU does not offer, NO_SUCH_TYPE */

NO_SUCH_TYPE(String, fmi3String)

fmi3Instance fmi3InstantiateCoSimulation(fmi3String instanceName, fmi3String instantiationToken,
                                         fmi3String resourcePath, fmi3Boolean visible, fmi3Boolean loggingOn,
                                         fmi3Boolean eventModeUsed, fmi3Boolean earlyReturnAllowed,
                                         const fmi3ValueReference requiredIntermediateVariables[],
                                         size_t nRequiredIntermediateVariables,
                                         fmi3InstanceEnvironment instanceEnvironment,
                                         fmi3LogMessageCallback logMessage,
                                         fmi3IntermediateUpdateCallback intermediateUpdate) {
    Instance *m;
    (void)resourcePath; (void)visible; (void)earlyReturnAllowed; (void)requiredIntermediateVariables;
    (void)nRequiredIntermediateVariables; (void)intermediateUpdate;
    if (!instantiationToken || strcmp(instantiationToken, MODEL_GUID) != 0 || eventModeUsed) {
        if (logMessage)
            logMessage(instanceEnvironment, fmi3Error, "logStatusError",
                       "wrong instantiation token or event mode requested: this FMU was built as " MODEL_GUID);
        return NULL;
    }
    m = model_new(instanceName);
    if (!m) return NULL;
    m->logging_on = loggingOn;
    if (logMessage) {
        Fmi3Log *cb = malloc(sizeof *cb);
        if (!cb) { model_free(m); return NULL; }
        cb->env = instanceEnvironment;
        cb->log = logMessage;
        m->log = fmi3_log_adapter;
        m->log_env = cb;
    }
    return m;
}

void fmi3FreeInstance(fmi3Instance instance) {
    if (!instance) return;
    free(INST->log_env);
    model_free(INST);
}

fmi3Status fmi3EnterInitializationMode(fmi3Instance instance, fmi3Boolean toleranceDefined, fmi3Float64 tolerance,
                                       fmi3Float64 startTime, fmi3Boolean stopTimeDefined, fmi3Float64 stopTime) {
    (void)toleranceDefined; (void)tolerance; (void)stopTimeDefined; (void)stopTime;
    CHECK_INST;
    if (!model_allowed(INST, PHASE_INSTANTIATED, "fmi3EnterInitializationMode")) return fmi3Error;
    INST->s.time = startTime;
    INST->s.phase = PHASE_INIT;
    return fmi3OK;
}

fmi3Status fmi3ExitInitializationMode(fmi3Instance instance) {
    CHECK_INST;
    if (!model_allowed(INST, PHASE_INIT, "fmi3ExitInitializationMode")) return fmi3Error;
    if (!model_exit_init(INST)) { INST->s.phase = PHASE_ERROR; return fmi3Error; }
    INST->s.phase = PHASE_STEPPING;
    return fmi3OK;
}

fmi3Status fmi3Terminate(fmi3Instance instance) {
    CHECK_INST;
    if (!model_allowed(INST, PHASE_STEPPING | PHASE_ERROR, "fmi3Terminate")) return fmi3Error;
    INST->s.phase = PHASE_TERMINATED;
    return fmi3OK;
}

fmi3Status fmi3Reset(fmi3Instance instance) {
    CHECK_INST;
    return model_reset(INST) ? fmi3OK : fmi3Error;
}

/* Float64, Int32 and Boolean values all live as doubles in the model state; arrays count their
   elements in nValues. */
#define GET_SET(NAME, TYPE, CODE, TO_C, FROM_C) \
    fmi3Status fmi3Get##NAME(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, TYPE values[], \
                             size_t nValues) { \
        double *buffer; \
        int ok; \
        CHECK_INST; \
        buffer = malloc((nValues ? nValues : 1) * sizeof *buffer); \
        if (!buffer) return fmi3Error; \
        ok = model_values(INST, CODE, vr, nvr, buffer, nValues, "fmi3Get" #NAME, 0); \
        for (size_t k = 0; ok && k < nValues; k++) values[k] = TO_C(buffer[k]); \
        free(buffer); \
        return ok ? fmi3OK : fmi3Error; \
    } \
    fmi3Status fmi3Set##NAME(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, const TYPE values[], \
                             size_t nValues) { \
        double *buffer; \
        int ok; \
        CHECK_INST; \
        buffer = malloc((nValues ? nValues : 1) * sizeof *buffer); \
        if (!buffer) return fmi3Error; \
        for (size_t k = 0; k < nValues; k++) buffer[k] = FROM_C(values[k]); \
        ok = model_values(INST, CODE, vr, nvr, buffer, nValues, "fmi3Set" #NAME, 1); \
        free(buffer); \
        return ok ? fmi3OK : fmi3Error; \
    }
#define AS_FLOAT64(x) (x)
#define AS_INT32(x) ((fmi3Int32)lround(x))
#define AS_BOOLEAN(x) ((x) > 0.5 ? fmi3True : fmi3False)
#define FROM_VALUE(x) ((double)(x))
#define FROM_BOOLEAN(x) ((x) ? 1.0 : 0.0)
GET_SET(Float64, fmi3Float64, 'R', AS_FLOAT64, FROM_VALUE)
GET_SET(Int32, fmi3Int32, 'I', AS_INT32, FROM_VALUE)
GET_SET(Boolean, fmi3Boolean, 'B', AS_BOOLEAN, FROM_BOOLEAN)

fmi3Status fmi3GetFMUState(fmi3Instance instance, fmi3FMUState *state) {
    CHECK_INST;
    return state_get(INST, state) ? fmi3OK : fmi3Error;
}

fmi3Status fmi3SetFMUState(fmi3Instance instance, fmi3FMUState state) {
    CHECK_INST;
    return state_set(INST, state) ? fmi3OK : fmi3Error;
}

fmi3Status fmi3FreeFMUState(fmi3Instance instance, fmi3FMUState *state) {
    (void)instance;
    state_free(state);
    return fmi3OK;
}

fmi3Status fmi3SerializedFMUStateSize(fmi3Instance instance, fmi3FMUState state, size_t *size) {
    (void)instance; (void)state;
    *size = STATE_BYTES;
    return fmi3OK;
}

fmi3Status fmi3SerializeFMUState(fmi3Instance instance, fmi3FMUState state, fmi3Byte bytes[], size_t size) {
    CHECK_INST;
    return state_serialize(state, bytes, size) ? fmi3OK : fmi3Error;
}

fmi3Status fmi3DeserializeFMUState(fmi3Instance instance, const fmi3Byte bytes[], size_t size, fmi3FMUState *state) {
    CHECK_INST;
    return state_deserialize(INST, bytes, size, state) ? fmi3OK : fmi3Error;
}

fmi3Status fmi3DoStep(fmi3Instance instance, fmi3Float64 currentCommunicationPoint, fmi3Float64 communicationStepSize,
                      fmi3Boolean noSetFMUStatePriorToCurrentPoint, fmi3Boolean *eventHandlingNeeded,
                      fmi3Boolean *terminateSimulation, fmi3Boolean *earlyReturn, fmi3Float64 *lastSuccessfulTime) {
    (void)noSetFMUStatePriorToCurrentPoint;
    CHECK_INST;
    *eventHandlingNeeded = fmi3False;
    *terminateSimulation = fmi3False;
    *earlyReturn = fmi3False;
    *lastSuccessfulTime = INST->s.time;
    if (!model_allowed(INST, PHASE_STEPPING, "fmi3DoStep")) return fmi3Error;
    fmi3Status status = (fmi3Status)model_step(INST, currentCommunicationPoint, communicationStepSize);
    if (status != fmi3OK) return status;
    *lastSuccessfulTime = INST->s.time;
    return fmi3OK;
}
