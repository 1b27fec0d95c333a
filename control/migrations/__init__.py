"""The control database's schema migrations (Alembic), shipped inside the package so that
`eventexport db upgrade` works from an installed copy. control/schema.py drives them; versions/ holds one
file per schema change, the first being the schema every database had before migrations existed."""
