"""The ReviewOps worker: dramatiq actors that process stored deliveries."""
