"""The HTTP API: FastAPI app factory, routers per resource, auth and roles, error mapping."""
