"""The deployment's web server: the one place that assembles the REST API (api/) and the web console
(console/) into one app and serves it. api and console do not import each other; both sit on control/.
"""
