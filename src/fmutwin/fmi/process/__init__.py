"""Out-of-process Python FMUs: a native proxy binary (``proxy_core.c`` with ``proxy_fmi2.c`` /
``proxy_fmi3.c``) that runs each FMU instance's Python slave in a worker process (``worker.py``),
so the host never loads libpython (``build.make_out_of_process``)."""
