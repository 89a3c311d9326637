"""Spec files: the spec models, loading with extends, validation, templates and the JSON Schema."""
