"""SLA timer: durable deadlines per complaint and target, warnings, breaches, escalation."""
