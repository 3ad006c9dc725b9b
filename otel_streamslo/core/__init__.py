"""Shared core: lifecycle, record, proxies, call wrapper, patching. No SDK imports."""
