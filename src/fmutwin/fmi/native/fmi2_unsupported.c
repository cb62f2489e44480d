/* fmutwin FMU shells: the FMI 2.0 co-simulation functions fmutwin's FMUs do not offer (derivatives,
 * asynchronous steps, status queries other than the last successful time). Written once for the
 * native shell and the out-of-process proxy: the file that includes it defines
 * `static fmi2Status unsupported(fmi2Component c, const char *what)` (logs "<what> is not
 * supported" and answers fmi2Error). */
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
