"""Single randomized trials: ANCOVA, repeated measures, responders, adherence, power (to come)."""

__all__: list[str] = []
