"""A real single-node Apache Kafka (KRaft) for the local stack, from jars on Maven Central.

The jars are resolved by Maven from the checked-in `deploy/kafka/pom.xml` into a cache
outside the repository, so only the first start downloads anything.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

from services.devstack.ports import alive, free_port, port_free, stop_process
from services.devstack.tls import make_server_tls

REPO_ROOT = Path(__file__).resolve().parents[2]
POM = Path(os.environ.get("CF_KAFKA_POM", REPO_ROOT / "deploy" / "kafka" / "pom.xml"))
TOOLS_POM = POM.parent / "tools-pom.xml"
LOG4J = POM.parent / "log4j2.xml"
CACHE = Path(os.environ.get("CF_CACHE_DIR", Path.home() / ".cache" / "complaintflow"))

SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={log_dir}
num.partitions=6
num.network.threads=2
num.io.threads=4
default.replication.factor=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.segment.bytes=104857600
log.retention.check.interval.ms=300000
"""
SASL_SSL_PROPERTIES = """\
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port},\
SASL_SSL://127.0.0.1:{sasl_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port},SASL_SSL://127.0.0.1:{sasl_port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
ssl.client.auth=none
"""
"""Replaces the listener lines when a SASL_SSL listener is wanted (SCRAM-SHA-512 over TLS)."""
SASL_MECHANISM = "SCRAM-SHA-512"


def kafka_version() -> str:
    """The Apache Kafka version the pom pins."""
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if not found:
        raise RuntimeError(f"{POM}: no <kafka.version> property")
    return found.group(1)


def ensure_jars(progress: bool = True) -> Path:
    """The directory of the broker's jars, fetched through Maven on first use."""
    return _fetch(POM, "libs", "jars", progress)


def ensure_tool_jars(progress: bool = True) -> Path:
    """The directory of Kafka's own performance tools (`ProducerPerformance`,
    `ConsumerPerformance`), of the broker's version, fetched through Maven on first use."""
    return _fetch(TOOLS_POM, "tools", "performance tools", progress)


def _fetch(pom: Path, folder: str, what: str, progress: bool) -> Path:
    version = kafka_version()
    libs = CACHE / f"kafka-{version}" / folder
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError(f"Maven (mvn) is needed once to fetch the Kafka {what}")
    if progress:
        print(
            f"Fetching Apache Kafka {version} {what} from Maven Central into {libs} ...", flush=True
        )
    if libs.exists():
        shutil.rmtree(libs)
    subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-Dkafka.version={version}",
            f"-DoutputDirectory={libs}",
            f"-Dmaven.repo.local={CACHE / 'm2'}",
        ],
        check=True,
    )
    marker.touch()
    return libs


def _runs_here(pid: int, directory: Path) -> bool:
    """Whether `pid` is a live broker started on `directory` (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return alive(pid) and "kafka.Kafka" in cmdline and str(directory) in cmdline


def _cluster_id() -> str:
    """A Kafka cluster id (base64url UUID) that cannot be mistaken for an option."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


class LocalKafka:
    """One KRaft broker+controller in `home/kafka`, listening on 127.0.0.1 only.

    With `sasl_ssl`, a second listener takes SASL/SCRAM-SHA-512 over TLS: its certificate is
    issued by a CA made in `home/kafka/tls` (`ca.pem` is what clients trust), its one user
    and password are made on the first start (`sasl_user`, `sasl_password`).
    """

    def __init__(self, home: Path, *, heap: str = "768m", sasl_ssl: bool = False) -> None:
        self.dir = home.resolve() / "kafka"
        self.heap = heap
        self.sasl_ssl = sasl_ssl
        self.proc: subprocess.Popen[bytes] | None = None
        self.cluster_id: str | None = None
        """The id the data directory is formatted with (a random one when unset)."""
        ports_file = self.dir / "ports.json"
        saved = json.loads(ports_file.read_text()) if ports_file.exists() else {}

        def port_of(name: str) -> int:
            port = saved.get(name)
            return int(port) if port and port_free(port) else free_port()

        self.port = port_of("port")
        self.controller_port = port_of("controller_port")
        self.sasl_port = port_of("sasl_port") if sasl_ssl else None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap(self) -> str:
        """The SASL_SSL listener (when started with `sasl_ssl`)."""
        if self.sasl_port is None:
            raise RuntimeError("this broker has no SASL_SSL listener")
        return f"127.0.0.1:{self.sasl_port}"

    @property
    def ca_file(self) -> Path:
        return self.dir / "tls" / "ca.pem"

    def _sasl_credentials(self) -> tuple[str, str]:
        path = self.dir / "sasl.json"
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(
                json.dumps({"user": "complaintflow", "password": secrets.token_urlsafe(24)})
            )
        saved = json.loads(path.read_text())
        return saved["user"], saved["password"]

    @property
    def sasl_user(self) -> str:
        return self._sasl_credentials()[0]

    @property
    def sasl_password(self) -> str:
        return self._sasl_credentials()[1]

    def _properties(self, log_dir: Path) -> str:
        text = SERVER_PROPERTIES.format(
            port=self.port, controller_port=self.controller_port, log_dir=log_dir
        )
        if self.sasl_port is None:
            return text
        tls = make_server_tls(self.dir / "tls")
        secure = SASL_SSL_PROPERTIES.format(
            port=self.port,
            controller_port=self.controller_port,
            sasl_port=self.sasl_port,
            keystore=tls.keystore,
        )
        kept = [
            line
            for line in text.splitlines()
            if not line.startswith(("listeners=", "advertised.listeners=", "listener.security"))
        ]
        return "\n".join([*kept, secure])

    def start(self, timeout: float = 90) -> LocalKafka:
        self.launch()
        self.wait_ready(timeout)
        return self

    def launch(self) -> None:
        """Start the broker process without waiting for it to serve (a cluster's nodes are
        launched together: none is ready before a majority of its controllers runs)."""
        libs = ensure_jars()
        self.dir.mkdir(parents=True, exist_ok=True)
        ports = {"port": self.port, "controller_port": self.controller_port}
        if self.sasl_port is not None:
            ports["sasl_port"] = self.sasl_port
        (self.dir / "ports.json").write_text(json.dumps(ports))
        log_dir = self.dir / "data"
        props = self.dir / "server.properties"
        props.write_text(self._properties(log_dir))
        pid_file = self.dir / "kafka.pid"
        if pid_file.exists() and _runs_here(int(pid_file.read_text() or 0), self.dir):
            # Two brokers on one log directory corrupt its metadata: refuse instead.
            raise RuntimeError(
                f"a broker (pid {pid_file.read_text()}) already runs on {self.dir}; "
                "stop it first (`complaintflow stack down`)"
            )
        java = shutil.which("java") or "java"
        classpath = f"{libs}/*"
        if not (log_dir / "meta.properties").exists():
            scram: list[str] = []
            if self.sasl_port is not None:  # KRaft takes its first SCRAM users when formatted
                user, password = self._sasl_credentials()
                scram = ["--add-scram", f"{SASL_MECHANISM}=[name={user},password={password}]"]
            subprocess.run(
                [
                    java,
                    "-cp",
                    classpath,
                    f"-Dlog4j2.configurationFile={LOG4J}",
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    self.cluster_id or _cluster_id(),
                    "-c",
                    str(props),
                    "--ignore-formatted",
                    *scram,
                ],
                check=True,
                capture_output=True,
            )
        log = open(self.dir / "broker.log", "ab")  # noqa: SIM115 - owned by the child process
        self.proc = subprocess.Popen(
            [
                java,
                "-Xms256m",
                f"-Xmx{self.heap}",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-Djava.awt.headless=true",
                "-Dlog4j2.shutdownHookEnabled=false",
                f"-Dlog4j2.configurationFile={LOG4J}",
                f"-Dkafka.logs.dir={self.dir}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(props),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        pid_file.write_text(str(self.proc.pid))

    def stop(self, timeout: float = 60) -> None:
        """Stop the broker this object started (SIGTERM, SIGKILL after `timeout`); its data
        stays, and `LocalKafka(home).start()` brings it back on the same ports."""
        if self.proc is not None:
            stop_process(self.proc.pid, signal.SIGTERM, timeout)
            self.proc = None

    def wait_ready(self, timeout: float) -> None:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"Kafka exited with {self.proc.returncode}; see {self.dir / 'broker.log'}"
                )
            if port_free(self.port):  # not listening yet: ask again without client noise
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kafka not listening after {timeout:.0f}s")
                time.sleep(0.2)
                continue
            try:
                admin = KafkaAdminClient(
                    bootstrap_servers=[self.bootstrap], request_timeout_ms=3000
                )
                try:
                    admin.list_topics()
                    return
                finally:
                    admin.close()
            except (KafkaError, OSError, ValueError):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"Kafka not ready after {timeout:.0f}s; see {self.dir / 'broker.log'}"
                    ) from None
                time.sleep(0.3)
