"""`reviewops operator`: the ReviewPolicy operator, i.e. `kopf run --standalone -A -m reviewpolicy`."""

from __future__ import annotations

from typing import Annotated

import typer

from reviewops.cli.common import settings_or_exit


def operator(
    namespace: Annotated[
        list[str] | None,
        typer.Option(
            "--namespace",
            "-n",
            help="Watch only this namespace (repeatable; needs only a namespaced Role). Default: all.",
        ),
    ] = None,
) -> None:
    """Run the ReviewPolicy operator (kopf, standalone): scaling, live limits, DLQ replay Jobs."""
    settings = settings_or_exit()
    if settings.redis_url is None:
        typer.echo("error: REVIEWOPS_REDIS_URL: required by `reviewops operator`", err=True)
        raise typer.Exit(2)
    for ns in namespace or []:
        if not ns or ns != ns.strip() or "/" in ns:
            typer.echo(f"error: --namespace: {ns!r} is not a namespace name", err=True)
            raise typer.Exit(2)
    import kopf
    import reviewpolicy  # noqa: F401  (registers the handlers with kopf's default registry)

    kopf.configure(debug=settings.log_level == "DEBUG", verbose=settings.log_level == "DEBUG")
    typer.echo(
        f"ReviewPolicy operator: watching {', '.join(namespace) if namespace else 'all namespaces'}; "
        f"/metrics and /healthz on :{settings.operator_metrics_port}"
    )
    kopf.run(standalone=True, clusterwide=not namespace, namespaces=namespace or ())
