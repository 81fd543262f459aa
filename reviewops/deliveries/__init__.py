"""The delivery lifecycle: a GitHub webhook from intake to its final status.

API side: `payload_facts` (the five fields the intake reads), `intake` and `group_commit` (stored before
the 202), `outbox` (stored but not on the broker: put back). Worker side: `processing` (claim, route,
record), `routing` and `handlers/` (one module per event family; `tenants` keeps installations current),
`recovery` and `redelivery` (deliveries GitHub failed to send, asked for again).
"""
