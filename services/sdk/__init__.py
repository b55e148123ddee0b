"""The importable name call centers use: `complaintflow` (see `complaintflow.client`).

pyproject maps the top-level package `complaintflow` to this directory, so
`from complaintflow.client import ComplaintFlowClient` works once ComplaintFlow is installed.
"""
