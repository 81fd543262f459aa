"""Print the README's settings table from the Settings class, so the docs cannot drift from the code."""

import sys
from pathlib import Path

from reviewops.settings import Settings


def table() -> str:
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = "see meaning" if name == "database_url" else "empty"
        else:
            default = "unset" if field.default is None else f"`{field.default}`"
        rows.append(f"| `REVIEWOPS_{name.upper()}` | {default} | {field.description} |")
    return "\n".join(rows)


START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def write(readme: Path) -> None:
    text = readme.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table()}\n{END}{tail}")


if __name__ == "__main__":
    if "--write" in sys.argv:
        write(Path(__file__).resolve().parent.parent / "README.md")
    else:
        print(table())
