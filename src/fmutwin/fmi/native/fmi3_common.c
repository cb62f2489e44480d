/* fmutwin FMU shells: the FMI 3.0 functions written once for the native shell and the
 * out-of-process proxy: the log adapter, version, the debug-logging switch, and what a
 * co-simulation FMU of fmutwin does not offer (model exchange, scheduled execution, events, clocks,
 * derivatives, value types without variables: NO_SUCH_TYPE). The file that includes it defines
 * CHECK_INST, LOGGING_ON(instance) (the instance's logging flag) and LOG_UNSUPPORTED(instance, what)
 * (one error line "<what> is not supported by this FMU"). */

typedef struct {
    fmi3InstanceEnvironment env;
    fmi3LogMessageCallback log;
} Fmi3Log;

/* The host's logger behind the shell's log function (env: an Fmi3Log). */
static void fmi3_log_adapter(void *env, const char *instance, int status, const char *category, const char *message) {
    const Fmi3Log *cb = (const Fmi3Log *)env;
    (void)instance;
    cb->log(cb->env, (fmi3Status)status, category, message);
}

static fmi3Status unsupported(fmi3Instance instance, const char *what) {
    if (instance) LOG_UNSUPPORTED(instance, what);
    return fmi3Error;
}

const char *fmi3GetVersion(void) { return fmi3Version; }

fmi3Status fmi3SetDebugLogging(fmi3Instance instance, fmi3Boolean loggingOn, size_t n, const fmi3String categories[]) {
    (void)n; (void)categories;
    CHECK_INST;
    LOGGING_ON(instance) = loggingOn;
    return fmi3OK;
}

fmi3Instance fmi3InstantiateModelExchange(fmi3String a, fmi3String b, fmi3String c, fmi3Boolean d, fmi3Boolean e,
                                          fmi3InstanceEnvironment f, fmi3LogMessageCallback g) {
    (void)a; (void)b; (void)c; (void)d; (void)e; (void)f; (void)g;
    return NULL;
}

fmi3Instance fmi3InstantiateScheduledExecution(fmi3String a, fmi3String b, fmi3String c, fmi3Boolean d, fmi3Boolean e,
                                               fmi3InstanceEnvironment f, fmi3LogMessageCallback g,
                                               fmi3ClockUpdateCallback h, fmi3LockPreemptionCallback i,
                                               fmi3UnlockPreemptionCallback j) {
    (void)a; (void)b; (void)c; (void)d; (void)e; (void)f; (void)g; (void)h; (void)i; (void)j;
    return NULL;
}

fmi3Status fmi3EnterEventMode(fmi3Instance instance) { return unsupported(instance, "event mode"); }

/* Value types this FMU has no variables of. */
#define NO_SUCH_TYPE(NAME, TYPE) \
    fmi3Status fmi3Get##NAME(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, TYPE values[], \
                             size_t nValues) { \
        (void)vr; (void)values; (void)nValues; \
        return nvr ? unsupported(instance, "a " #NAME " variable") : fmi3OK; \
    } \
    fmi3Status fmi3Set##NAME(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, const TYPE values[], \
                             size_t nValues) { \
        (void)vr; (void)values; (void)nValues; \
        return nvr ? unsupported(instance, "a " #NAME " variable") : fmi3OK; \
    }
NO_SUCH_TYPE(Float32, fmi3Float32)
NO_SUCH_TYPE(Int8, fmi3Int8)
NO_SUCH_TYPE(UInt8, fmi3UInt8)
NO_SUCH_TYPE(Int16, fmi3Int16)
NO_SUCH_TYPE(UInt16, fmi3UInt16)
NO_SUCH_TYPE(UInt32, fmi3UInt32)
NO_SUCH_TYPE(Int64, fmi3Int64)
NO_SUCH_TYPE(UInt64, fmi3UInt64)

fmi3Status fmi3GetBinary(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, size_t sizes[],
                         fmi3Binary values[], size_t nValues) {
    (void)vr; (void)sizes; (void)values; (void)nValues;
    return nvr ? unsupported(instance, "a Binary variable") : fmi3OK;
}
fmi3Status fmi3SetBinary(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, const size_t sizes[],
                         const fmi3Binary values[], size_t nValues) {
    (void)vr; (void)sizes; (void)values; (void)nValues;
    return nvr ? unsupported(instance, "a Binary variable") : fmi3OK;
}
fmi3Status fmi3GetClock(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, fmi3Clock values[]) {
    (void)vr; (void)values;
    return nvr ? unsupported(instance, "a Clock") : fmi3OK;
}
fmi3Status fmi3SetClock(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, const fmi3Clock values[]) {
    (void)vr; (void)values;
    return nvr ? unsupported(instance, "a Clock") : fmi3OK;
}

fmi3Status fmi3GetNumberOfVariableDependencies(fmi3Instance instance, fmi3ValueReference vr, size_t *n) {
    (void)vr; (void)n;
    return unsupported(instance, "variable dependencies");
}
fmi3Status fmi3GetVariableDependencies(fmi3Instance instance, fmi3ValueReference dependent, size_t a[],
                                       fmi3ValueReference b[], size_t c[], fmi3DependencyKind d[], size_t n) {
    (void)dependent; (void)a; (void)b; (void)c; (void)d; (void)n;
    return unsupported(instance, "variable dependencies");
}

fmi3Status fmi3GetDirectionalDerivative(fmi3Instance instance, const fmi3ValueReference a[], size_t b,
                                        const fmi3ValueReference c[], size_t d, const fmi3Float64 e[], size_t f,
                                        fmi3Float64 g[], size_t h) {
    (void)a; (void)b; (void)c; (void)d; (void)e; (void)f; (void)g; (void)h;
    return unsupported(instance, "directional derivatives");
}
fmi3Status fmi3GetAdjointDerivative(fmi3Instance instance, const fmi3ValueReference a[], size_t b,
                                    const fmi3ValueReference c[], size_t d, const fmi3Float64 e[], size_t f,
                                    fmi3Float64 g[], size_t h) {
    (void)a; (void)b; (void)c; (void)d; (void)e; (void)f; (void)g; (void)h;
    return unsupported(instance, "adjoint derivatives");
}

fmi3Status fmi3EnterConfigurationMode(fmi3Instance instance) { return unsupported(instance, "configuration mode"); }
fmi3Status fmi3ExitConfigurationMode(fmi3Instance instance) { return unsupported(instance, "configuration mode"); }

fmi3Status fmi3GetIntervalDecimal(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                                  fmi3Float64 a[], fmi3IntervalQualifier b[]) {
    (void)vr; (void)a; (void)b;
    return nvr ? unsupported(instance, "clocks") : fmi3OK;
}
fmi3Status fmi3GetIntervalFraction(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                                   fmi3UInt64 a[], fmi3UInt64 b[], fmi3IntervalQualifier c[]) {
    (void)vr; (void)a; (void)b; (void)c;
    return nvr ? unsupported(instance, "clocks") : fmi3OK;
}
fmi3Status fmi3GetShiftDecimal(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, fmi3Float64 a[]) {
    (void)vr; (void)a;
    return nvr ? unsupported(instance, "clocks") : fmi3OK;
}
fmi3Status fmi3GetShiftFraction(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, fmi3UInt64 a[],
                                fmi3UInt64 b[]) {
    (void)vr; (void)a; (void)b;
    return nvr ? unsupported(instance, "clocks") : fmi3OK;
}
fmi3Status fmi3SetIntervalDecimal(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                                  const fmi3Float64 a[]) {
    (void)vr; (void)a;
    return nvr ? unsupported(instance, "clocks") : fmi3OK;
}
fmi3Status fmi3SetIntervalFraction(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                                   const fmi3UInt64 a[], const fmi3UInt64 b[]) {
    (void)vr; (void)a; (void)b;
    return nvr ? unsupported(instance, "clocks") : fmi3OK;
}
fmi3Status fmi3SetShiftDecimal(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, const fmi3Float64 a[]) {
    (void)vr; (void)a;
    return nvr ? unsupported(instance, "clocks") : fmi3OK;
}
fmi3Status fmi3SetShiftFraction(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr, const fmi3UInt64 a[],
                                const fmi3UInt64 b[]) {
    (void)vr; (void)a; (void)b;
    return nvr ? unsupported(instance, "clocks") : fmi3OK;
}

fmi3Status fmi3EvaluateDiscreteStates(fmi3Instance instance) { return unsupported(instance, "event mode"); }
fmi3Status fmi3UpdateDiscreteStates(fmi3Instance instance, fmi3Boolean *a, fmi3Boolean *b, fmi3Boolean *c,
                                    fmi3Boolean *d, fmi3Boolean *e, fmi3Float64 *f) {
    (void)a; (void)b; (void)c; (void)d; (void)e; (void)f;
    return unsupported(instance, "event mode");
}

/* Model-exchange functions: this is a co-simulation FMU. */
fmi3Status fmi3EnterContinuousTimeMode(fmi3Instance instance) { return unsupported(instance, "model exchange"); }
fmi3Status fmi3CompletedIntegratorStep(fmi3Instance instance, fmi3Boolean a, fmi3Boolean *b, fmi3Boolean *c) {
    (void)a; (void)b; (void)c;
    return unsupported(instance, "model exchange");
}
fmi3Status fmi3SetTime(fmi3Instance instance, fmi3Float64 time) { (void)time; return unsupported(instance, "model exchange"); }
fmi3Status fmi3SetContinuousStates(fmi3Instance instance, const fmi3Float64 x[], size_t n) {
    (void)x; (void)n;
    return unsupported(instance, "model exchange");
}
fmi3Status fmi3GetContinuousStateDerivatives(fmi3Instance instance, fmi3Float64 d[], size_t n) {
    (void)d; (void)n;
    return unsupported(instance, "model exchange");
}
fmi3Status fmi3GetEventIndicators(fmi3Instance instance, fmi3Float64 e[], size_t n) {
    (void)e; (void)n;
    return unsupported(instance, "model exchange");
}
fmi3Status fmi3GetContinuousStates(fmi3Instance instance, fmi3Float64 x[], size_t n) {
    (void)x; (void)n;
    return unsupported(instance, "model exchange");
}
fmi3Status fmi3GetNominalsOfContinuousStates(fmi3Instance instance, fmi3Float64 x[], size_t n) {
    (void)x; (void)n;
    return unsupported(instance, "model exchange");
}
fmi3Status fmi3GetNumberOfEventIndicators(fmi3Instance instance, size_t *n) {
    CHECK_INST;
    *n = 0;
    return fmi3OK;
}
fmi3Status fmi3GetNumberOfContinuousStates(fmi3Instance instance, size_t *n) {
    CHECK_INST;
    *n = 0;
    return fmi3OK;
}

fmi3Status fmi3EnterStepMode(fmi3Instance instance) { CHECK_INST; return fmi3OK; }

fmi3Status fmi3GetOutputDerivatives(fmi3Instance instance, const fmi3ValueReference vr[], size_t nvr,
                                    const fmi3Int32 orders[], fmi3Float64 values[], size_t nValues) {
    (void)vr; (void)nvr; (void)orders; (void)values; (void)nValues;
    return unsupported(instance, "output derivatives");
}

fmi3Status fmi3ActivateModelPartition(fmi3Instance instance, fmi3ValueReference clock, fmi3Float64 t) {
    (void)clock; (void)t;
    return unsupported(instance, "scheduled execution");
}
