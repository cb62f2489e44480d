/*
 * sundials_link.c -- linked into the C test host to make it a host that uses the system's SUNDIALS
 * (Debian's libsundials-dev, 6.x), as OpenModelica-based tools and many simulators are.
 *
 * A constructor creates and frees a SUNDIALS context before main, so the host's process has the
 * system's SUNDIALS loaded and in use when it loads an FMU. An FMU that brings its own SUNDIALS
 * into that process (pybammsolvers' 7.x, inside a Python FMU run in-process) binds to the
 * host's symbols instead; the out-of-process FMU keeps its SUNDIALS in the worker.
 *
 * Build:  gcc -std=c99 -O2 -o fmu_host_sundials fmu_host.c sundials_link.c -ldl \
 *             -Wl,--no-as-needed -lsundials_cvode -lsundials_nvecserial
 */
#include <stdio.h>
#include <stdlib.h>

#include <sundials/sundials_context.h>

__attribute__((constructor)) static void use_the_system_sundials(void)
{
    SUNContext context;
    if (SUNContext_Create(NULL, &context) != 0 || SUNContext_Free(&context) != 0) {
        fprintf(stderr, "fmu_host: the system's SUNDIALS context cannot be created\n");
        exit(1);
    }
}
