"""File contracts between stages, and atomic writes."""
