"""Data sources that produce the data contract (see lingtrace.io.data)."""
