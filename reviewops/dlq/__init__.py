"""The durable dead-letter store: recording failed messages, listing, replaying and purging them.

The CLI (`reviewops dlq ...`) and the admin API call the same service functions.
"""
