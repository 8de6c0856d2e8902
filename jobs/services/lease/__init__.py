"""The one mechanism behind every unit a worker claims: a record with a status, a lease and a fencing token."""
