"""The REST API (FastAPI) over the control plane's service functions, versioned under /api/v1."""
