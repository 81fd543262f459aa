"""Delivery intake (API side) and processing (worker side), as plain functions both processes share."""
