"""rlsuite on Ray: one setting moves a command from a laptop to a cluster (``pip install "rlsuite[ray]"``).

:func:`init` is the one entry point. Without an address it starts Ray inside this process's session
on this machine with the CPUs/GPUs it is given (the embedded default); with ``ray.address=<host:port>``
or the ``RAY_ADDRESS`` environment variable it attaches to a running cluster (``ray start --head``,
KubeRay), and then passes no resource arguments (the cluster owns its resources).

What runs on Ray (each module imports Ray; this one only when :func:`init` is called):

* :mod:`.executor` — :class:`~rlsuite.distributed.executor.RayExecutor`, the ``ray`` backend of
  :mod:`rlsuite.executors` (NAS children, sweep members): an actor pool, a dead worker's job resubmitted;
* :mod:`.rollout` — rollout workers for the on-policy agents (``runtime.workers=N``);
* A3C's parameter-server backend (``agent.backend=ray``) lives beside A3C, in
  :mod:`rlsuite.agents.a3c.ray_backend`: the framework knows nothing of A3C;
* :mod:`.sweep` — ``rlsuite train -m ... launcher=ray``; :mod:`.tune` — ``rlsuite tune`` (ASHA, PBT).

No hangs. Ray itself waits without end in two cases, both refused here in one line instead:

* an address where no Ray cluster listens: ``ray.init`` retries the GCS for minutes. :func:`init`
  first opens a gRPC channel to the address (:func:`probe_address`) and gives up after
  ``ray.timeout`` seconds (default 30; a refused connection fails at once);
* more CPUs asked than the cluster has: an actor that needs one CPU more than exist waits forever.
  :func:`require_cpus` compares what is about to start (rollout workers, A3C gradient workers, sweep
  jobs, Tune trials, executor actors) with ``ray.cluster_resources()`` before anything starts.

Shutdown: a Ray instance started here is stopped at interpreter exit (``atexit``), which also runs
after Ctrl-C and after an exception; SIGTERM is turned into a normal exit for the same reason. A
SIGKILLed driver takes its GCS, raylet and workers with it (Ray ties them to the driver with
``PR_SET_PDEATHSIG``), but the raylet's DashboardAgent and RuntimeEnvAgent outlive it by about a
minute (Ray 2.60: they see the raylet die within seconds, then exit only 60-75 s later). So each local
start records the Ray instance it started: its session directory and the PID and start time of every
process it consists of, in ``<tmp>/rlsuite-ray-<uid>/<driver pid>.json`` (:func:`record_started_instance`;
removed again at a clean shutdown). The next local :func:`init` stops the processes of records whose
driver is gone (:func:`stop_abandoned_instances`): only PIDs this library started, checked against their
start time so a reused PID is never hit, never a process found by its name. Another run's Ray or a
``ray start --head`` cluster is never touched. :func:`ray_processes` lists this user's Ray processes
(by name, for inspection only: the tests and the benchmark check that none survive).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rlsuite.config import RayConfig
from rlsuite.errors import ConfigError, RLSuiteError

RaySettings = RayConfig  # the ``ray:`` block of configs/train.yaml
Requirement = tuple[float, str, str, float]  # (CPUs, what needs them, how to fix it, GPUs)


_started_here = False  # whether this process started (and so must stop) the Ray instance
_local_label = "a local Ray"  # how messages name the Ray started here (its CPUs)


def settings_from(cfg: Any = None) -> RaySettings:
    """Read a :class:`RaySettings` from None, a mapping (``{"address": ...}``), a run config with a
    ``ray`` block, or a :class:`RaySettings`."""
    if cfg is None:
        return RaySettings()
    if isinstance(cfg, RaySettings):
        return cfg
    node: Any = cfg
    if "ray" in cfg:
        node = cfg["ray"]
    elif "agent" in cfg:  # a run config from before the ray block existed
        node = None
    if node is None:
        return RaySettings()
    known = set(RaySettings.__dataclass_fields__)
    values = {str(k): node[k] for k in node}
    unknown = sorted(set(values) - known)
    if unknown:
        from rlsuite.errors import suggest

        raise ConfigError(f"unknown Ray setting 'ray.{unknown[0]}'.{suggest(unknown[0], known)} "
                          f"Accepted: {', '.join(sorted(known))}")
    settings = RaySettings(**{k: v for k, v in values.items() if v is not None or k != "timeout"})
    from rlsuite.constraints import validate

    validate(settings, prefix="ray.")
    return settings


def init(cfg: Any = None, require: Requirement | None = None, **overrides: Any) -> str:
    """Start or attach to Ray (idempotent). Returns the address in use (``"local"`` when started here).

    ``require`` (see :func:`agent_requirement`): what the caller is about to start; refused in one line
    when the cluster cannot hold it, before a local Ray is even started (its CPUs are known from
    ``ray.num_cpus`` or this machine's cores)."""
    import ray

    settings = settings_from(cfg)
    for key, value in overrides.items():
        setattr(settings, key, value)
    if ray.is_initialized():
        if require is not None:
            require_resources(*require)
        return str(ray.get_runtime_context().gcs_address)
    address = settings.address or os.environ.get("RAY_ADDRESS")
    if address:
        if settings.num_cpus is not None or settings.num_gpus is not None:
            raise ConfigError("ray.num_cpus/ray.num_gpus apply to a Ray started here; a cluster at "
                              f"{address} has its own resources (drop them, or drop the address)")
        probe_address(address, float(settings.timeout))
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError) as err:
            raise RLSuiteError(
                f"cannot attach to the Ray cluster at {address}: {str(err).strip().splitlines()[-1]}. Is it running "
                "(ray start --head)? A cluster with token authentication (Ray's default) also needs "
                "RAY_AUTH_MODE=token here and its token (~/.ray/auth_token or RAY_AUTH_TOKEN)") from err
        if require is not None:
            require_resources(*require)
        return address
    global _started_here, _local_label
    from ray._private.utils import get_num_cpus

    cpus = settings.num_cpus if settings.num_cpus is not None else get_num_cpus()
    _local_label = "a local Ray with " + (f"ray.num_cpus={cpus}" if settings.num_cpus is not None
                                          else f"this machine's {cpus:g} CPUs")
    if require is not None:
        _check(require, {"CPU": float(cpus), "GPU": settings.num_gpus}, _local_label)
    stopped = stop_abandoned_instances()
    if stopped:
        print(f"rlsuite: stopped {len(stopped)} Ray processes left by a killed rlsuite run (its driver was gone)",
              file=sys.stderr)
    # Attach to nothing already running: a stray RAY_ADDRESS is handled above, "local" forces a new one.
    resources: dict[str, Any] = {"num_cpus": settings.num_cpus, "num_gpus": settings.num_gpus}
    started_at = time.time()
    ray.init(address="local", include_dashboard=False, log_to_driver=False, configure_logging=False, **resources)
    _started_here = True
    record_started_instance(since=started_at)
    atexit.register(shutdown)
    _stop_on_sigterm()
    if require is not None:
        require_resources(*require)  # GPUs: known only now
    return "local"


def probe_address(address: str, timeout: float = 30.0) -> None:
    """Refuse (one line, :class:`ConfigError`) an address where no Ray cluster answers within ``timeout``
    seconds; ``ray.init`` itself would retry for many minutes. A TCP connect first (a refused or
    unresolvable address fails at once), then an HTTP/2 (gRPC) handshake, which a GCS or a Ray client
    server (``ray://``) completes and a port of some other service does not. ``auto`` is left to Ray;
    with ``RAY_USE_TLS`` set only the TCP connect is made (the handshake would need the certificates)."""
    import socket

    if address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"ray.address must be host:port, ray://host:port or auto, got '{address}'")
    hint = (f"Is a cluster running there (ray start --head)? ray.timeout={timeout:g} is how long an address may "
            "take to answer")
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as err:
        reason = "no answer" if isinstance(err, TimeoutError) else (err.strerror or str(err)).lower()
        raise ConfigError(f"cannot reach a Ray cluster at {address}: {reason}. {hint}") from err
    if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
        return
    import grpc

    channel = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(channel).result(timeout=max(deadline - time.monotonic(), 0.1))
    except grpc.FutureTimeoutError as err:
        raise ConfigError(f"no Ray cluster answers at {address}: the port is open, but no gRPC server (a Ray GCS) "
                          f"completed a handshake within {timeout:g} s. {hint}") from err
    finally:
        channel.close()


def shutdown() -> None:
    """Disconnect from Ray; a Ray started by :func:`init` is stopped with its processes. Idempotent."""
    global _started_here
    try:
        import ray
    except ImportError:
        return
    if ray.is_initialized():
        ray.shutdown()
    if _started_here:
        _record_path(os.getpid()).unlink(missing_ok=True)
    _started_here = False


def _stop_on_sigterm() -> None:
    """SIGTERM (``kill``, a scheduler's timeout) ends the process without running ``atexit``: turn it
    into ``SystemExit`` so Ray is stopped. Only where nobody installed a handler, from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        def _exit(signum: int, frame: Any) -> None:
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, _exit)


# ------------------------------------------------------------------------- resources
def require_resources(cpus: float, what: str, fix: str, gpus: float = 0.0) -> None:
    """Refuse (one line, :class:`ConfigError`) what needs ``cpus`` CPUs (``gpus`` GPUs) when the connected
    Ray cluster has fewer in total: its actors would wait for them forever. Call before starting them.
    (An autoscaling cluster is judged by the nodes it has now.)"""
    import ray

    label = _local_label if _started_here else f"the Ray cluster at {ray.get_runtime_context().gcs_address}"
    _check((cpus, what, fix, gpus), ray.cluster_resources(), label)


def _check(require: Requirement, total: Any, label: str) -> None:
    cpus, what, fix, gpus = require
    for kind, need in (("CPU", cpus), ("GPU", gpus)):
        have = total.get(kind)
        if have is None and kind == "GPU" and not _started_here:
            continue  # a local Ray's GPUs are detected when it starts: checked then
        if need > float(have or 0.0):
            raise ConfigError(f"{what} needs {need:g} {kind}{'s' if need != 1 else ''} but {label} has "
                              f"{float(have or 0.0):g}; {fix}")


def agent_requirement(config: Any, runtime: Any = None) -> Requirement | None:
    """What an agent config and its run's runtime switches ask Ray for: one CPU per rollout worker
    (``runtime.workers=N``) or per A3C gradient worker (``backend=ray``; its parameter server asks for
    none). None when it starts no actors."""
    def get(key: str, default: Any = None, node: Any = config) -> Any:
        return node.get(key, default) if hasattr(node, "get") else getattr(node, key, default)

    if get("backend") == "ray":
        cpus, what = int(get("n_workers", 0) or 0), f"agent.n_workers={get('n_workers')} (A3C's Ray gradient workers)"
    else:
        cpus = int(get("workers", 0, runtime) or 0) if runtime is not None else 0
        what = f"runtime.workers={cpus} (one Ray actor per rollout worker)"
    if not cpus:
        return None
    return (cpus, what, "use fewer workers, or more CPUs (ray.num_cpus=N for a Ray started here)", 0.0)


def require_agent_cpus(config: Any, runtime: Any = None) -> None:
    """:func:`require_resources` for an agent's own Ray actors (see :func:`agent_requirement`)."""
    requirement = agent_requirement(config, runtime)
    if requirement is not None:
        require_resources(*requirement)


# ------------------------------------------------------------------------- what this library started
def _records_dir() -> Path:
    return Path(os.environ.get("RLSUITE_RAY_RECORDS") or Path(tempfile.gettempdir()) / f"rlsuite-ray-{os.getuid()}")


def _record_path(driver_pid: int) -> Path:
    return _records_dir() / f"{driver_pid}.json"


def record_instance(driver_pid: int, pids: list[int], session_dir: str | None = None) -> Path:
    """Write the record of a Ray instance started by ``driver_pid``: the PID and start time of the driver
    and of each of ``pids``, and Ray's session directory (for the reader). Returns its path."""
    import psutil

    def entry(pid: int) -> dict[str, Any] | None:
        try:
            return {"pid": pid, "create_time": psutil.Process(pid).create_time()}
        except psutil.NoSuchProcess:
            return None

    driver = entry(driver_pid)
    processes = [e for e in map(entry, pids) if e is not None]
    path = _record_path(driver_pid)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"driver": driver, "session_dir": session_dir, "processes": processes}))
    return path


def record_started_instance(since: float) -> Path | None:
    """Record the Ray just started by this process: its descendants created since ``since`` (GCS, raylet,
    monitors and the raylet's agents, which exist once ``ray.init`` returns)."""
    import psutil
    import ray

    node: Any = getattr(ray._private.worker, "_global_node", None)  # Ray's own handle on what it started
    session_dir = node.get_session_dir_path() if node is not None else None
    me = psutil.Process()
    pids = []
    for child in me.children(recursive=True):
        try:
            if child.create_time() >= since - 1.0:
                pids.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    try:
        return record_instance(me.pid, pids, session_dir)
    except OSError as err:  # an unwritable temp dir costs only the clean-up after a SIGKILL
        print(f"rlsuite: warning: cannot record the Ray processes started here ({err})", file=sys.stderr)
        return None


def _same_process(entry: dict[str, Any] | None) -> Any:
    """The live ``psutil.Process`` an entry names (same PID and start time), else None."""
    import psutil

    if not entry:
        return None
    try:
        proc = psutil.Process(int(entry["pid"]))
        if abs(proc.create_time() - float(entry["create_time"])) < 0.5 and proc.status() != psutil.STATUS_ZOMBIE:
            return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError, TypeError, ValueError):
        return None
    return None


def stop_abandoned_instances(timeout: float = 5.0) -> list[int]:
    """SIGKILL the recorded processes of every Ray instance whose driver is gone (a SIGKILLed run), as
    ``ray stop --force`` would (they ignore SIGTERM while they wait out the GCS timeout), and drop those
    records. A PID counts only with its recorded start time. Returns the PIDs stopped."""
    import psutil

    stopped: list[Any] = []
    for path in sorted(_records_dir().glob("*.json")) if _records_dir().is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            continue
        if _same_process(record.get("driver")) is not None:
            continue  # a live run's Ray
        for entry in record.get("processes", []):
            proc = _same_process(entry)
            if proc is not None:
                try:
                    proc.kill()
                    stopped.append(proc)
                except psutil.NoSuchProcess:
                    continue
        path.unlink(missing_ok=True)
    psutil.wait_procs(stopped, timeout=timeout)
    return [proc.pid for proc in stopped]


_RAY_PROCESS_MARKERS = ("raylet", "gcs_server", "ray::", "default_worker.py", "ray/dashboard", "log_monitor.py",
                        "ray/_private/monitor.py", "autoscaler/_private/monitor.py", "runtime_env/agent",
                        "dashboard_agent", "ray_client_server")


def ray_processes(since: float | None = None) -> list[int]:
    """PIDs of this user's Ray processes (raylet, GCS, workers, agents), only those started at or after
    ``since`` (a ``time.time()``) when given: what :func:`shutdown` should have left none of. For
    inspection (tests, benchmarks); nothing is stopped by this list."""
    import psutil

    me = os.getuid()
    found = []
    for proc in psutil.process_iter(["pid", "uids", "cmdline", "create_time", "name"]):
        try:
            info = proc.info
            if info["uids"] is None or info["uids"].real != me or info["pid"] == os.getpid():
                continue
            if since is not None and info["create_time"] < since - 1.0:
                continue
            text = " ".join(info["cmdline"] or []) + " " + (info["name"] or "")
            if any(marker in text for marker in _RAY_PROCESS_MARKERS):
                found.append(int(info["pid"]))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def wait_for_no_ray_processes(since: float | None = None, timeout: float = 10.0) -> list[int]:
    """:func:`ray_processes` after giving exiting processes up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = ray_processes(since)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)
