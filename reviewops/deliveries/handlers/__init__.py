"""One module per GitHub event family; each handler returns the delivery's final status."""
