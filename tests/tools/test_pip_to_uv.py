"""tools/pip_to_uv.py: uv is pointed at exactly the indexes pip is configured with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from pip_to_uv import parse_pip_config, uv_options  # noqa: E402

# Hosts under the reserved .example TLD: no real index is named here.
LISTING = """\
global.cert='/etc/ssl/certs/ca.crt'
global.extra-index-url='file:///opt/one/simple file:///opt/two/simple'
global.find-links='/opt/wheels'
global.index-url='https://global.example/simple'
user.index-url='https://user.example/simple'
:env:.find-links='/srv/env-wheels'
:env:.default-timeout='180'
"""


def test_the_highest_precedence_scope_wins() -> None:
    settings = parse_pip_config(LISTING)
    assert settings["index-url"] == "https://user.example/simple"
    assert settings["find-links"] == "/srv/env-wheels"  # PIP_FIND_LINKS beats pip.conf
    assert settings["cert"] == "/etc/ssl/certs/ca.crt"


def test_a_lower_scope_listed_later_does_not_win() -> None:
    settings = parse_pip_config(":env:.index-url='https://env.example/s'\nglobal.index-url='x'\n")
    assert settings["index-url"] == "https://env.example/s"


def test_underscored_keys_and_noise_lines_are_normalised() -> None:
    text = "global.extra_index_url='file:///a'\nnot a setting\n\n"
    assert parse_pip_config(text) == {"extra-index-url": "file:///a"}


def test_uv_gets_every_index_and_find_links_in_order() -> None:
    options = uv_options(parse_pip_config(LISTING))
    assert options.args == [
        "--default-index",
        "https://user.example/simple",
        "--index",
        "file:///opt/one/simple",
        "--index",
        "file:///opt/two/simple",
        "--find-links",
        "/srv/env-wheels",
        "--index-strategy",
        "unsafe-best-match",
    ]
    assert options.env == {"SSL_CERT_FILE": "/etc/ssl/certs/ca.crt"}


def test_without_pip_configuration_uv_keeps_its_default_index() -> None:
    options = uv_options(parse_pip_config(""))
    assert options.args == ["--index-strategy", "unsafe-best-match"]
    assert options.env == {}


def test_no_index_and_trusted_hosts_carry_over() -> None:
    settings = {"no-index": "true", "trusted-host": "a.example b.example"}
    args = uv_options(settings).args
    assert args[:4] == ["--allow-insecure-host", "a.example", "--allow-insecure-host", "b.example"]
    assert "--no-index" in args


def test_pips_own_listing_parses() -> None:
    """The real `pip config list` of this interpreter is read without error."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    settings = parse_pip_config(done.stdout)
    assert all(key == key.lower() and "_" not in key for key in settings)
