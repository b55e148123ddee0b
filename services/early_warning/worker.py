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
    logging.getLogger(__name__).info("%s: ops endpoints on %s", NAME, ops.url)
    try:
        worker = Worker(ew.app, loglevel=settings.log_level, quiet=True)
        # faust's terminal spinner, kept at WARNING and above, sets the root logger to DEBUG
        # to spin on every record: each of faust's and aiokafka's debug messages would then be
        # made (a tenth of the worker's CPU) and dropped. No spinner: the level is the level.
        worker.spinner = None
        worker.execute_from_commandline()
    finally:
        ops.stop()
