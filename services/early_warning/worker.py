"""`complaintflow worker early_warning`: the faust app beside the ops endpoints every worker
serves (`/metrics`, `/healthz`, `/readyz`, `/statusz` from the kernel's own server, so the ops
contract is the same as the other workers'; faust's web server stays off)."""

from __future__ import annotations

import logging

from faust import Worker
from prometheus_client import CollectorRegistry

from schemas.registry import REGISTERED, ROUTED
from services.early_warning.app import NAME, EarlyWarningApp
from services.early_warning.metrics import EarlyWarningMetrics
from services.early_warning.settings import EarlyWarningSettings
from services.kernel.handler import Handler
from services.kernel.ops_http import OpsServer
from services.kernel.settings import Settings


class EarlyWarning(Handler):
    """What the worker registry, the topic catalog and the manifests read of this worker; it
    runs on its own runtime (`runtime`), not the kernel's loop."""

    name = NAME
    inputs = (REGISTERED, ROUTED)
    settings_class = EarlyWarningSettings
    metrics_class = EarlyWarningMetrics

    @staticmethod
    def runtime(settings: Settings) -> None:
        run(EarlyWarningSettings.of(settings))


def run(settings: EarlyWarningSettings) -> None:
    registry = CollectorRegistry()
    ew = EarlyWarningApp(settings, registry)
    ops = OpsServer(
        registry,
        host=settings.metrics_host,
        port=settings.metrics_port,
        healthy=ew.healthy,
        ready=ew.ready,
        worker=NAME,
    ).start()
    ew.flow.ready.set_function(lambda: 1.0 if ew.ready() else 0.0)
    log = logging.getLogger(__name__)
    log.info("%s: ops endpoints on %s", NAME, ops.url)
    try:
        # The logging `complaintflow worker` set up (its form and CF_LOG_LEVEL) stays: faust's
        # would replace it with lines of faust's own form on stdout, not CF_LOG_FORMAT's.
        worker = Worker(ew.app, quiet=True, override_logging=False)
        # faust's terminal spinner would end the start with terminal control characters on
        # stdout (into the log, ahead of the next line) and log no "Ready".
        worker.spinner = None
        worker.execute_from_commandline()
    finally:
        ops.stop()
        log.info("%s stopped", NAME)
