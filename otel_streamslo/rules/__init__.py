"""SLO rules generator: YAML spec -> Sloth-compatible Prometheus recording and alert rules.

``conventions`` holds the shared names and numbers (windows, burn factors, metric names, SLI
kinds), ``sli`` the PromQL of the SLIs (used by the rules and the dashboards), ``spec`` loads and
validates specs, ``render`` turns them into rule groups (pure), ``grafana`` builds the dashboards
and ``cli`` writes or checks the generated files.
"""
