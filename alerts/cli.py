"""`anju route`: the alert router."""


def register(cli) -> None:  # type: ignore[no-untyped-def]
    pass
