"""The Python side of an out-of-process FMU: one worker process per FMU instance.

The FMU's binary (``proxy_core.c``) starts this worker with the interpreter it chose and talks to
it over a Unix socket (file descriptor 3). The worker runs the FMU's own slave class -- the same
pythonfmu / pythonfmu3 slave, from the same ``resources/`` folder, that the in-process FMU runs --
and answers one request at a time, so results are those of the in-process FMU bit for bit.

Wire format (native byte order; both ends are on one machine):

* request: ``op`` (uint8), payload length (uint32), payload;
* answer: any number of log frames, then one result frame. A frame is ``kind`` (uint8: ``L`` log,
  ``R`` result), FMI status (int32), payload length (uint32), payload. A log payload is
  ``category NUL message``; a result payload depends on the request (values, a state id, bytes).

The worker exits when the socket closes: the FMU instance was freed, or the host process is gone
(killed included: the kernel closes its end), so no worker outlives its host.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

OK, WARNING, DISCARD, ERROR, FATAL = range(5)

#: request codes, as in proxy_core.c
(INSTANTIATE, SETUP, ENTER_INIT, EXIT_INIT, STEP, TERMINATE, RESET, GET, SET, GET_STATE, SET_STATE, FREE_STATE,
 SERIALIZE, DESERIALIZE) = range(1, 15)

#: value type codes -> (FMI 2.0 method suffix, FMI 3.0 method suffix, struct code)
_TYPES = {ord("R"): ("real", "float64", "d"), ord("I"): ("integer", "int32", "i"),
          ord("B"): ("boolean", "boolean", "B"), ord("S"): ("string", "string", "")}
_REAL = ord("R")
_NOTHING = struct.pack("=I", 0)  # no Real outputs sent ahead
WATCHED = 4096  # Real values sent with each step's answer, at most
SHORT_SPIN_S = 200e-6  # the worker polls at least this long for the next request before it sleeps
SPIN_S = 2e-3  # and at most this long (FMUTWIN_WORKER_SPIN_S; 0: it sleeps at once)
_HEADER = struct.Struct("=BI")
_FRAME = struct.Struct("=BiI")
_SLAVE_CLASS = re.compile(r"^class (\w+)\(([^)]*\bFmi[23]Slave(?:Base)?\b[^)]*)\)\s*:", re.MULTILINE)


class Failure(Exception):
    """A request the worker answers with an FMI status and a log line (not a Python error)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def missing_package(exc: BaseException) -> str:
    """What a user must install, named with the interpreter that lacks it."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return (f"the Python worker {sys.executable} lacks the package {exc.name.split('.')[0]!r} "
                f"({exc}); install it there or choose another interpreter (the FMU parameter "
                "pythonExecutable or the environment variable FMUTWIN_PYTHON)")
    return f"the Python worker {sys.executable} failed: {type(exc).__name__}: {exc}"


def spin_setting(text: str | None) -> float:
    """FMUTWIN_WORKER_SPIN_S: seconds, at most 0.1; SPIN_S when unset, not a number or negative."""
    try:
        value = float(text) if text else SPIN_S
    except ValueError:
        return SPIN_S
    return min(value, 0.1) if value >= 0 else SPIN_S  # NaN compares false: the default


class Channel:
    """Framed requests and answers on the worker's socket.

    Answers are collected in ``outbox`` and sent when the worker needs the next request and it has
    not all arrived yet: the answers to requests that came together (a setting sent without waiting,
    then a step) leave in one write, and the host is woken once."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()  # received, not yet taken
        self.outbox = bytearray()  # answers not yet sent
        self.chunk = bytearray(1 << 16)
        self.spin_s = spin_setting(os.environ.get("FMUTWIN_WORKER_SPIN_S"))
        self.gap_s = 0.0  # how long the host took to send its next request (a moving average)

    def _fill(self) -> bool:
        """Send the answers so far, then receive what arrives (False at the end).

        Polls before it blocks, giving the core to any other runnable thread meanwhile: a process
        that sleeps must be woken (tens of microseconds on a virtual machine) and computes slower
        for a while after. It polls for twice the host's usual time to its next request (a host
        that steps other FMUs in between takes longer than one stepping this one in a loop), at
        least SHORT_SPIN_S (unless ``spin_s`` is shorter), at most ``spin_s``, and only SHORT_SPIN_S
        if that time is longer than ``spin_s``: a worker whose host is busy elsewhere for long
        sleeps, not keeping a core busy."""
        if self.outbox:
            self.sock.sendall(self.outbox)
            self.outbox.clear()
        start = time.perf_counter()
        window = 2.0 * self.gap_s if self.gap_s <= self.spin_s else 0.0
        deadline = start + min(self.spin_s, max(SHORT_SPIN_S, window))
        while True:
            try:
                n = self.sock.recv_into(self.chunk, 0, socket.MSG_DONTWAIT)
            except BlockingIOError:
                if time.perf_counter() < deadline:
                    os.sched_yield()  # any other runnable thread on this core goes first
                    continue
                n = self.sock.recv_into(self.chunk)  # nothing yet: block
            if not n:
                return False
            self.gap_s = 0.75 * self.gap_s + 0.25 * (time.perf_counter() - start)
            self.buffer += memoryview(self.chunk)[:n]
            return True

    def request(self) -> tuple[int, bytes] | None:
        """The next request, or None when the FMU side has closed the socket."""
        buffer = self.buffer
        while True:
            if len(buffer) >= _HEADER.size:
                op, length = _HEADER.unpack_from(buffer)
                end = _HEADER.size + length
                if len(buffer) >= end:
                    break
            if not self._fill():
                return None
        payload = bytes(buffer[_HEADER.size:end])
        del buffer[:end]
        return op, payload

    def log(self, status: int, category: str, message: str) -> None:
        payload = category.encode() + b"\0" + message.encode("utf-8", "replace")
        self.outbox += _FRAME.pack(ord("L"), status, len(payload))
        self.outbox += payload

    def result(self, status: int, payload: bytes = b"") -> None:
        self.outbox += _FRAME.pack(ord("R"), status, len(payload))
        self.outbox += payload


def _category(status: int) -> str:
    return {WARNING: "logStatusWarning", DISCARD: "logStatusDiscard", ERROR: "logStatusError",
            FATAL: "logStatusFatal"}.get(status, "logAll")


class Worker:
    """One FMU instance: the slave object and the FMU states the host holds."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.slave: Any = None
        self.slave_class: type | None = None
        self.watched: dict[int, int] = {}  # Real variables the host reads: value reference -> elements
        self.watched_vrs: list[int] = []  # the same, and the head and value layout of _outputs
        self.watched_head = b""
        self.watched_values = struct.Struct("=0d")
        self.methods: dict[tuple[str, int], Callable] = {}  # the slave's bound get/set methods
        self.version = 2
        self.arguments: dict[str, Any] = {}
        self.states: dict[int, Any] = {}
        self.next_state = 1
        self.handlers: dict[int, Callable[[bytes], tuple[int, bytes]]] = {
            INSTANTIATE: self.instantiate, SETUP: self.setup, ENTER_INIT: self.enter_init,
            EXIT_INIT: self.exit_init, STEP: self.step, TERMINATE: self.terminate, RESET: self.reset,
            GET: self.get, SET: self.set, GET_STATE: self.get_state, SET_STATE: self.set_state,
            FREE_STATE: self.free_state, SERIALIZE: self.serialize, DESERIALIZE: self.deserialize}

    # -- the loop -------------------------------------------------------------------------------
    def serve(self) -> None:
        while (request := self.channel.request()) is not None:
            op, payload = request
            try:
                status, answer = self.handlers[op](payload)
            except Failure as exc:
                status, answer = exc.status, b""
                self._flush_log()
                self.channel.log(exc.status, _category(exc.status), str(exc))
            except Exception as exc:  # noqa: BLE001 - any slave exception is an FMI error with its text
                status, answer = ERROR, b""
                self._flush_log()
                text = missing_package(exc) if isinstance(exc, ImportError) else f"{type(exc).__name__}: {exc}"
                self.channel.log(ERROR, "logStatusError", text)
            else:
                self._flush_log()
            self.channel.result(status, answer)

    def _flush_log(self) -> None:
        """Forward the slave's queued log messages (pythonfmu's log_queue) to the host."""
        queue = getattr(self.slave, "log_queue", None)
        while queue:
            message = queue.pop(0)
            self.channel.log(int(message.status), message.category or _category(int(message.status)), message.msg)

    # -- lifecycle ------------------------------------------------------------------------------
    def instantiate(self, payload: bytes) -> tuple[int, bytes]:
        version, visible, n_name, n_res = struct.unpack_from("=BBII", payload)
        offset = struct.calcsize("=BBII")
        name = payload[offset:offset + n_name].decode()
        resources = payload[offset + n_name:offset + n_name + n_res].decode()
        self.version = version
        self.arguments = {"instance_name": name, "resources": resources, "visible": bool(visible)}
        if resources not in sys.path:
            sys.path.insert(0, resources)
        self.slave_class = self._slave_class(Path(resources))
        self.methods.clear()
        self.slave = self.slave_class(**self.arguments)
        return OK, b""

    @staticmethod
    def _slave_class(resources: Path) -> type:
        """The slave class named in the FMU's resources, found as pythonfmu's run time finds it."""
        import importlib

        module_name = (resources / "slavemodule.txt").read_text().strip()
        source = (resources / f"{module_name}.py").read_text()
        match = _SLAVE_CLASS.search(source)
        if match is None:
            raise Failure(ERROR, f"no slave class in {resources / (module_name + '.py')}")
        module = importlib.import_module(module_name)
        return getattr(module, match.group(1))

    def _require(self) -> Any:
        if self.slave is None:
            raise Failure(ERROR, "the FMU instance was not created (see the instantiation's log)")
        return self.slave

    def setup(self, payload: bytes) -> tuple[int, bytes]:
        start, stop_defined, stop, tolerance_defined, tolerance = struct.unpack("=dBdBd", payload)
        slave = self._require()
        if self.version == 2:
            slave.setup_experiment(start, stop if stop_defined else None, tolerance if tolerance_defined else None)
        else:
            slave.setup_experiment(start)
        return OK, b""

    def enter_init(self, payload: bytes) -> tuple[int, bytes]:
        self._require().enter_initialization_mode()
        return OK, b""

    def exit_init(self, payload: bytes) -> tuple[int, bytes]:
        self._require().exit_initialization_mode()
        return OK, b""

    def step(self, payload: bytes) -> tuple[int, bytes]:
        """``do_step``; FMI 2.0 slaves answer a bool (False: discard, as pythonfmu), FMI 3.0 slaves a
        step result with its status. The answer carries terminateSimulation."""
        time_s, step_s = struct.unpack("=dd", payload)
        result = self._require().do_step(time_s, step_s)
        if hasattr(result, "status"):
            status, stop = int(result.status), bool(getattr(result, "terminateSimulation", False))
        else:
            status, stop = (OK if result else DISCARD), False
        return status, (b"\1" if stop else b"\0") + (self._outputs() if status <= WARNING else _NOTHING)

    def _outputs(self) -> bytes:
        """The Real variables the host has read (``watched``), as the step left them, sent with its
        answer so that the FMU side answers their gets without asking (one round trip less per
        step): count, value references, element counts, values."""
        vrs = self.watched_vrs
        if not vrs:
            return _NOTHING
        try:
            return self.watched_head + self.watched_values.pack(*self._method("get", _REAL)(vrs))
        except Exception:  # noqa: BLE001 - nothing sent ahead; the host's get asks and hears why
            return _NOTHING

    def _watch(self, vrs: list[int], values: list[Any]) -> None:
        """Remember Real variables the host reads (up to WATCHED values), with their element counts."""
        new = [vr for vr in dict.fromkeys(vrs) if vr not in self.watched]
        if not new or sum(self.watched.values()) >= WATCHED:
            return
        get = self._method("get", _REAL)
        for vr in new:
            self.watched[vr] = len(values) if len(vrs) == 1 else len(get([vr]))
        n = len(self.watched)
        self.watched_vrs = list(self.watched)
        self.watched_head = struct.pack(f"=I{n}I{n}I", n, *self.watched_vrs, *self.watched.values())
        self.watched_values = struct.Struct(f"={sum(self.watched.values())}d")

    def terminate(self, payload: bytes) -> tuple[int, bytes]:
        self._require().terminate()
        return OK, b""

    def reset(self, payload: bytes) -> tuple[int, bytes]:
        """A new slave object of the same class, as pythonfmu's Reset (it re-creates the instance)."""
        self._require()
        self.slave = None
        self.methods.clear()
        self.slave = self.slave_class(**self.arguments)
        return OK, b""

    # -- values ---------------------------------------------------------------------------------
    def _method(self, kind: str, code: int) -> Callable:
        """The slave's ``get_<type>`` / ``set_<type>`` method (bound once per slave object)."""
        method = self.methods.get((kind, code))
        if method is None:
            names = _TYPES.get(code)
            if names is None:
                raise Failure(ERROR, f"value type {chr(code)!r} is not supported")
            method = self.methods[kind, code] = getattr(
                self._require(), f"{kind}_{names[0] if self.version == 2 else names[1]}")
        return method

    def get(self, payload: bytes) -> tuple[int, bytes]:
        code, nvr = struct.unpack_from("=BI", payload)
        vrs = list(struct.unpack_from(f"={nvr}I", payload, 5))
        values = self._method("get", code)(vrs)
        if code == ord("R"):
            self._watch(vrs, values)
        if code == ord("S"):
            encoded = [str(v).encode() for v in values]
            return OK, struct.pack("=I", len(encoded)) + b"".join(struct.pack("=I", len(e)) + e for e in encoded)
        return OK, struct.pack(f"=I{len(values)}{_TYPES[code][2]}", len(values), *values)

    def set(self, payload: bytes) -> tuple[int, bytes]:
        code, nvr = struct.unpack_from("=BI", payload)
        offset = 5 + 4 * nvr
        vrs = list(struct.unpack_from(f"={nvr}I", payload, 5))
        (n,) = struct.unpack_from("=I", payload, offset)
        offset += 4
        if code == ord("S"):
            values: list[Any] = []
            for _ in range(n):
                (size,) = struct.unpack_from("=I", payload, offset)
                values.append(payload[offset + 4:offset + 4 + size].decode())
                offset += 4 + size
        else:
            values = list(struct.unpack_from(f"={n}{_TYPES[code][2]}", payload, offset))
            if code == ord("B"):
                values = [bool(v) for v in values]
        self._method("set", code)(vrs, values)
        return OK, b""

    # -- FMU states: held here, named by an id on the FMU side ----------------------------------
    def _keep(self, state: Any) -> tuple[int, bytes]:
        key, self.next_state = self.next_state, self.next_state + 1
        self.states[key] = state
        return OK, struct.pack("=I", key)

    def _state(self, payload: bytes) -> Any:
        (key,) = struct.unpack_from("=I", payload)
        if key not in self.states:
            raise Failure(ERROR, f"FMU state {key} is unknown to this instance")
        return self.states[key]

    def get_state(self, payload: bytes) -> tuple[int, bytes]:
        (key,) = struct.unpack("=I", payload)
        state = self._require()._get_fmu_state()
        if key:  # an existing state is overwritten (FMI: GetFMUState on a non-null state)
            self._state(payload)
            self.states[key] = state
            return OK, struct.pack("=I", key)
        return self._keep(state)

    def set_state(self, payload: bytes) -> tuple[int, bytes]:
        self._require()._set_fmu_state(self._state(payload))
        return OK, b""

    def free_state(self, payload: bytes) -> tuple[int, bytes]:
        self.states.pop(struct.unpack("=I", payload)[0], None)
        return OK, b""

    def serialize(self, payload: bytes) -> tuple[int, bytes]:
        return OK, bytes(self._require()._fmu_state_to_bytes(self._state(payload)))

    def deserialize(self, payload: bytes) -> tuple[int, bytes]:
        return self._keep(self._require()._fmu_state_from_bytes(payload))


def serve(fd: int = 3) -> None:
    """Serve the FMU side on socket ``fd`` until it closes, then exit."""
    sock = socket.socket(fileno=fd)
    worker = Worker(Channel(sock))
    try:
        worker.serve()
    except (BrokenPipeError, ConnectionResetError):  # the FMU side is gone: nothing to answer
        pass
    except BaseException:  # a worker bug or a slave that exits: its traceback to the host's stderr
        traceback.print_exc()
        try:  # the answers and log lines already written reach the host before it hears of the end
            sock.sendall(worker.channel.outbox)
        except OSError:
            pass
        raise SystemExit(1) from None
