"""Data: dataset rows from files or the hub, splits, few-shot examples and preference pairs."""
