"""SLO rules generator: YAML spec -> Sloth-compatible Prometheus recording and alert rules.

``spec`` loads and validates specs, ``render`` turns them into rule groups (pure), ``grafana``
builds the dashboards and ``cli`` writes or checks the generated files.
"""
