"""tongban package."""
