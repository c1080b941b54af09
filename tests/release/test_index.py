"""Reading an index's simple API: which versions of together-queue it already serves."""

from __future__ import annotations

import json

import pytest
from releasing.index import (
    check_credentials_transport,
    published_versions,
    simple_index_url,
    versions_from_page,
)
from releasing.project import Refused, ReleaseError

from tests.cli.fake_server import Answer, Responder, Seen, fake_server
from tests.support.scripted_server import Reply, scripted_server

# The shape pypiserver 2 serves (relative links, hash fragments).
PYPISERVER_HTML = """<!DOCTYPE html><html><head><title>Links for together-queue</title></head>
<body><h1>Links for together-queue</h1>
<a href="../../packages/together_queue-0.1.0-py3-none-any.whl#sha256=ab12"
  >together_queue-0.1.0-py3-none-any.whl</a><br>
<a href="../../packages/together_queue-0.1.0.tar.gz#sha256=cd34"
  >together_queue-0.1.0.tar.gz</a><br>
<a href="../../packages/together-queue-0.2.0rc1.tar.gz#sha256=ef56"
  >together-queue-0.2.0rc1.tar.gz</a><br>
</body></html>"""
# PyPI-style absolute links with attributes and entities; one unrelated file.
PYPI_HTML = """<html><body>
<a href="https://files.example.invalid/aa/together_queue-1.0-py3-none-any.whl#sha256=00"
   data-requires-python="&gt;=3.11">together_queue-1.0-py3-none-any.whl</a>
<a href="https://files.example.invalid/bb/other_pkg-9.9.tar.gz">other_pkg-9.9.tar.gz</a>
<a href="https://files.example.invalid/cc/together_queue-1.1.0.zip">together_queue-1.1.0.zip</a>
<a href="https://files.example.invalid/dd/README.txt">README.txt</a>
</body></html>"""


def test_versions_from_pypiserver_html() -> None:
    assert versions_from_page("together-queue", "text/html", PYPISERVER_HTML) == {
        "0.1",  # canonical form of 0.1.0, as the publish check compares them
        "0.2rc1",
    }


def test_versions_from_html_ignore_other_projects_and_non_distributions() -> None:
    assert versions_from_page("together-queue", "text/html; charset=utf-8", PYPI_HTML) == {
        "1",
        "1.1",
    }


def test_versions_from_pep691_json() -> None:
    body = json.dumps(
        {
            "meta": {"api-version": "1.1"},
            "name": "together-queue",
            "files": [
                {"filename": "together_queue-2.0.0-py3-none-any.whl", "url": "x", "hashes": {}},
                {"filename": "together_queue-2.0.0.tar.gz", "url": "y", "hashes": {}},
            ],
        }
    )

    assert versions_from_page("together-queue", "application/vnd.pypi.simple.v1+json", body) == {
        "2"
    }


def test_an_empty_project_page_has_no_versions() -> None:
    assert versions_from_page("together-queue", "text/html", "<html><body></body></html>") == set()


@pytest.mark.parametrize(
    ("repository_url", "simple"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/simple/"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/simple/"),
        ("https://pkgs.example.invalid/repo/legacy/", "https://pkgs.example.invalid/repo/simple/"),
    ],
)
def test_simple_index_url_from_the_upload_url(repository_url: str, simple: str) -> None:
    assert simple_index_url(repository_url) == simple


@pytest.mark.parametrize("bad", ["", "ftp://host/", "127.0.0.1:8080", "https:///nohost"])
def test_simple_index_url_rejects_non_http_urls(bad: str) -> None:
    with pytest.raises(ReleaseError, match="must be http"):
        simple_index_url(bad)


def _index_answering(root_status: int) -> Responder:
    def respond(seen: Seen) -> Answer:
        if seen.path == "/simple/":
            return Answer(root_status, "<html><body></body></html>", "text/html")
        return Answer(404, "not found", "text/plain")

    return respond


def test_a_404_with_a_working_simple_root_means_no_versions() -> None:
    with fake_server(_index_answering(200)) as server:
        assert published_versions(server.url + "/simple/", "together-queue") == set()
    assert [s.path for s in server.seen] == ["/simple/together-queue/", "/simple/"]


def test_an_index_that_404s_everything_is_refused() -> None:
    with fake_server(_index_answering(404)) as server:
        with pytest.raises(Refused, match="--index-url"):
            published_versions(server.url + "/simple/", "together-queue")


def test_a_redirect_to_a_fallback_index_is_refused_with_what_to_do() -> None:
    # pypiserver without --disable-fallback: a name it does not hold goes to another index.
    elsewhere = "https://fallback.example.invalid/simple/together-queue/"
    with scripted_server() as server:
        server.always("GET", "/simple/together-queue/", Reply(303, "", {"Location": elsewhere}))
        with pytest.raises(Refused) as refused:
            published_versions(server.url + "/simple/", "together-queue")

    message = str(refused.value)
    assert "HTTP 303" in message
    assert elsewhere in message
    assert "--disable-fallback" in message
    assert "--index-url" in message
    assert [r.path for r in server.requests] == ["/simple/together-queue/"]  # not followed


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://pkgs.example.invalid/", True),
        ("https://pkgs.example.invalid/", False),
        ("http://127.0.0.1:8080/", False),
        ("http://localhost:8080/", False),
        ("http://[::1]:8080/", False),
    ],
)
def test_the_password_never_goes_over_plain_http_off_this_machine(url: str, refused: bool) -> None:
    env = {"TWINE_PASSWORD": "pw"}
    if refused:
        with pytest.raises(Refused, match="plain http://"):
            check_credentials_transport(url, env)
    else:
        check_credentials_transport(url, env)
    check_credentials_transport(url, {})  # no password: nothing to protect
