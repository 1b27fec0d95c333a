"""One migration per schema change, oldest first (see docs/deployment.md, "Changing the schema")."""
