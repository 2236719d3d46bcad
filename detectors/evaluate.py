"""The evaluation harness (anju eval)."""


def register(cli) -> None:  # type: ignore[no-untyped-def]
    pass
