"""proctor."""
