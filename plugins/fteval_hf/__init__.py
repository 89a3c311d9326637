"""fteval_hf plugin package."""
