"""The developer stack: a local broker, database and worker processes, and their live view."""
