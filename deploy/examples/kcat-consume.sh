#!/usr/bin/env sh
# Read a ComplaintFlow topic with kcat: one JSON object a line, with the message's
# CloudEvents headers ("headers": [name, value, ...]: ce_id, ce_type, ...), "key" and
# "payload" (the JSON value, as a string).
#
#   deploy/examples/kcat-consume.sh complaints.routed.v1            # from the beginning, then follow
#   deploy/examples/kcat-consume.sh complaints.routed.v1 -e         # stop at the end
#   deploy/examples/kcat-consume.sh complaints.routed.v1 -o end     # only what comes next
#
# KAFKA_BOOTSTRAP_SERVERS (default localhost:9092), CF_TOPIC_PREFIX, and for a secured
# cluster CF_KAFKA_SECURITY_PROTOCOL, CF_KAFKA_SASL_MECHANISM, CF_KAFKA_SASL_USERNAME,
# CF_KAFKA_SASL_PASSWORD, CF_KAFKA_SSL_CAFILE are read from the environment.
# Records are read without a consumer group (nothing is committed): a tool for looking.
set -eu
topic="${1:?usage: kcat-consume.sh TOPIC [kcat options]}"
shift
set -- -C -b "${KAFKA_BOOTSTRAP_SERVERS:-localhost:9092}" -t "${CF_TOPIC_PREFIX:-}${topic}" \
  -o beginning -J -q "$@"
if [ -n "${CF_KAFKA_SECURITY_PROTOCOL:-}" ]; then
  set -- "$@" -X "security.protocol=${CF_KAFKA_SECURITY_PROTOCOL}"
fi
if [ -n "${CF_KAFKA_SASL_MECHANISM:-}" ]; then
  set -- "$@" -X "sasl.mechanisms=${CF_KAFKA_SASL_MECHANISM}" \
    -X "sasl.username=${CF_KAFKA_SASL_USERNAME:-}" -X "sasl.password=${CF_KAFKA_SASL_PASSWORD:-}"
fi
if [ -n "${CF_KAFKA_SSL_CAFILE:-}" ]; then
  set -- "$@" -X "ssl.ca.location=${CF_KAFKA_SSL_CAFILE}"
fi
exec kcat "$@"
