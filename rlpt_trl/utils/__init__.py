"""Infrastructure shared by the whole package: errors, lazy exports, atomic files and JSON values, YAML, text words,
Markdown tables and one-line loading errors. Import each from its module."""
