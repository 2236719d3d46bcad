"""`anju console`: the web console."""


def register(cli) -> None:  # type: ignore[no-untyped-def]
    pass
