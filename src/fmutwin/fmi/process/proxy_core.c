/* fmutwin out-of-process FMU: the native side, written once for every Python twin and FMI version.
 *
 * The host loads this small library instead of libpython: it starts one Python worker process
 * per FMU instance (fmutwin/fmi/process/worker.py, run from the FMU's resources/ folder) and
 * forwards every FMI call to it over a Unix socket. The host never loads libpython, numpy,
 * CasADi or SUNDIALS, so nothing has to be preloaded, nothing clashes with the host's own
 * libraries and nothing is left to crash when the library is unloaded.
 *
 * Which Python runs the worker, the first that is given:
 *   1. the FMU's String parameter pythonExecutable (PYTHON_PARAMETER_VR), if set non-empty;
 *   2. the environment variable FMUTWIN_PYTHON;
 *   3. the interpreter recorded when the FMU was built (resources/fmutwin_python.txt), if it
 *      exists on this machine;
 *   4. python3 on PATH.
 * The worker starts at the first call that needs its answer (the end of initialisation, a get, a
 * step, an FMU state), not at instantiation, so that the parameter can be set like any other
 * (also in initialisation mode, where some importers set parameters); the experiment's setup,
 * entering initialisation and value settings before that are kept and replayed in order.
 * The worker runs in the host's environment without LD_PRELOAD, LD_LIBRARY_PATH and PYTHON*
 * (the host's own settings; FMUTWIN_WORKER_KEEP_ENVIRONMENT keeps them), ignores SIGINT and
 * holds none of the host's other files.
 *
 * Waiting for an answer: a process that sleeps in poll() is woken tens of microseconds after the
 * answer arrives on a virtual machine, more than the rest of a round trip. So, as the Linux block
 * layer's hybrid polling, the proxy sleeps until shortly before the answer is expected (the
 * request's last waits), then polls without sleeping, yielding the core to any other runnable
 * thread, for at most FMUTWIN_PROXY_SPIN_S (default 1 ms; 0: always sleep), then sleeps.
 *
 * Failures never hang or crash the host: a worker that exits, is killed or does not answer
 * within the timeout (environment variable FMUTWIN_WORKER_TIMEOUT_S, default 600 s) gives an
 * error status with a log line naming what happened, and the instance then only accepts free.
 * A freed instance closes its socket; the worker exits on that (and on its host's death: the
 * kernel closes the socket), and is reaped here (killed if it has not gone within 5 s).
 *
 * Wire format: see worker.py. The API files (proxy_fmi2.c, proxy_fmi3.c) include this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* MODEL_GUID and PYTHON_PARAMETER_VR are defined by the build (gcc -D). */

enum { OP_INSTANTIATE = 1, OP_SETUP, OP_ENTER_INIT, OP_EXIT_INIT, OP_STEP, OP_TERMINATE, OP_RESET, OP_GET, OP_SET,
       OP_GET_STATE, OP_SET_STATE, OP_FREE_STATE, OP_SERIALIZE, OP_DESERIALIZE };
enum { ST_OK = 0, ST_WARNING = 1, ST_DISCARD = 2, ST_ERROR = 3, ST_FATAL = 4 };

#define PYTHON_FILE "fmutwin_python.txt"
#define DEFAULT_TIMEOUT_S 600.0
#define MAX_UNANSWERED 64 /* settings queued or sent without waiting for their answers, at most */
#define DEFAULT_SPIN_S 1e-3
#define MAX_SPIN_S 0.1
#define N_OPS 16

static const char BOOTSTRAP[] =
    "import os, signal, socket, struct, sys\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)  # the host's Ctrl-C is the host's; the socket ends us\n"
    "if sys.path and sys.path[0] == '': del sys.path[0]  # not the host's working directory\n"
    "sock = socket.socket(fileno=3)\n"
    "try:\n"
    "    sys.path.insert(0, sys.argv[1])\n"
    "    from fmutwin.fmi.process.worker import serve\n"
    "except BaseException as exc:\n"
    "    name = getattr(exc, 'name', None)\n"
    "    text = (f'the Python worker {sys.executable} lacks the package {name.split(\".\")[0]!r} ({exc})'\n"
    "            if isinstance(exc, ModuleNotFoundError) and name else\n"
    "            f'the Python worker {sys.executable} cannot start: {type(exc).__name__}: {exc}').encode()\n"
    "    log = b'logStatusError\\0' + text\n"
    "    sock.sendall(struct.pack('=BiI', 76, 3, len(log)) + log + struct.pack('=BiI', 82, 3, 0))\n"
    "    os._exit(1)\n"
    "serve(3)\n"
    "sys.stdout.flush(); sys.stderr.flush()\n"
    "os._exit(0)\n";

typedef struct {
    unsigned char *data;
    size_t size, cap;
} Buffer;

typedef void (*LogFunction)(void *env, const char *instance, int status, const char *category, const char *message);

typedef struct {
    char *instance_name;
    char *resources; /* a directory path */
    char *python;    /* the pythonExecutable parameter, "" if not set */
    int fmi_version, visible, logging_on;
    LogFunction log;
    void *log_env;
    pid_t pid;
    int fd;
    int started, broken;
    int unanswered;  /* settings queued or sent whose answers are still to be read */
    /* the Real outputs as the last step left them (sent with its answer), until the next request
       that is not a get: getting them needs no round trip */
    int cache_valid;
    uint32_t cache_n;
    Buffer cache;    /* cache_n refs, cache_n element counts, then the values (doubles) */
    double timeout_s;
    Buffer pending;  /* requests needing no answer (setup, settings) made before the worker started */
    Buffer request;  /* the request being written */
    Buffer outgoing; /* framed requests not yet sent */
    Buffer reply;    /* the payload of the last result */
    Buffer inbox;    /* received from the worker, read up to inbox_at */
    size_t inbox_at;
    double spin_s;          /* the longest one wait polls without sleeping */
    double expected[N_OPS]; /* per request code: how long its answers took to come (a moving average) */
    int measure;            /* the next wait is the first of an exchange: it updates `expected` */
    char **strings;  /* strings of the last String get (valid until the next call) */
    size_t n_strings;
    double time;     /* the last successful communication point */
    char found[4096]; /* the interpreter found on PATH or recorded (per instance: threads may start workers) */
} Proxy;

/* ---------------------------------------------------------------- small helpers */

static int buffer_reserve(Buffer *b, size_t n) {
    if (n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < n) cap *= 2;
        unsigned char *grown = realloc(b->data, cap);
        if (!grown) return 0;
        b->data = grown;
        b->cap = cap;
    }
    return 1;
}

static int buffer_put(Buffer *b, const void *data, size_t n) {
    if (!buffer_reserve(b, b->size + n)) return 0;
    if (n) memcpy(b->data + b->size, data, n);
    b->size += n;
    return 1;
}

static void proxy_log(Proxy *p, int status, const char *category, const char *fmt, ...) {
    char message[2048];
    va_list args;
    if (!p->log || (status == ST_OK && !p->logging_on)) return;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    p->log(p->log_env, p->instance_name, status, category, message);
}

static char *copy_string(const char *s) {
    char *c = malloc(strlen(s ? s : "") + 1);
    if (c) strcpy(c, s ? s : "");
    return c;
}

/* A file URI (file:///a/b, file:/a/b, %-escapes) or a plain path -> a path, malloc'ed. */
static char *resource_path(const char *location) {
    const char *s = location ? location : "";
    char *out, *o;
    if (strncmp(s, "file://", 7) == 0) {
        s += 7;
        if (strncmp(s, "localhost/", 10) == 0) s += 9;
    } else if (strncmp(s, "file:", 5) == 0) {
        s += 5;
    }
    out = malloc(strlen(s) + 1);
    if (!out) return NULL;
    for (o = out; *s; s++) {
        if (s[0] == '%' && s[1] && s[2]) {
            char hex[3] = {s[1], s[2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    while (o > out + 1 && o[-1] == '/') o--; /* no trailing slash */
    *o = 0;
    return out;
}

static double monotonic_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A duration in seconds from the environment variable `name`: `fallback` when it is unset, not a
 * number, negative or not finite; at most `most`. */
static double seconds_setting(const char *name, double fallback, double most) {
    const char *text = getenv(name);
    char *end;
    double value;
    if (!text || !*text) return fallback;
    value = strtod(text, &end);
    if (*end || !isfinite(value) || value < 0) return fallback;
    return value < most ? value : most;
}

static int executable(const char *path) {
    struct stat st;
    return path && *path && stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* ---------------------------------------------------------------- the instance */

static Proxy *proxy_new(const char *name, const char *resources, int fmi_version, int visible, int logging_on,
                        LogFunction log, void *log_env) {
    Proxy *p = calloc(1, sizeof *p);
    const char *timeout = getenv("FMUTWIN_WORKER_TIMEOUT_S");
    if (!p) return NULL;
    p->instance_name = copy_string(name);
    p->resources = resource_path(resources);
    p->python = copy_string("");
    p->fmi_version = fmi_version;
    p->visible = visible;
    p->logging_on = logging_on;
    p->log = log;
    p->log_env = log_env;
    p->pid = -1;
    p->fd = -1;
    p->timeout_s = timeout && atof(timeout) > 0 ? atof(timeout) : DEFAULT_TIMEOUT_S;
    p->spin_s = seconds_setting("FMUTWIN_PROXY_SPIN_S", DEFAULT_SPIN_S, MAX_SPIN_S);
    if (!p->instance_name || !p->resources || !p->python) return NULL;
    return p;
}

static void clear_strings(Proxy *p) {
    for (size_t k = 0; k < p->n_strings; k++) free(p->strings[k]);
    free(p->strings);
    p->strings = NULL;
    p->n_strings = 0;
}

/* The worker's end: close the socket (the worker exits on that), wait up to 5 s, then kill it. */
static void stop_worker(Proxy *p) {
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
    p->inbox.size = p->inbox_at = 0;
    p->outgoing.size = 0;
    p->cache_valid = 0;
    if (p->pid > 0) {
        double deadline = monotonic_s() + 5.0;
        int status;
        while (waitpid(p->pid, &status, WNOHANG) == 0) {
            if (monotonic_s() > deadline) {
                kill(p->pid, SIGKILL);
                waitpid(p->pid, &status, 0);
                break;
            }
            usleep(2000);
        }
    }
    p->pid = -1;
}

static void proxy_free(Proxy *p) {
    if (!p) return;
    stop_worker(p);
    clear_strings(p);
    free(p->pending.data);
    free(p->cache.data);
    free(p->request.data);
    free(p->outgoing.data);
    free(p->reply.data);
    free(p->inbox.data);
    free(p->instance_name);
    free(p->resources);
    free(p->python);
    free(p);
}

/* The worker failed: log what happened (its exit status if it has ended), refuse further calls. */
static int worker_failed(Proxy *p, const char *what) {
    int status = 0, ended = 0;
    char detail[160] = "";
    double deadline = monotonic_s() + 1.0; /* its socket closes just before the process ends */
    while (p->pid > 0 && !(ended = waitpid(p->pid, &status, WNOHANG) == p->pid) && monotonic_s() < deadline)
        usleep(1000);
    if (ended) {
        if (WIFSIGNALED(status))
            snprintf(detail, sizeof detail, " (the worker process %d was killed by signal %d)", (int)p->pid,
                     WTERMSIG(status));
        else if (WIFEXITED(status))
            snprintf(detail, sizeof detail, " (the worker process %d exited with status %d)", (int)p->pid,
                     WEXITSTATUS(status));
        p->pid = -1;
    }
    proxy_log(p, ST_ERROR, "logStatusError", "Python worker: %s%s; free this instance", what, detail);
    p->broken = 1;
    if (p->pid > 0) kill(p->pid, SIGKILL);
    stop_worker(p);
    return ST_ERROR;
}

/* Sleep in ppoll() until fd has `events` (POLLIN, POLLOUT), for at most `seconds`; ppoll's result. */
static int sleep_until(int fd, short events, double seconds) {
    struct pollfd fds = {fd, events, 0};
    struct timespec t;
    if (seconds > 1e6) seconds = 1e6;
    t.tv_sec = (time_t)seconds;
    t.tv_nsec = (long)((seconds - (double)t.tv_sec) * 1e9);
    return ppoll(&fds, 1, &t, NULL);
}

/* Wait until the worker's answer to a request `op` can be read: 1, or 0 with errno ETIMEDOUT at
 * the deadline (or poll's errno). Hybrid polling (see the top of this file): sleep until spin_s/2
 * before the answer is expected, then poll without sleeping for up to spin_s, then sleep. The
 * expected time is that of `op`'s earlier exchanges, from their requests' write to their first
 * answer bytes (the worker writes the answers to a batch of settings and a request together). */
static int wait_readable(Proxy *p, unsigned char op, double deadline) {
    struct pollfd fds = {p->fd, POLLIN, 0};
    double start = monotonic_s(), *expected = &p->expected[op % N_OPS], nap, waited;
    int measure = p->measure;
    int ready = poll(&fds, 1, 0);
    if (ready == 0 && p->spin_s > 0) {
        nap = *expected - 0.5 * p->spin_s;
        if (nap > 0 && start + nap < deadline) ready = sleep_until(p->fd, POLLIN, nap);
        if (ready == 0) {
            double spin_end = monotonic_s() + p->spin_s;
            if (spin_end > deadline) spin_end = deadline;
            while ((ready = poll(&fds, 1, 0)) == 0 && monotonic_s() < spin_end) sched_yield();
        }
    }
    while (ready == 0 || (ready < 0 && errno == EINTR)) {
        double left = deadline - monotonic_s();
        if (left <= 0) { errno = ETIMEDOUT; return 0; }
        ready = sleep_until(p->fd, POLLIN, left);
    }
    if (ready < 0) return 0;
    if (measure) { /* the first wait of an exchange: how long the worker took to answer */
        p->measure = 0;
        waited = monotonic_s() - start;
        *expected = *expected > 0 ? 0.75 * *expected + 0.25 * waited : waited;
    }
    return 1;
}

/* Read n bytes of the answer to `op` before the deadline; 0 with errno ETIMEDOUT, 0 at end of
 * file (errno 0), or 0 with another errno (ENOMEM, a poll or recv error). Receives whatever
 * has arrived (all of an answer and its log lines, mostly) into the inbox at once. */
static int read_all(Proxy *p, unsigned char op, unsigned char *data, size_t n, double deadline) {
    while (n) {
        size_t have = p->inbox.size - p->inbox_at, k;
        ssize_t got;
        if (have) {
            k = have < n ? have : n;
            memcpy(data, p->inbox.data + p->inbox_at, k);
            p->inbox_at += k;
            data += k;
            n -= k;
            continue;
        }
        p->inbox.size = p->inbox_at = 0;
        if (!buffer_reserve(&p->inbox, n > 65536 ? n : 65536)) { errno = ENOMEM; return 0; }
        if (!wait_readable(p, op, deadline)) return 0;
        got = recv(p->fd, p->inbox.data, p->inbox.cap, 0);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got == 0) errno = 0;
        if (got <= 0) return 0;
        p->inbox.size = (size_t)got;
    }
    return 1;
}

/* Append a framed request (code, payload length, payload) to `b`; 0 when out of memory. */
static int put_frame(Buffer *b, unsigned char op, const void *payload, size_t n) {
    uint32_t length = (uint32_t)n;
    return buffer_put(b, &op, 1) && buffer_put(b, &length, 4) && buffer_put(b, payload, n);
}

/* Frame a request into the outgoing buffer; flush_requests sends it. */
static int queue_request(Proxy *p, unsigned char op, const unsigned char *payload, size_t n) {
    if (op != OP_GET) p->cache_valid = 0; /* anything else may change what the outputs are */
    return put_frame(&p->outgoing, op, payload, n);
}

/* Send the queued requests in one write (the worker wakes once for a setting and the step after
 * it), before the deadline (a worker that stops reading does not hang the host). */
static int flush_requests(Proxy *p, double deadline) {
    size_t at = 0;
    while (at < p->outgoing.size) {
        ssize_t k = send(p->fd, p->outgoing.data + at, p->outgoing.size - at, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            double left = deadline - monotonic_s();
            if (left <= 0 || (sleep_until(p->fd, POLLOUT, left) < 0 && errno != EINTR)) return 0;
            continue;
        }
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return 0;
        at += (size_t)k;
    }
    p->outgoing.size = 0;
    return 1;
}

/* Read one answer: pass its log frames to the host, keep the result's payload in p->reply;
 * returns the FMI status. */
static int read_answer(Proxy *p, unsigned char op, double deadline) {
    uint32_t length;
    for (;;) {
        unsigned char frame[9];
        int32_t status;
        if (!read_all(p, op, frame, 9, deadline)) {
            char what[96];
            if (errno == ETIMEDOUT)
                snprintf(what, sizeof what, "no answer within %g s (FMUTWIN_WORKER_TIMEOUT_S)", p->timeout_s);
            else
                snprintf(what, sizeof what, "the worker ended before it answered");
            return worker_failed(p, what);
        }
        memcpy(&status, frame + 1, 4);
        memcpy(&length, frame + 5, 4);
        p->reply.size = 0;
        if (!buffer_reserve(&p->reply, (size_t)length + 1)) return worker_failed(p, "out of memory");
        if (length && !read_all(p, op, p->reply.data, length, deadline))
            return worker_failed(p, "the worker ended in the middle of an answer");
        p->reply.size = length;
        if (frame[0] == 'R') return status;
        if (frame[0] == 'L' && p->log && (status != ST_OK || p->logging_on)) {
            size_t cut = strnlen((const char *)p->reply.data, length);
            char *text = malloc((size_t)length + 2);
            if (text) {
                memcpy(text, p->reply.data, length);
                text[length] = 0;
                text[length + 1] = 0;
                p->log(p->log_env, p->instance_name, status, text, cut < length ? text + cut + 1 : "");
                free(text);
            }
        }
    }
}


/* Wait for the answers of the settings sent without waiting (see proxy_request), sent with a
 * request `op`; their worst status. */
static int collect_settings(Proxy *p, unsigned char op, double deadline) {
    int worst = ST_OK;
    while (p->unanswered > 0 && !p->broken) {
        int status = read_answer(p, op, deadline);
        p->unanswered--;
        if (status > worst) worst = status;
    }
    p->unanswered = 0;
    return worst;
}

/* Send what is queued, the last request being `op`, and read the answers owed for the settings
 * before it; their worst status (ST_ERROR when the worker failed). */
static int send_queued(Proxy *p, unsigned char op, double deadline) {
    if (!flush_requests(p, deadline)) return worker_failed(p, "cannot send the request");
    p->measure = 1;
    return collect_settings(p, op, deadline);
}

/* One request and its answer, after the answers still owed for earlier settings; the worse of
 * the two statuses (a failed setting is reported, with its log line, by the call after it). */
static int exchange(Proxy *p, unsigned char op, const unsigned char *payload, size_t n) {
    double deadline = monotonic_s() + p->timeout_s;
    int earlier, status;
    if (!queue_request(p, op, payload, n)) return worker_failed(p, "out of memory");
    earlier = send_queued(p, op, deadline);
    if (p->broken) return ST_ERROR;
    status = read_answer(p, op, deadline);
    if (earlier > ST_WARNING)
        proxy_log(p, ST_ERROR, "logStatusError", "an earlier setting failed (see above)");
    return earlier > status ? earlier : status;
}

/* The worker's environment: the host's without what points a process at the host's own
 * libraries or Python (LD_PRELOAD, LD_LIBRARY_PATH, PYTHON*: a Simulink or HIL host sets them for
 * itself), unless FMUTWIN_WORKER_KEEP_ENVIRONMENT is set. The array is malloc'ed, its strings are
 * the host's. */
static char **worker_environment(void) {
    size_t n = 0, m = 0;
    int keep = getenv("FMUTWIN_WORKER_KEEP_ENVIRONMENT") != NULL;
    char **env;
    while (environ && environ[n]) n++;
    env = malloc((n + 1) * sizeof *env);
    if (!env) return NULL;
    for (size_t k = 0; k < n; k++) {
        const char *e = environ[k];
        if (!keep && (strncmp(e, "LD_PRELOAD=", 11) == 0 || strncmp(e, "LD_LIBRARY_PATH=", 16) == 0 ||
                      strncmp(e, "PYTHON", 6) == 0))
            continue;
        env[m++] = environ[k];
    }
    env[m] = NULL;
    return env;
}

/* The interpreter for the worker (see the header); NULL with a log line when none is found. */
static char *choose_python(Proxy *p) {
    char *found = p->found;
    const char *env = getenv("FMUTWIN_PYTHON"), *path = getenv("PATH");
    char recorded[4096] = "", file[4096];
    FILE *f;
    if (*p->python) {
        if (executable(p->python)) return p->python;
        proxy_log(p, ST_ERROR, "logStatusError", "pythonExecutable = '%s' is not an executable file", p->python);
        return NULL;
    }
    if (env && *env) {
        if (executable(env)) return (char *)env;
        proxy_log(p, ST_ERROR, "logStatusError", "FMUTWIN_PYTHON = '%s' is not an executable file", env);
        return NULL;
    }
    snprintf(file, sizeof file, "%s/%s", p->resources, PYTHON_FILE);
    if ((f = fopen(file, "r")) != NULL) {
        if (fgets(recorded, sizeof recorded, f)) recorded[strcspn(recorded, "\r\n")] = 0;
        fclose(f);
        if (executable(recorded)) return strcpy(found, recorded);
    }
    for (const char *s = path ? path : ""; *s;) {
        size_t n = strcspn(s, ":");
        snprintf(found, sizeof p->found, "%.*s/python3", (int)n, s);
        if (n && executable(found)) {
            if (*recorded)
                proxy_log(p, ST_WARNING, "logStatusWarning", "the interpreter this FMU was built with (%s) is "
                          "not on this machine: the worker runs %s", recorded, found);
            return found;
        }
        s += n + (s[n] == ':');
    }
    proxy_log(p, ST_ERROR, "logStatusError", "no Python interpreter for the worker: pythonExecutable and "
              "FMUTWIN_PYTHON are not set, %s%s%s is not there and there is no python3 on PATH (%s)",
              *recorded ? "the recorded " : "resources/" PYTHON_FILE, *recorded ? recorded : "", "",
              path ? path : "PATH is not set");
    return NULL;
}

/* Start the worker (once), create the slave in it and replay the settings kept until then. */
static int ensure_worker(Proxy *p) {
    int fds[2], status;
    char *python, *argv[5], **env;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    sigset_t no_signals;
    unsigned char *payload;
    uint32_t n_name, n_res;
    int worst;
    if (p->broken) {
        proxy_log(p, ST_ERROR, "logStatusError", "the Python worker of this instance has failed; free it");
        return 0;
    }
    if (p->started) return 1;
    p->started = 1;
    python = choose_python(p);
    if (!python) { p->broken = 1; return 0; }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        proxy_log(p, ST_ERROR, "logStatusError", "socketpair failed: %s", strerror(errno));
        p->broken = 1;
        return 0;
    }
    argv[0] = python;
    argv[1] = "-c";
    argv[2] = (char *)BOOTSTRAP;
    argv[3] = p->resources;
    argv[4] = NULL;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 3);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, 2, 1); /* its prints go to the host's stderr */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&actions, 4); /* none of the host's other files */
#endif
    posix_spawnattr_init(&attributes);
    sigemptyset(&no_signals);
    posix_spawnattr_setsigmask(&attributes, &no_signals); /* not the spawning thread's mask */
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
    env = worker_environment();
    status = env ? posix_spawn(&p->pid, python, &actions, &attributes, argv, env) : ENOMEM;
    free(env);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (status != 0) {
        close(fds[0]);
        p->pid = -1;
        proxy_log(p, ST_ERROR, "logStatusError", "cannot start the Python worker %s: %s", python, strerror(status));
        p->broken = 1;
        return 0;
    }
    p->fd = fds[0];
    n_name = (uint32_t)strlen(p->instance_name);
    n_res = (uint32_t)strlen(p->resources);
    payload = malloc(10 + n_name + n_res);
    if (!payload) return worker_failed(p, "out of memory"), 0;
    payload[0] = (unsigned char)p->fmi_version;
    payload[1] = (unsigned char)(p->visible != 0);
    memcpy(payload + 2, &n_name, 4);
    memcpy(payload + 6, &n_res, 4);
    memcpy(payload + 10, p->instance_name, n_name);
    memcpy(payload + 10 + n_name, p->resources, n_res);
    status = exchange(p, OP_INSTANTIATE, payload, 10 + n_name + n_res);
    free(payload);
    if (status > ST_WARNING) {
        if (!p->broken) proxy_log(p, ST_ERROR, "logStatusError", "the Python worker could not create the instance");
        p->broken = 1;
        return 0;
    }
    worst = ST_OK;
    for (size_t at = 0; at < p->pending.size && !p->broken;) { /* the requests kept until now, in order */
        uint32_t length;
        memcpy(&length, p->pending.data + at + 1, 4);
        status = exchange(p, p->pending.data[at], p->pending.data + at + 5, length);
        if (status > worst) worst = status;
        at += 5 + length;
    }
    p->pending.size = 0;
    if (worst > ST_WARNING && !p->broken)
        proxy_log(p, ST_ERROR, "logStatusError", "a setting made before the Python worker started failed (see "
                  "above); the others were made");
    return worst <= ST_WARNING && !p->broken;
}

/* One request to the worker (started first if needed); the FMI status. */
static int proxy_call(Proxy *p, unsigned char op, const void *payload, size_t n) {
    if (!ensure_worker(p)) return ST_ERROR;
    return exchange(p, op, (const unsigned char *)payload, n);
}

/* A request whose answer is only a status (a setting, the experiment's setup, entering
 * initialisation): before the worker has started it is kept, in order, for the start; afterwards
 * it is queued and sent, without waiting for its answer, with the next call that waits, which
 * collects its answer (no socket round trip per setting: a failed setting is reported by that
 * next call). */
static int proxy_request(Proxy *p, unsigned char op, const void *payload, size_t n) {
    if (!p->started && !p->broken)
        return put_frame(&p->pending, op, payload, n) ? ST_OK : worker_failed(p, "out of memory");
    if (!ensure_worker(p)) return ST_ERROR;
    if (p->unanswered >= MAX_UNANSWERED) { /* the worker's answers must not fill the socket */
        int earlier = send_queued(p, OP_SET, monotonic_s() + p->timeout_s);
        if (earlier > ST_WARNING) return earlier;
    }
    if (!queue_request(p, op, (const unsigned char *)payload, n)) return worker_failed(p, "out of memory");
    p->unanswered++;
    return ST_OK;
}

/* ---------------------------------------------------------------- requests the APIs share */

static int proxy_setup(Proxy *p, double start, int stop_defined, double stop, int tolerance_defined,
                       double tolerance) {
    unsigned char payload[27];
    payload[8] = (unsigned char)(stop_defined != 0);
    payload[17] = (unsigned char)(tolerance_defined != 0);
    memcpy(payload, &start, 8);
    memcpy(payload + 9, &stop, 8);
    memcpy(payload + 18, &tolerance, 8);
    p->time = start;
    return proxy_request(p, OP_SETUP, payload, 26);
}

static int proxy_simple(Proxy *p, unsigned char op) { return proxy_call(p, op, NULL, 0); }

static int proxy_step(Proxy *p, double t, double dt, int *terminate) {
    double payload[2] = {t, dt};
    int status = proxy_call(p, OP_STEP, payload, sizeof payload);
    uint32_t n;
    *terminate = status <= ST_DISCARD && p->reply.size >= 1 && p->reply.data[0];
    if (status > ST_WARNING) return status;
    p->time = t + dt;
    if (p->reply.size >= 5) { /* the Real outputs after the step */
        memcpy(&n, p->reply.data + 1, 4);
        p->cache.size = 0;
        if (n && buffer_put(&p->cache, p->reply.data + 5, p->reply.size - 5)) {
            p->cache_n = n;
            p->cache_valid = 1;
        }
    }
    return status;
}

/* Real outputs from the last step's answer, if it holds all asked for; 1 when served. */
static int cached_reals(Proxy *p, const unsigned int vr[], size_t nvr, double *values, size_t n_values) {
    const uint32_t *refs = (const uint32_t *)p->cache.data, *counts = refs + p->cache_n;
    const double *data = (const double *)(counts + p->cache_n);
    size_t filled = 0;
    if (!p->cache_valid) return 0;
    for (size_t k = 0; k < nvr; k++) {
        size_t at = 0, j;
        for (j = 0; j < p->cache_n && refs[j] != vr[k]; j++) at += counts[j];
        if (j == p->cache_n || filled + counts[j] > n_values) return 0;
        memcpy(values + filled, data + at, counts[j] * sizeof *data);
        filled += counts[j];
    }
    return filled == n_values;
}

/* Values are sent as their type's C representation: 'R' double, 'I' int32, 'B' uint8, 'S' strings
 * (length-prefixed). A setting before the worker has started is kept for its start, except the
 * interpreter parameter, which is the proxy's own. */
static int request_values(Proxy *p, char type, const unsigned int vr[], size_t nvr, const void *values,
                          size_t n_values, size_t width) {
    unsigned char code = (unsigned char)type;
    uint32_t count = (uint32_t)nvr, n = (uint32_t)n_values;
    p->request.size = 0;
    if (!buffer_put(&p->request, &code, 1) || !buffer_put(&p->request, &count, 4) ||
        !buffer_put(&p->request, vr, 4 * nvr))
        return 0;
    if (values == NULL) return 1; /* a get */
    if (!buffer_put(&p->request, &n, 4)) return 0;
    if (type != 'S') return buffer_put(&p->request, values, width * n_values);
    for (size_t k = 0; k < n_values; k++) {
        const char *s = ((const char *const *)values)[k] ? ((const char *const *)values)[k] : "";
        uint32_t size = (uint32_t)strlen(s);
        if (!buffer_put(&p->request, &size, 4) || !buffer_put(&p->request, s, size)) return 0;
    }
    return 1;
}

static int send_values(Proxy *p, char type, const unsigned int vr[], size_t nvr, const void *values, size_t n_values,
                       size_t width) {
    if (!request_values(p, type, vr, nvr, values, n_values, width)) return worker_failed(p, "out of memory");
    return proxy_request(p, OP_SET, p->request.data, p->request.size);
}

/* Take the interpreter parameter's value; an error once the worker runs and the value changes. */
static int set_python(Proxy *p, const char *value) {
    const char *s = value ? value : "";
    if (p->started && strcmp(s, p->python) != 0) {
        proxy_log(p, ST_ERROR, "logStatusError", "pythonExecutable can only be set before the worker starts "
                  "(before initialisation and before any value is read)");
        return ST_ERROR;
    }
    free(p->python);
    p->python = copy_string(s);
    return p->python ? ST_OK : ST_ERROR;
}

/* Strings are scalars (one value per reference); the interpreter parameter is held here and
 * the others go to the worker. */
static int proxy_set(Proxy *p, char type, const unsigned int vr[], size_t nvr, const void *values, size_t n_values,
                     size_t width) {
    const char *const *text = (const char *const *)values;
    unsigned int *others_vr;
    const char **others;
    size_t m = 0;
    int status = ST_OK, worst = ST_OK;
    if (type != 'S') return send_values(p, type, vr, nvr, values, n_values, width);
    others_vr = malloc((nvr ? nvr : 1) * sizeof *others_vr);
    others = malloc((nvr ? nvr : 1) * sizeof *others);
    if (!others_vr || !others) { free(others_vr); free(others); return ST_ERROR; }
    for (size_t k = 0; k < nvr && worst <= ST_WARNING; k++) {
        if (vr[k] == PYTHON_PARAMETER_VR) {
            worst = set_python(p, text[k]);
        } else {
            others_vr[m] = vr[k];
            others[m++] = text[k];
        }
    }
    if (worst <= ST_WARNING && m) status = send_values(p, 'S', others_vr, m, others, m, width);
    free(others_vr);
    free(others);
    return status > worst ? status : worst;
}

/* Strings of the last answer (a count, then length-prefixed texts) into p->strings at the given
 * positions (`slot`: where the k-th string goes), the interpreter parameter's own value elsewhere. */
static int take_strings(Proxy *p, const size_t *slot, size_t n, size_t nvr, const char **values) {
    clear_strings(p);
    p->strings = calloc(nvr ? nvr : 1, sizeof *p->strings);
    if (!p->strings) return ST_ERROR;
    p->n_strings = nvr;
    for (size_t k = 0, at = 4; k < n; k++) {
        uint32_t size;
        memcpy(&size, p->reply.data + at, 4);
        p->strings[slot[k]] = malloc(size + 1);
        if (!p->strings[slot[k]]) return ST_ERROR;
        memcpy(p->strings[slot[k]], p->reply.data + at + 4, size);
        p->strings[slot[k]][size] = 0;
        at += 4 + size;
    }
    for (size_t k = 0; k < nvr; k++) {
        if (!p->strings[k] && !(p->strings[k] = copy_string(p->python))) return ST_ERROR;
        values[k] = p->strings[k];
    }
    return ST_OK;
}

/* Get values into `values` (n_values of `width` bytes; strings: pointers into p->strings, valid
 * until the next call). */
static int proxy_get(Proxy *p, char type, const unsigned int vr[], size_t nvr, void *values, size_t n_values,
                     size_t width) {
    int status = ST_OK;
    uint32_t n = 0;
    size_t m = 0, total = nvr, *slot = NULL;
    unsigned int *others_vr = NULL;
    if (type == 'R' && cached_reals(p, vr, nvr, (double *)values, n_values)) return ST_OK;
    if (type == 'S') { /* ask the worker for the strings that are not the interpreter parameter */
        slot = malloc((nvr ? nvr : 1) * sizeof *slot);
        others_vr = malloc((nvr ? nvr : 1) * sizeof *others_vr);
        if (!slot || !others_vr) { free(slot); free(others_vr); return ST_ERROR; }
        for (size_t k = 0; k < nvr; k++)
            if (vr[k] != PYTHON_PARAMETER_VR) { slot[m] = k; others_vr[m++] = vr[k]; }
        vr = others_vr;
        nvr = m;
        n_values = m;
    }
    if (type != 'S' || m) {
        if (!request_values(p, type, vr, nvr, NULL, 0, width)) status = worker_failed(p, "out of memory");
        else status = proxy_call(p, OP_GET, p->request.data, p->request.size);
        if (status <= ST_WARNING) memcpy(&n, p->reply.data, 4);
        if (status <= ST_WARNING && n != n_values) {
            proxy_log(p, ST_ERROR, "logStatusError", "%zu values asked for, the variables have %u", n_values, n);
            status = ST_ERROR;
        }
    }
    if (status <= ST_WARNING) {
        if (type != 'S')
            memcpy(values, p->reply.data + 4, width * n);
        else if (take_strings(p, slot, m, total, (const char **)values) != ST_OK)
            status = ST_ERROR;
    }
    free(slot);
    free(others_vr);
    return status;
}

/* ---------------------------------------------------------------- FMU states: ids of states the worker holds */

typedef struct {
    uint32_t id;
    double time;          /* the last successful communication point of the state */
    unsigned char *bytes; /* the serialised state, made when its size is asked for */
    size_t size;
} ProxyState;

static int state_get(Proxy *p, void **state) {
    ProxyState *s = *state ? (ProxyState *)*state : calloc(1, sizeof *s);
    uint32_t id = s ? s->id : 0;
    int status;
    if (!s) return ST_ERROR;
    status = proxy_call(p, OP_GET_STATE, &id, 4);
    if (status > ST_WARNING) {
        if (!*state) free(s);
        return status;
    }
    memcpy(&s->id, p->reply.data, 4);
    s->time = p->time;
    free(s->bytes);
    s->bytes = NULL;
    *state = s;
    return status;
}

static int state_set(Proxy *p, void *state) {
    int status;
    if (!state) { proxy_log(p, ST_ERROR, "logStatusError", "no FMU state given"); return ST_ERROR; }
    status = proxy_call(p, OP_SET_STATE, &((ProxyState *)state)->id, 4);
    if (status <= ST_WARNING) p->time = ((ProxyState *)state)->time;
    return status;
}

static int state_free(Proxy *p, void **state) {
    ProxyState *s = state ? (ProxyState *)*state : NULL;
    if (!s) return ST_OK;
    if (p->started && !p->broken) proxy_call(p, OP_FREE_STATE, &s->id, 4);
    free(s->bytes);
    free(s);
    *state = NULL;
    return ST_OK;
}

static int state_size(Proxy *p, void *state, size_t *size) {
    ProxyState *s = (ProxyState *)state;
    if (!s) { proxy_log(p, ST_ERROR, "logStatusError", "no FMU state given"); return ST_ERROR; }
    if (!s->bytes) {
        int status = proxy_call(p, OP_SERIALIZE, &s->id, 4);
        if (status > ST_WARNING) return status;
        s->bytes = malloc(8 + p->reply.size); /* the time, then the worker's bytes */
        if (!s->bytes) return ST_ERROR;
        memcpy(s->bytes, &s->time, 8);
        memcpy(s->bytes + 8, p->reply.data, p->reply.size);
        s->size = 8 + p->reply.size;
    }
    *size = s->size;
    return ST_OK;
}

static int state_serialize(Proxy *p, void *state, unsigned char *bytes, size_t size) {
    size_t needed;
    int status = state_size(p, state, &needed);
    if (status > ST_WARNING) return status;
    if (size < needed) {
        proxy_log(p, ST_ERROR, "logStatusError", "serialised FMU state needs %zu bytes, %zu given", needed, size);
        return ST_ERROR;
    }
    memcpy(bytes, ((ProxyState *)state)->bytes, needed);
    return ST_OK;
}

static int state_deserialize(Proxy *p, const unsigned char *bytes, size_t size, void **state) {
    ProxyState *s;
    int status;
    if (size < 8) {
        proxy_log(p, ST_ERROR, "logStatusError", "a serialised FMU state of %zu bytes is not one of this FMU", size);
        return ST_ERROR;
    }
    if (!(s = calloc(1, sizeof *s))) return ST_ERROR;
    status = proxy_call(p, OP_DESERIALIZE, bytes + 8, size - 8);
    if (status > ST_WARNING) { free(s); return status; }
    memcpy(&s->id, p->reply.data, 4);
    memcpy(&s->time, bytes, 8);
    *state = s;
    return status;
}
