"""The analysis engine: diff parsing, analyzers, ranking. Pure code, no GitHub I/O (see reviewops.reviews).

Entry points: `diff.parse_patch` / `diff.parse_unified_diff` / `diff.from_github_file`,
`config.parse_repo_config` / `config.path_included`, `analyzers.REGISTRY` / `analyzers.build_analyzers`,
`llm.LLMSettings`, `engine.run_review` / `engine.select_for_posting`, `output.comment_body` (and text,
JSON, SARIF renderers). The contract types are in `model`.
"""
