"""fteval_sql plugin package."""
