"""Node storage: the only package that imports sqlite_utils."""
