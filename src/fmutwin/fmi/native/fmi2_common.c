/* fmutwin FMU shells: the FMI 2.0 functions written once for the native shell and the
 * out-of-process proxy: the log adapter, version, the debug-logging switch, and what fmutwin's
 * FMUs do not offer (derivatives, asynchronous steps, status queries other than the last
 * successful time). The file that includes it defines LOGGING_ON(c) (the instance's logging flag)
 * and LOG_UNSUPPORTED(c, what) (one error line "<what> is not supported by this FMU"). */

/* The host's logger behind the shell's log function: env is a copy of the host's callbacks. */
static void fmi2_log_adapter(void *env, const char *instance, int status, const char *category, const char *message) {
    const fmi2CallbackFunctions *cb = (const fmi2CallbackFunctions *)env;
    cb->logger(cb->componentEnvironment, instance, (fmi2Status)status, category, "%s", message);
}

static fmi2Status unsupported(fmi2Component c, const char *what) {
    if (c) LOG_UNSUPPORTED(c, what);
    return fmi2Error;
}

const char *fmi2GetTypesPlatform(void) { return fmi2TypesPlatform; }
const char *fmi2GetVersion(void) { return fmi2Version; }

fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean loggingOn, size_t n, const fmi2String categories[]) {
    (void)n; (void)categories;
    if (!c) return fmi2Error;
    LOGGING_ON(c) = loggingOn;
    return fmi2OK;
}

fmi2Status fmi2GetDirectionalDerivative(fmi2Component c, const fmi2ValueReference vU[], size_t nU,
                                        const fmi2ValueReference vK[], size_t nK, const fmi2Real dvK[],
                                        fmi2Real dvU[]) {
    (void)vU; (void)nU; (void)vK; (void)nK; (void)dvK; (void)dvU;
    return unsupported(c, "directional derivatives");
}

fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                                       const fmi2Integer order[], const fmi2Real value[]) {
    (void)vr; (void)nvr; (void)order; (void)value;
    return unsupported(c, "input and output derivatives");
}

fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                                        const fmi2Integer order[], fmi2Real value[]) {
    (void)vr; (void)nvr; (void)order; (void)value;
    return unsupported(c, "input and output derivatives");
}

fmi2Status fmi2CancelStep(fmi2Component c) { (void)c; return fmi2Error; }

fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *value) {
    (void)c; (void)s; (void)value;
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
