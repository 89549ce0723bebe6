"""Records that outlive a workflow: SQLAlchemy 2 models, the async engine, Alembic migrations."""
