"""Generic evaluators (text, regex, choice, json parsers; exact match, accuracy, format rate) and
the ``lookup`` baseline trainer. Registered through entry points like any third-party plugin."""
