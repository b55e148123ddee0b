"""`make bench`: throughput and latency of the pipeline against bare Kafka on this machine."""
