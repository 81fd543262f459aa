"""The review lifecycle: one review of one pull-request head, from claim to the comments on GitHub.

`runner` (claim → fetch → analyse → post → record), `store` (review and finding rows), `engine` (the
analysis engine wired in), `selection` (which findings go inline, to annotations or only to the
database), `render` and `posting` (what is sent to GitHub), `commands` (replies to PR commands),
`settings` (a tenant's effective review settings), `work` (what the delivery lifecycle hands over).
"""
