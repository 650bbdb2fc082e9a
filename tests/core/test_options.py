"""The driver's options: every pair of options that cannot be combined is refused with one line and
exit status 2 (driver.INCOMPATIBLE, each pair in turn), and each alone is accepted."""

import pytest

from retrace_bench import driver


def argv_of(option):
    value = driver.EXAMPLE_VALUES.get(option)
    return [option] if value is None else [option, value]


PAIRS = [(option, other) for option, refused, _ in driver.INCOMPATIBLE for other in refused]


@pytest.mark.parametrize("option, other", PAIRS, ids=[f"{a} {b}" for a, b in PAIRS])
def test_each_incompatible_pair_is_refused(option, other, capsys):
    with pytest.raises(SystemExit) as exit_:
        driver.parse_args(argv_of(option) + argv_of(other))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "cannot be combined" in err and option in err and other in err, err


@pytest.mark.parametrize("option", sorted({o for pair in PAIRS for o in pair} - {"--fail-on-regression"}))
def test_each_option_of_the_table_alone_is_accepted(option):
    args = driver.parse_args(argv_of(option))
    assert option in driver.given_options(driver.build_parser(), args)


@pytest.mark.parametrize("value", ["0", "1001", "99999999999999999999"])
def test_rounds_out_of_bounds_are_refused(value, capsys):
    """--rounds is at least 1 and at most facts.MAX_ROUNDS: a huge count is refused, not spun through."""
    with pytest.raises(SystemExit) as stopped:
        driver.parse_args(["--rounds", value])
    assert stopped.value.code == 2 and "--rounds" in capsys.readouterr().err
