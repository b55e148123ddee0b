"""`complaintflow.client`: the call centers' Python client (implemented in `services.client`)."""

from services.client import ComplaintFlowClient, Submitted

__all__ = ["ComplaintFlowClient", "Submitted"]
