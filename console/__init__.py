"""The web console: server-rendered pages over the control plane's services, for each account's users.

`console.app.mount_console(app, settings, engine, vault)` adds it to a FastAPI app; server/app.py does, beside
the REST API.
"""
