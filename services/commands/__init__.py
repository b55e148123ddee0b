"""The `complaintflow` command line and the product commands behind it."""
