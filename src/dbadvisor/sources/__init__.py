"""Sources: where a schema (and its statistics) comes from: a live database, a saved report read back
for the acting stages, and, as they land, a migrations folder replayed into a shadow database, a
snapshot file and ORM models."""
