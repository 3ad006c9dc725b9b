"""One instrumentor package per SDK."""
