"""ComplaintFlow services: the shared runtime and one package per worker."""
