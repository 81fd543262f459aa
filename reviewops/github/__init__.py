"""GitHub App client (JWT, installation tokens, rate limits) and the review pipeline that posts results."""
