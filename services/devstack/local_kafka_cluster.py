"""A real three-node Apache Kafka (KRaft) cluster on one machine, for proving what the
product does when a broker is lost.

Each node is a `LocalKafka` (same jars, same launcher) acting as broker and controller, in
its own directory with its own ports; the three form one controller quorum. Topics are
replicated three times with two in-sync replicas required, so a write acknowledged by the
cluster (`acks=all`) survives the loss of any one node.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from services.devstack.local_kafka import LocalKafka, _cluster_id
from services.devstack.ports import stop_process

NODES = 3

CLUSTER_PROPERTIES = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "share.coordinator.state.topic.replication.factor": "3",
    "share.coordinator.state.topic.min.isr": "2",
}
"""What a node of the cluster sets over the single broker's properties."""


def _with(properties: str, changes: dict[str, str]) -> str:
    """`properties` with each key of `changes` set to its value (replaced or added)."""
    kept = [line for line in properties.splitlines() if line.split("=", 1)[0] not in changes]
    return "\n".join([*kept, *(f"{k}={v}" for k, v in changes.items())]) + "\n"


def partitions(admin: Any, topics: list[str] | None = None) -> list[dict[str, Any]]:
    """Every partition of `topics` (of every topic when None) as the cluster describes it:
    `leader_id`, `replica_nodes`, `isr_nodes`, ... (`admin`: a `KafkaAdminClient`)."""
    return [p for t in admin.describe_topics(topics) for p in t["partitions"]]


def out_of_sync(admin: Any, topics: list[str] | None = None) -> int:
    """How many partitions of `topics` (of every topic when None) miss an in-sync replica."""
    return sum(
        1 for p in partitions(admin, topics) if set(p["isr_nodes"]) != set(p["replica_nodes"])
    )


class ClusterNode(LocalKafka):
    """One broker+controller of a `LocalKafkaCluster`: node `node_id` among `voters`."""

    def __init__(self, home: Path, node_id: int, *, heap: str) -> None:
        super().__init__(home / f"node-{node_id}", heap=heap)
        self.node_id = node_id
        self.voters = ""

    def _properties(self, log_dir: Path) -> str:
        return _with(
            super()._properties(log_dir),
            {
                "node.id": str(self.node_id),
                "controller.quorum.voters": self.voters,
                **CLUSTER_PROPERTIES,
            },
        )

    def kill(self) -> None:
        """Kill the node at once (SIGKILL: no clean shutdown, no leadership handed over)."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None


class LocalKafkaCluster:
    """Three KRaft nodes in `home/node-N/kafka` (N = 1..3), listening on 127.0.0.1 only.

    `kill(n)` / `stop(n)` take one node down (its data stays); `restart(n)` brings it back on
    the same ports, where it catches up with the others.
    """

    def __init__(self, home: Path, *, heap: str = "320m") -> None:
        self.home = home.resolve()
        self.nodes = {n: ClusterNode(self.home, n, heap=heap) for n in range(1, NODES + 1)}
        voters = ",".join(f"{n}@127.0.0.1:{k.controller_port}" for n, k in self.nodes.items())
        cluster_id = _cluster_id()
        for node in self.nodes.values():
            node.voters = voters
            node.cluster_id = cluster_id

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes.values())

    def start(self, timeout: float = 120) -> LocalKafkaCluster:
        """Launch every node, then wait until each serves (they need each other's votes)."""
        try:
            for node in self.nodes.values():
                node.launch()
            for node in self.nodes.values():
                node.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def admin(self) -> Any:
        """A `KafkaAdminClient` on the cluster (any node that answers); the caller closes it."""
        from kafka import KafkaAdminClient

        servers = self.bootstrap.split(",")
        return KafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=5000)

    def leader(self, topic: str, partition: int = 0) -> int:
        """The node leading `topic`'s `partition` now."""
        admin = self.admin()
        try:
            found = [p for p in partitions(admin, [topic]) if p["partition_index"] == partition]
        finally:
            admin.close()
        if not found or found[0]["leader_id"] not in self.nodes:
            raise RuntimeError(f"{topic} partition {partition} has no leader on this cluster")
        return int(found[0]["leader_id"])

    def wait_in_sync(self, timeout: float = 120) -> float:
        """Wait until every partition of every topic has all of its replicas in sync again;
        the seconds it took. RuntimeError (with how many still lag) after `timeout`."""
        from kafka.errors import KafkaError

        began = time.monotonic()
        lagging = -1
        while time.monotonic() - began < timeout:
            try:
                admin = self.admin()
                try:
                    lagging = out_of_sync(admin)
                finally:
                    admin.close()
            except (KafkaError, OSError):
                lagging = -1  # a node still electing or loading: ask again
            if lagging == 0:
                return time.monotonic() - began
            time.sleep(0.5)  # polling the cluster's own view, not waiting on a guess
        said = "unknown" if lagging < 0 else str(lagging)
        raise RuntimeError(f"partitions out of sync after {timeout:.0f} s: {said}")

    def kill(self, node_id: int) -> None:
        self.nodes[node_id].kill()

    def restart(self, node_id: int, timeout: float = 120) -> None:
        self.nodes[node_id].start(timeout)

    def stop(self, node_id: int | None = None, timeout: float = 60) -> None:
        """Stop one node, or every node this object started (SIGTERM, then SIGKILL)."""
        chosen = [self.nodes[node_id]] if node_id is not None else list(self.nodes.values())
        running = [node for node in chosen if node.proc is not None]
        for node in running:  # all at once: the last one alone would wait for its quorum
            assert node.proc is not None
            node.proc.send_signal(signal.SIGTERM)
        for node in running:
            assert node.proc is not None
            stop_process(node.proc.pid, signal.SIGTERM, timeout)
            node.proc = None
