"""When the lb check counts a stopped backend as out of the pool."""

from lab.verify.lb import CHANCE_RUN, CLEAN_RUN, clean_run_length


def test_two_backends_need_a_run_chance_cannot_give() -> None:
    run = clean_run_length(2, 1)
    assert run == 14  # 0.5**14 = 6e-5
    assert 0.5**run <= CHANCE_RUN < 0.5 ** (run - 1)


def test_large_pools_keep_the_floor() -> None:
    assert clean_run_length(10, 1) == 88  # 0.9**88 < 1e-4
    assert clean_run_length(3, 2) == CLEAN_RUN  # (1/3)**10 is already tiny


def test_degenerate_pools() -> None:
    assert clean_run_length(1, 1) == CLEAN_RUN
    assert clean_run_length(2, 0) == CLEAN_RUN
