"""`complaintflow audit`: proves the books balance after a run — every raw event accounted for
exactly once, every complaint routed and on its SLA clocks, every notice delivered once, and
the archive equal to a fold of the topics."""
