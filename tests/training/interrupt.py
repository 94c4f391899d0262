"""Stopping a training run part-way, as a killed run stops, for the resume tests (CPU and GPU)."""

import contextlib

import pytest

import export.train


class Interrupted(Exception):
    """What stops a run in :func:`interrupted_at`."""


@contextlib.contextmanager
def interrupted_at(iteration):
    """Runs inside stop before their step ``iteration`` (0-based), as a killed run stops: what
    they saved before (checkpoint_every) stays."""
    real = export.train.learning_rate

    def rate(cfg, it):
        if it == iteration:
            raise Interrupted
        return real(cfg, it)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(export.train, "learning_rate", rate)
        with pytest.raises(Interrupted):
            yield
