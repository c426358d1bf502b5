"""Infrastructure shared by the whole package: errors, lazy exports, atomic files and JSON values, YAML, text words,
Markdown tables, TensorBoard logs and the local assets. Import each from its module."""
