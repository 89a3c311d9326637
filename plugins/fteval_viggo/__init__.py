"""fteval_viggo plugin package."""
