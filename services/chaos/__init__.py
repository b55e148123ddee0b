"""`make chaos`: faults injected at random moments under load, then the audit proves nothing
was lost or done twice."""
