"""GitHub App client: JWT and installation tokens, transport with rate limits, typed REST calls."""
