"""rlsuite on Ray: one setting moves a command from a laptop to a cluster (``pip install "rlsuite[ray]"``).

:func:`init` is the one entry point. Without an address it starts Ray inside this process's session
on this machine with the CPUs/GPUs it is given (the embedded default); with ``ray.address=<host:port>``
or the ``RAY_ADDRESS`` environment variable it attaches to a running cluster (``ray start --head``,
KubeRay), and then passes no resource arguments (the cluster owns its resources).

What runs on Ray (each module imports Ray; this one only when :func:`init` is called):

* :mod:`.executor` — :class:`~rlsuite.distributed.executor.RayExecutor`, the ``ray`` backend of
  :mod:`rlsuite.executors` (NAS children, sweep members): an actor pool, a dead worker's job resubmitted;
* :mod:`.rollout` — rollout workers for the on-policy agents (``agent.workers=N``);
* A3C's parameter-server backend (``agent.backend=ray``) lives beside A3C, in
  :mod:`rlsuite.agents.a3c.ray_backend`: the framework knows nothing of A3C;
* :mod:`.sweep` — ``rlsuite train -m ... launcher=ray``; :mod:`.tune` — ``rlsuite tune`` (ASHA, PBT).

Shutdown: a Ray instance started here is stopped at interpreter exit (``atexit``), which also runs
after Ctrl-C and after an exception; SIGTERM is turned into a normal exit for the same reason. A
SIGKILLed driver takes its GCS, raylet and workers with it (Ray ties them to the driver with
``PR_SET_PDEATHSIG``), but the raylet's DashboardAgent and RuntimeEnvAgent outlive it by about a
minute (Ray 2.60 here: they see the raylet die within seconds, then exit only 60-75 s later). The next
local :func:`init` (a resumed run, any Ray command of rlsuite) stops such orphans at once:
:func:`orphaned_ray_processes` finds them by their parent (no longer a raylet), so a live Ray
(another run's, a ``ray start --head`` cluster) is never touched, unlike ``ray stop --force``.
:func:`ray_processes` lists this user's Ray processes; the tests and the benchmark check that none survive.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from typing import Any

from rlsuite.config import RayConfig
from rlsuite.errors import ConfigError, RLSuiteError

RaySettings = RayConfig  # the ``ray:`` block of configs/train.yaml


_started_here = False  # whether this process started (and so must stop) the Ray instance


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
    return RaySettings(**values)


def init(cfg: Any = None, **overrides: Any) -> str:
    """Start or attach to Ray (idempotent). Returns the address in use (``"local"`` when started here)."""
    import ray

    settings = settings_from(cfg)
    for key, value in overrides.items():
        setattr(settings, key, value)
    if ray.is_initialized():
        return str(ray.get_runtime_context().gcs_address)
    address = settings.address or os.environ.get("RAY_ADDRESS")
    if address:
        if settings.num_cpus is not None or settings.num_gpus is not None:
            raise ConfigError("ray.num_cpus/ray.num_gpus apply to a Ray started here; a cluster at "
                              f"{address} has its own resources (drop them, or drop the address)")
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError) as err:
            raise RLSuiteError(
                f"cannot attach to the Ray cluster at {address}: {str(err).strip().splitlines()[-1]}. Is it running "
                "(ray start --head)? A cluster with token authentication (Ray's default) also needs "
                "RAY_AUTH_MODE=token here and its token (~/.ray/auth_token or RAY_AUTH_TOKEN)") from err
        return address
    global _started_here
    stopped = stop_orphaned_ray_processes()
    if stopped:
        print(f"rlsuite: stopped {len(stopped)} Ray processes left by a killed run (their raylet was gone)",
              file=sys.stderr)
    # Attach to nothing already running: a stray RAY_ADDRESS is handled above, "local" forces a new one.
    resources: dict[str, Any] = {"num_cpus": settings.num_cpus, "num_gpus": settings.num_gpus}
    ray.init(address="local", include_dashboard=False, log_to_driver=False, configure_logging=False, **resources)
    _started_here = True
    atexit.register(shutdown)
    _stop_on_sigterm()
    return "local"


def shutdown() -> None:
    """Disconnect from Ray; a Ray started by :func:`init` is stopped with its processes. Idempotent."""
    global _started_here
    try:
        import ray
    except ImportError:
        return
    if ray.is_initialized():
        ray.shutdown()
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


_RAY_PROCESS_MARKERS = ("raylet", "gcs_server", "ray::", "default_worker.py", "ray/dashboard", "log_monitor.py",
                        "ray/_private/monitor.py", "autoscaler/_private/monitor.py", "runtime_env/agent",
                        "dashboard_agent", "ray_client_server")


def ray_processes(since: float | None = None) -> list[int]:
    """PIDs of this user's Ray processes (raylet, GCS, workers, agents), only those started at or after
    ``since`` (a ``time.time()``) when given: what :func:`shutdown` should have left none of."""
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


def orphaned_ray_processes() -> list[int]:
    """PIDs of this user's Ray workers and agents (``ray::...``) whose parent is no Ray process: the
    raylet that started them is gone, as after a SIGKILLed driver. A live Ray's workers and agents are
    its raylet's children (their own forked children: a Ray worker's), so they are never listed."""
    import psutil

    ray_pids = set(ray_processes())
    orphans = []
    for pid in ray_pids:
        try:
            proc = psutil.Process(pid)
            title = " ".join(proc.cmdline()) or proc.name()
            if title.startswith("ray::") and proc.ppid() not in ray_pids:
                orphans.append(pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return sorted(orphans)


def stop_orphaned_ray_processes(timeout: float = 5.0) -> list[int]:
    """SIGKILL every :func:`orphaned_ray_processes` (as ``ray stop --force`` would: they already know
    their raylet died and ignore SIGTERM while they wait out the GCS timeout); returns their PIDs."""
    import psutil

    procs = []
    for pid in orphaned_ray_processes():
        try:
            proc = psutil.Process(pid)
            proc.kill()
            procs.append(proc)
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(procs, timeout=timeout)
    return [proc.pid for proc in procs]


def wait_for_no_ray_processes(since: float | None = None, timeout: float = 10.0) -> list[int]:
    """:func:`ray_processes` after giving exiting processes up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = ray_processes(since)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)
