"""A small shop: orders, stock and reports over HTTP, kept in PostgreSQL."""
